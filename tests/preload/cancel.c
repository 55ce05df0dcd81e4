/*
 * tests/preload/cancel.c - cancellation, natively and under green with GREEN_MAXPROCS 1, 2
 * and 4 (issue 6): proc_cancel's whole stdout must match (deferred cancellation in
 * condition waits, nanosleep, join, sigwait and read; cancel state and type; asynchronous
 * and self cancellation; cleanup handlers), proc_cancel_cxx's too (C++ destructors on
 * cancellation and pthread_exit), and the contract program cancel must print CANCEL=ok.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 60.0

static void same_output(const char *prog, int maxprocs)
{
	char *path = gr_test_prog(prog);
	const char *argv[] = {path, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, maxprocs, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_ok(&green);
	cr_assert_str_eq(native.out, green.out, "%s MAXPROCS=%d: stdout differs\n%s", prog,
			 maxprocs, gr_test_describe(&green));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

ParameterizedTestParameters(cancel, points)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

ParameterizedTest(int *n, cancel, points, .timeout = 150)
{
	same_output("proc_cancel", *n);
}

ParameterizedTestParameters(cancel, cxx_unwind)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

ParameterizedTest(int *n, cancel, cxx_unwind, .timeout = 150)
{
	same_output("proc_cancel_cxx", *n);
}

ParameterizedTestParameters(cancel, cancel_contract)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* ../shared/progs/cancel blocks threads in sem_wait and accept, which park their Gs: with
 * one P, the others still run and the cancellations arrive. */
ParameterizedTest(int *n, cancel, cancel_contract, .timeout = 150)
{
	char *path = gr_test_shared_prog("cancel");
	const char *argv[] = {path, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, *n, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, "CANCEL", "ok");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "CANCEL", "ok");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}
