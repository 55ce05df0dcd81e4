/*
 * tests/preload/foreign.c - threads green did not create (issue 2, item 8): glibc's own
 * SIGEV_THREAD helper thread blocks on a mutex a G holds, wakes a G from a condition
 * variable, creates and joins a G, and sleeps (tests/progs/foreign).  Same output natively
 * and under green at GREEN_MAXPROCS 1, 2 and 4.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "helpers.h"

ParameterizedTestParameters(foreign, adopted_thread_uses_every_primitive)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, foreign, adopted_thread_uses_every_primitive, .timeout = 60)
{
	const char *args[] = {NULL};
	gr_test_native_vs_green("foreign", args, *procs, "FOREIGN", "ok", true, 20);
}

/* The control words switch with the G: rounding modes set by threads stay theirs across
 * switches, and switch.S's skipped reload (equal words) never leaks one to another G. */
ParameterizedTestParameters(foreign, fp_control_words_are_per_thread)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, foreign, fp_control_words_are_per_thread, .timeout = 60)
{
	const char *args[] = {NULL};
	gr_test_native_vs_green("fpenv", args, *procs, "FPENV", "ok", true, 20);
}
