/*
 * tests/preload/thread_api.c - pthread and C11 thread API semantics under green.
 *
 * tests/progs/thread_api prints one line per API check (join/detach misuse errors, timed
 * and clock joins, every attribute round trip, getattr_np and user stacks, default
 * attributes, names, CPU clocks, scheduling parameters, affinity, once, pthread_exit
 * values and cleanup handlers, pthread_exit from main while a thread runs on), with
 * error numbers by name. tests/progs/c11_threads does the same for <threads.h>.
 * Green's stdout must equal native's exactly, so every line states glibc's own answer;
 * both runs must exit 0 and end with END=ok / C11=ok.  tests/progs/thread_tid checks thread
 * ids: gettid() and syscall(SYS_gettid) (the pid in main and in a forked child), and
 * tgkill / tkill by those ids.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "helpers.h"

ParameterizedTestParameters(thread_api, pthread_same_as_native)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, thread_api, pthread_same_as_native, .timeout = 60)
{
	gr_test_native_vs_green("thread_api", NULL, *procs, "END", "ok", true, 25);
}

ParameterizedTestParameters(thread_api, c11_same_as_native)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, thread_api, c11_same_as_native, .timeout = 60)
{
	gr_test_native_vs_green("c11_threads", NULL, *procs, "C11", "ok", true, 25);
}

ParameterizedTestParameters(thread_api, tids_same_as_native)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, thread_api, tids_same_as_native, .timeout = 60)
{
	gr_test_native_vs_green("thread_tid", NULL, *procs, "TID", "ok", true, 25);
}
