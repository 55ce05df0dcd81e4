/*
 * tests/preload/process.c - fork, exec, spawn and the ways a process ends, natively and
 * under green with GREEN_MAXPROCS 1, 2 and 4 (issue 6).
 *
 * proc_fork prints facts only (counts, exit statuses), so its whole stdout must be the
 * same under green as natively; proc_exit must end the same way (exit code or signal)
 * and print the same lines.  The contract program fork_threads must print FORK=ok.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 60.0

static void same_output(const char *prog, const char *arg, int maxprocs)
{
	char *path = gr_test_prog(prog);
	const char *argv[] = {path, arg, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, maxprocs, NULL, RUN_TIMEOUT_S, &native, &green);
	cr_assert(!native.timed_out && !green.timed_out, "%s %s: timed out\n%s\n%s", prog,
		  arg ? arg : "", gr_test_describe(&native), gr_test_describe(&green));
	cr_assert_eq(native.exit_code, green.exit_code, "%s %s: exit %d natively, %d under green\n%s",
		     prog, arg ? arg : "", native.exit_code, green.exit_code,
		     gr_test_describe(&green));
	cr_assert_eq(native.term_signal, green.term_signal,
		     "%s %s: signal %d natively, %d under green\n%s", prog, arg ? arg : "",
		     native.term_signal, green.term_signal, gr_test_describe(&green));
	cr_assert_str_eq(native.out, green.out, "%s %s MAXPROCS=%d: stdout differs\n%s", prog,
			 arg ? arg : "", maxprocs, gr_test_describe(&green));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

ParameterizedTestParameters(process, fork_exec_spawn)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* Fork while threads hold mutexes, sleep, wait and read; fork from a thread on another M;
 * fork in a child; atfork handlers on the forking thread; exec, posix_spawn, popen,
 * system and vfork from threads. */
ParameterizedTest(int *n, process, fork_exec_spawn, .timeout = 150)
{
	same_output("proc_fork", NULL, *n);
}

struct exit_case {
	const char *mode;
	int maxprocs;
};

#define EXIT_CASES(m) {m, 1}, {m, 2}, {m, 4}
static const struct exit_case exit_cases[] = {
	EXIT_CASES("exit_thread"),  EXIT_CASES("main_return"), EXIT_CASES("pthread_exit"),
	EXIT_CASES("abort_thread"), EXIT_CASES("segv_thread"), EXIT_CASES("raise_term"),
	EXIT_CASES("kill_process"),
};

ParameterizedTestParameters(process, exit_paths)
{
	static int idx[sizeof exit_cases / sizeof exit_cases[0]];
	for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, sizeof idx / sizeof idx[0]);
}

/* exit() from a thread, main returning, pthread_exit from main, abort, SIGSEGV, raise and
 * kill of a default-action signal: same status and output as natively. */
ParameterizedTest(int *i, process, exit_paths, .timeout = 150)
{
	same_output("proc_exit", exit_cases[*i].mode, exit_cases[*i].maxprocs);
}

ParameterizedTestParameters(process, fork_threads_contract)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* ../shared/progs/fork_threads: FORK=ok under green as natively. */
ParameterizedTest(int *n, process, fork_threads_contract, .timeout = 150)
{
	char *path = gr_test_shared_prog("fork_threads");
	const char *argv[] = {path, "20", "8", NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, *n, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, "FORK", "ok");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "FORK", "ok");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

ParameterizedTestParameters(process, runtime_descriptors_stay_out_of_the_way)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

/* green's own descriptors (the poller's, the unwinder's pipe) are none in a process
 * without threads, never at the low numbers, never across exec, and survive closefrom
 * and dup2 over every number.  libunwind's pipe once sat at 3 and 4 from start-up
 * (CPython's test_pass_fds_redirected saw it in a child). */
ParameterizedTest(int *n, process, runtime_descriptors_stay_out_of_the_way, .timeout = 60)
{
	same_output("proc_fds", NULL, *n);
}
