/*
 * tests/preload/sync.c - the synchronization families under LD_PRELOAD (issue 3).
 *
 * sync_api prints glibc's answer for every error code and semantic check of mutexes
 * (every kind, static initializers, robust, priority ceiling), condvars, rwlocks,
 * barriers, spinlocks, once, semaphores (unnamed and named), process-shared objects and
 * C11 threads: its whole stdout under green must equal the native run's, with
 * GREEN_MAXPROCS 1, 2 and 4.  sync_stress, sync_cxx (libstdc++) and sync_rust (Rust std,
 * through the futex emulation) hammer each family with many threads and must report
 * exact counts (check=ok); a lost wake-up hangs them, which the deadline catches.
 * sync_pshared shares process-shared objects and a named semaphore with a child process,
 * native (mutex and semaphores: glibc's protocol) or under green (every object).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 60.0

/* The first line where a and b differ, for the failure message. */
static char *first_diff(const char *a, const char *b)
{
	static char buf[512];
	int line = 1;
	while (*a && *a == *b) {
		if (*a == '\n')
			line++;
		a++;
		b++;
	}
	while (line > 1 && a[-1] != '\n') {
		a--;
		b--;
	}
	snprintf(buf, sizeof buf, "line %d: native \"%.*s\" green \"%.*s\"", line,
		 (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
	return buf;
}

ParameterizedTestParameters(sync, api_matches_glibc)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

ParameterizedTest(int *procs, sync, api_matches_glibc, .timeout = 150)
{
	char *path = gr_test_prog("sync_api");
	const char *argv[] = {path, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, *procs, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "END", "ok");
	cr_assert(strcmp(native.out, green.out) == 0, "MAXPROCS=%d: %s", *procs,
		  first_diff(native.out, green.out));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

struct stress_case {
	const char *prog;
	const char *args[3];
	int procs;
};

#define STRESS(p, a, b) {p, {a, b, NULL}, 1}, {p, {a, b, NULL}, 2}, {p, {a, b, NULL}, 4}
static const struct stress_case stress[] = {
	STRESS("sync_stress", "64", "3000"),
	STRESS("sync_stress", "2", "20000"),
	STRESS("sync_cxx", "16", "2000"),
	STRESS("sync_rust", "16", "2000"),
	STRESS("sync_pshared", "native", "2000"), /* with a native glibc child */
	STRESS("sync_pshared", "same", "2000"),	  /* with a green child */
};
#define NSTRESS ((int)(sizeof stress / sizeof stress[0]))

ParameterizedTestParameters(sync, stress_exact)
{
	static int idx[NSTRESS];
	for (int i = 0; i < NSTRESS; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, NSTRESS);
}

ParameterizedTest(int *i, sync, stress_exact, .timeout = 120)
{
	const struct stress_case *c = &stress[*i];
	char *path = malloc(strlen(GR_TEST_PROGS) + strlen(c->prog) + 2);
	sprintf(path, "%s/%s", GR_TEST_PROGS, c->prog);
	if (access(path, X_OK) != 0)
		cr_skip("%s not built (rustc missing?)", c->prog);
	const char *argv[] = {path, c->args[0], c->args[1], NULL};
	struct gr_test_result green = {0};

	gr_test_need_lib();
	char procs[32];
	snprintf(procs, sizeof procs, "%d", c->procs);
	gr_test_run_green(argv, c->procs, NULL, RUN_TIMEOUT_S, &green);
	cr_log_info("%s %s %s MAXPROCS=%s: %.2f s", c->prog, c->args[0], c->args[1], procs,
		    green.wall_s);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "check", "ok");
	gr_test_result_free(&green);
	free(path);
}
