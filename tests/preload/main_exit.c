/*
 * tests/preload/main_exit.c - pthread_exit from main while other threads park, sleep and
 * create threads: the process lives until the last one ends and exits 0, as with glibc.
 * Regression: with GREEN_MAXPROCS=1 the P handed on by main's M was still marked running
 * and the M taking it aborted (issue 2).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "helpers.h"

ParameterizedTestParameters(main_exit, process_lives_until_last_thread)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, main_exit, process_lives_until_last_thread, .timeout = 60)
{
	const char *args[] = {NULL};
	gr_test_native_vs_green("main_exit", args, *procs, "after_main_exit", "ok", true, 20);
}
