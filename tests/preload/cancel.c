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

/* True when libgreen.so exports sym (read with nm: loading the library here would start
 * green inside the test process). */
static bool green_defines(const char *sym)
{
	char cmd[512], line[256];
	bool r = false;

	snprintf(cmd, sizeof cmd, "nm -D --defined-only %s", GR_LIB);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof line, p)) {
		char *name = strrchr(line, ' ');
		if (name && strncmp(name + 1, sym, strlen(sym)) == 0 && name[1 + strlen(sym)] == '\n')
			r = true;
	}
	pclose(p);
	return r;
}

ParameterizedTestParameters(cancel, cancel_contract)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* ../shared/progs/cancel blocks threads in sem_wait and accept: until green parks them
 * (the sync and netpoller work) each blocks an M with its P, and with fewer Ps than such
 * threads nothing else runs. */
ParameterizedTest(int *n, cancel, cancel_contract, .timeout = 150)
{
	if (*n < 4 && !(green_defines("sem_wait") && green_defines("accept")))
		cr_skip("sem_wait or accept is not interposed in this build (sync, netpoller work)");
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
