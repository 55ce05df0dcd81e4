/*
 * tests/preload/signal.c - signals at thread granularity, natively and under green with
 * GREEN_MAXPROCS 1, 2 and 4 (issue 6): proc_signal's whole stdout must match (pthread_kill
 * of a thread in a condition wait, asleep, busy or blocking the signal; sigwait with
 * kill(); pthread_sigqueue's value; sigsuspend; raise; sigtimedwait's timeout), and the
 * contract program signals must print SIGNALS=ok.  sig_altstack: the alternate signal
 * stack per thread, a stack overflow caught on it, and a handler that blocks.
 * sig_intr_race: a pthread_kill storm on threads handing off through condition variables.
 * sig_runnable: a signal sent to a thread waiting in a run queue.  sig_blocked_wait: one sent
 * to a thread blocked in a lock, barrier, once or futex wait.  sig_m_start: a signal every
 * thread blocks, sent while green starts an M.  sig_suspend_mask: the mask after sigsuspend
 * ran a handler.  gc_boehm: Boehm GC, which stops threads with signals.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 60.0

ParameterizedTestParameters(signal, per_thread)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

ParameterizedTest(int *n, signal, per_thread, .timeout = 150)
{
	char *path = gr_test_prog("proc_signal");
	const char *argv[] = {path, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, *n, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_ok(&green);
	cr_assert_str_eq(native.out, green.out, "MAXPROCS=%d: stdout differs\n%s", *n,
			 gr_test_describe(&green));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

ParameterizedTestParameters(signal, signals_contract)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* ../shared/progs/signals acknowledges each signal with sem_post/sem_timedwait, which park
 * the G: with one P the sender still runs. */
ParameterizedTest(int *n, signal, signals_contract, .timeout = 150)
{
	char *path = gr_test_shared_prog("signals");
	const char *argv[] = {path, "200", NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, *n, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, "SIGNALS", "ok");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "SIGNALS", "ok");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* A process-directed signal that comes while every thread waits interrupts the main
 * thread's read (EINTR, or a restart under SA_RESTART), also when another thread waits
 * with every signal blocked; at its default action it ends the process.  Under green every
 * M was off its G then: the poller's M ran the handler on its scheduler context and the
 * parked reader never woke (CPython's test_signal siginterrupt tests and test_socket's
 * sendall_interrupted hung so).  poll, select and epoll_wait fail with EINTR even under
 * SA_RESTART (green's went on waiting: test_socket's interrupted timeout tests).
 * Parameters: case * 2 + (maxprocs - 1). */
static const char *const waiting_cases[] = {"eintr", "restart", "others", "default",
					    "pause", "poll",	"select", "epoll"};
#define NWAITING ((int)(sizeof waiting_cases / sizeof waiting_cases[0]))

ParameterizedTestParameters(signal, process_signal_while_all_wait)
{
	static int idx[NWAITING * 2];
	for (int i = 0; i < NWAITING * 2; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, NWAITING * 2);
}

ParameterizedTest(int *pi, signal, process_signal_while_all_wait, .timeout = 60)
{
	const char *name = waiting_cases[*pi / 2];
	int maxprocs = *pi % 2 + 1;
	char *path = gr_test_prog("proc_sigwaiting");
	const char *argv[] = {path, name, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, maxprocs, NULL, 20.0, &native, &green);
	if (strcmp(name, "default") == 0) {
		cr_assert_eq(native.term_signal, SIGALRM, "%s", gr_test_describe(&native));
		cr_assert_eq(green.term_signal, SIGALRM, "MAXPROCS=%d\n%s", maxprocs,
			     gr_test_describe(&green));
	} else {
		gr_test_assert_ok(&native);
		gr_test_assert_value(&native, "END", "ok");
		gr_test_assert_ok(&green);
	}
	cr_assert_str_eq(native.out, green.out, "%s MAXPROCS=%d: stdout differs\n%s", name,
			 maxprocs, gr_test_describe(&green));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

struct altstack_case {
	int procs;
	/* Arrays, not pointers: Criterion hands the cases to a worker process by value. */
	char mode[16]; /* sig_altstack's argument */
	char key[16], want[16];
};

ParameterizedTestParameters(signal, altstack)
{
	static struct altstack_case cases[] = {
		{1, "roundtrip", "END", "ok"},	     {2, "roundtrip", "END", "ok"},
		{4, "roundtrip", "END", "ok"},	     {1, "overflow", "overflow", "altstack"},
		{2, "overflow", "overflow", "altstack"}, {4, "overflow", "overflow", "altstack"},
		{1, "park", "park", "ok"},		     {2, "park", "park", "ok"},
		{4, "park", "park", "ok"},
	};
	return cr_make_param_array(struct altstack_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/* The alternate signal stack is per thread, not per M.  roundtrip: sig_altstack's threads
 * set their own (or none), migrate between Ms, and each must keep seeing exactly its own,
 * with the kernel's error codes; its SA_ONSTACK handlers run off the normal stack.
 * overflow: a thread overflows its stack and its SIGSEGV handler, installed with
 * SA_ONSTACK as Rust's std does, reports from an alternate stack and _exit()s (under
 * green, from the M's own).  Regression: sigaltstack used to pass straight to the M, so
 * threads saw each other's stacks, and Rust's std freed a stack still installed on
 * another M (sync_rust crashed with SIGSEGV in a few runs of 100).  park: an SA_ONSTACK
 * handler that blocks (sem_wait, sched_yield) while other threads' handlers fill their
 * stacks, and must find its frame intact and itself on the same kernel thread.
 * Regression: with one alternate stack per M, a parked handler resumed on another M
 * while the first reused the stack (green's preemption handler, parked on libunwind's
 * mutex: syscall_fsync_mix crashed in 10 runs of 55 at MAXPROCS=2; this mode crashed at
 * every MAXPROCS). */
ParameterizedTest(struct altstack_case *c, signal, altstack, .timeout = 150)
{
	char *path = gr_test_prog("sig_altstack");
	const char *argv[] = {path, c->mode, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_need_lib();
	gr_test_run_both(argv, c->procs, NULL, RUN_TIMEOUT_S, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, c->key, c->want);
	gr_test_assert_ok(&green);
	cr_assert_str_eq(native.out, green.out, "%s, MAXPROCS=%d: stdout differs\n%s", c->mode,
			 c->procs, gr_test_describe(&green));
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

ParameterizedTestParameters(signal, kill_storm_on_cond_waits)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* sig_intr_race: a thread pthread_kill()s four ping-ponging pairs as fast as it can, so
 * signals race the ordinary wake-ups of their condition waits.  Regression: green kicked
 * a running thread with one SIGCANCEL per signal sent; the queued kicks nested in their
 * handler (SA_NODEFER) until the thread's stack overflowed (SIGSEGV at every run with
 * MAXPROCS 2 and 4). */
ParameterizedTest(int *n, signal, kill_storm_on_cond_waits, .timeout = 150)
{
	gr_test_native_vs_green("sig_intr_race", NULL, *n, "TURNS", "ok", true, RUN_TIMEOUT_S);
}

ParameterizedTestParameters(signal, to_runnable_thread)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

/* sig_runnable: pthread_kill of a thread waiting in a run queue (preempted) runs its
 * handler when it resumes, and so does one that reaches a thread inside pthread_create.
 * Regressions: neither ran, and the thread, spinning on the flag its handler sets, hung
 * (the first at MAXPROCS=1; the second in about 3 runs of 4 at MAXPROCS=2, where the kick
 * was deferred or landed while the thread was on its M's own TCB). */
ParameterizedTest(int *n, signal, to_runnable_thread, .timeout = 60)
{
	gr_test_native_vs_green("sig_runnable", NULL, *n, "SPINSIG", "ok", true, 30.0);
}

ParameterizedTestParameters(signal, blocked_everywhere_while_m_starts)
{
	static int procs[] = {2, 4};
	return cr_make_param_array(int, procs, 2);
}

/* sig_m_start: a kill() of a signal every thread blocks, at its default action, sent while
 * green starts a new M (one CPU, so the M's thread has not run yet), stays pending until a
 * sigwait takes it.  Regression for the flake of per_thread at MAXPROCS=2 (proc_signal
 * killed by SIGUSR2 in its sigwait section, 1 run in 76 to 200 on a loaded machine): the
 * new M inherited the mask of the G that ran on the M that cloned it and took the signal
 * in glibc's start_thread; 14 to 20 of the 20 trials died, in every run.  MAXPROCS=1
 * starts no M there. */
ParameterizedTest(int *n, signal, blocked_everywhere_while_m_starts, .timeout = 60)
{
	gr_test_native_vs_green("sig_m_start", NULL, *n, "START", "ok", true, 30.0);
}

ParameterizedTestParameters(signal, mask_after_sigsuspend_handler)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* sig_suspend_mask: after sigsuspend ran a handler that signalled its own thread, the
 * kernel mask of the M follows the thread's mask.  Regression: that handler loaded the
 * suspend mask into the M, its sigreturn put the old one back, and green's record of the
 * M's mask kept the suspend mask; the next pthread_sigmask to it loaded nothing (a kill()
 * of the SIGUSR2 the thread blocked killed the process, every run), and a thread born
 * with that mask ran on the M with the old one (its pthread_kill of itself left the
 * handler pending, every run at MAXPROCS=1). */
ParameterizedTest(int *n, signal, mask_after_sigsuspend_handler, .timeout = 60)
{
	gr_test_native_vs_green("sig_suspend_mask", NULL, *n, "SUSPEND", "ok", true, 30.0);
}

ParameterizedTestParameters(signal, to_thread_blocked_in_lock)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* sig_blocked_wait: a thread blocked in pthread_mutex_lock, pthread_rwlock_wrlock,
 * pthread_barrier_wait, pthread_once or a FUTEX_WAIT runs the handler of a signal sent to
 * it, and stays blocked.  Regression: such a thread was parked where no signal reached
 * it (every case FAILed: the acknowledgement never came). */
ParameterizedTest(int *n, signal, to_thread_blocked_in_lock, .timeout = 150)
{
	gr_test_native_vs_green("sig_blocked_wait", NULL, *n, "MUTEX", "ok", true, RUN_TIMEOUT_S);
}

/* gc_boehm: Boehm GC's collector stops its 16 threads with pthread_kill and waits for each
 * handler's acknowledgement while most of them are blocked in pthread_mutex_lock.
 * Regression: libgc aborted at every run ("Signals delivery fails constantly").  Only
 * GREEN_MAXPROCS=1 here: with more Ps about 1 run in 800 still fails (a collection whose
 * acknowledgement never comes, or a crash); see docs/ARCHITECTURE.md. */
Test(signal, boehm_gc_stops_threads, .timeout = 120)
{
	gr_test_native_vs_green("gc_boehm", NULL, 1, "SUM", "ok", true, RUN_TIMEOUT_S);
}

ParameterizedTestParameters(signal, sigqueue_to_sigwaitinfo_rounds)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* sig_sigqueue_wait: 1,000 rounds of pthread_sigqueue to a thread in sigwaitinfo, main
 * sleeping 1 ms before each.  Regressions: a spurious EINTR from green's preemption
 * signal (MAXPROCS=1), and a sleep that never ended while its timer sat on the P of the
 * waiter's system call (MAXPROCS=2). */
ParameterizedTest(int *n, signal, sigqueue_to_sigwaitinfo_rounds, .timeout = 150)
{
	const char *args[] = {"1000", NULL};
	gr_test_native_vs_green("sig_sigqueue_wait", args, *n, "SIGQUEUE", "ok", true,
				RUN_TIMEOUT_S);
}

ParameterizedTestParameters(signal, call_not_ended_by_quiet_signal)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, 3);
}

/* sig_call_restart: msgrcv, semop, semtimedop, sigsuspend and pause, which the kernel
 * never restarts once a handler has run, go on waiting through a SIGURG the program
 * ignores (green's preemption signal, whose handler ended them with EINTR), and still end
 * with EINTR for a signal the program handles. */
ParameterizedTest(int *n, signal, call_not_ended_by_quiet_signal, .timeout = 90)
{
	const char *args[] = {"20", NULL};
	gr_test_native_vs_green("sig_call_restart", args, *n, "RESTART", "ok", true,
				RUN_TIMEOUT_S);
}
