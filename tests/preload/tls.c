/*
 * tests/preload/tls.c - per-thread state under green: tests/progs/tls (__thread data,
 * errno, pthread_self() == %fs:0x10, TSD destructors with glibc's iteration rule) and
 * tests/progs/cxx_tls (C++ thread_local destructors, exceptions, std::thread, std::mutex
 * and condition_variable, std::async, backtrace()).
 *
 * Each program runs natively and under green with GREEN_MAXPROCS = 1, 2 and 4; both runs
 * must exit 0 with TLS=ok / CXX=ok, and green's stdout must equal native's line for line
 * (every line the programs print is deterministic: counts and ok/FAIL, no addresses).
 * tests/progs/tls_dlopen: the TLS of a module loaded with dlopen, dynamic (libtlsmod) and
 * initial-exec (libtlsie, which glibc initialises only in the threads it knows).
 * tests/progs/tls_many: the TLS of tens and hundreds of modules loaded with dlopen, which
 * G dtvs first hold in G memory and then outgrow (shim/tls.c).  tests/progs/tls_dlmopen:
 * the static TLS of a module in a namespace of its own.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>

#include "helpers.h"

ParameterizedTestParameters(tls, c_tls_native_vs_green)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

/* 64 threads × 20 rounds of cond wait, nanosleep, yield and mutex: they migrate. */
ParameterizedTest(int *procs, tls, c_tls_native_vs_green, .timeout = 90)
{
	const char *args[] = {"64", "20", NULL};
	gr_test_native_vs_green("tls", args, *procs, "TLS", "ok", true, 40);
}

ParameterizedTestParameters(tls, cxx_tls_native_vs_green)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, tls, cxx_tls_native_vs_green, .timeout = 90)
{
	const char *args[] = {"32", "50", NULL};
	gr_test_native_vs_green("cxx_tls", args, *procs, "CXX", "ok", true, 40);
}

ParameterizedTestParameters(tls, dlopen_tls_native_vs_green)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

/* A module's TLS loaded with dlopen, in Gs that reuse exited Gs' memory (green keeps
 * their dtv and rebuilds it as glibc does for a cached stack). */
ParameterizedTest(int *procs, tls, dlopen_tls_native_vs_green, .timeout = 90)
{
	char *mod = gr_test_prog("libtlsmod.so");
	const char *args[] = {mod, "200", "8", NULL};
	gr_test_native_vs_green("tls_dlopen", args, *procs, "TLSDL", "ok", true, 40);
	free(mod);
}

ParameterizedTestParameters(tls, dlopen_static_tls_native_vs_green)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

/* The same with a module of initial-exec TLS: Gs alive across the load read its initial
 * image only because green copies it into them (shim/tls.c). */
ParameterizedTest(int *procs, tls, dlopen_static_tls_native_vs_green, .timeout = 90)
{
	char *mod = gr_test_prog("libtlsie.so");
	const char *args[] = {mod, "50", "8", NULL};
	gr_test_native_vs_green("tls_dlopen", args, *procs, "TLSDL", "ok", true, 40);
	free(mod);
}

struct many {
	int procs;
	int modules;
};

ParameterizedTestParameters(tls, many_modules_native_vs_green)
{
	static struct many params[] = {{1, 40}, {2, 40}, {4, 40}, {2, 600}, {4, 600}};
	return cr_make_param_array(struct many, params, sizeof params / sizeof params[0]);
}

/* 40 modules: past the dtv entries that share the TCB's page.  600: past half the room a
 * G's dtv has, so Gs made after the loads get glibc's dtv while the Gs alive across them
 * keep theirs. */
ParameterizedTest(struct many *m, tls, many_modules_native_vs_green, .timeout = 90)
{
	char *mod = gr_test_prog("libtlsmany.so");
	char modules[16];
	snprintf(modules, sizeof modules, "%d", m->modules);
	const char *args[] = {mod, modules, "10", "8", NULL};
	gr_test_native_vs_green("tls_many", args, m->procs, "TLSMANY", "ok", true, 40);
	free(mod);
}

ParameterizedTestParameters(tls, dlmopen_static_tls_native_vs_green)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

/* A module with initial-exec TLS in a namespace of its own: new and recycled Gs get its
 * image only when green tells ld.so to copy it (_dl_allocate_tls_init's init_tls). */
ParameterizedTest(int *procs, tls, dlmopen_static_tls_native_vs_green, .timeout = 90)
{
	char *mod = gr_test_prog("libtlsie.so");
	const char *args[] = {mod, "100", "8", NULL};
	gr_test_native_vs_green("tls_dlmopen", args, *procs, "TLSDLM", "ok", true, 40);
	free(mod);
}
