/*
 * tests/preload/sysmon.c - blocking that no hook sees (issue 5): sysmon revokes the P of
 * an M asleep in the kernel (a raw futex, glibc's stdio lock) and gives it to another M.
 * And the wake-ups a P defers after hand-offs, which sysmon pays when its readier does
 * not park (proc.c, wakep_deferred).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>

#include "helpers.h"

/* ../shared/progs unhooked_block on one P: both scenarios finish. */
Test(sysmon, unhooked_block_one_p, .timeout = 60)
{
	char *path = gr_test_shared_prog("unhooked_block");
	const char *argv[] = {path, NULL};
	struct gr_test_result r = {0};

	gr_test_need_lib();
	for (int i = 0; i < 3; i++) {
		gr_test_run_green(argv, 1, NULL, 20.0, &r);
		gr_test_assert_ok(&r);
		gr_test_assert_value(&r, "UNHOOKED", "ok");
		gr_test_result_free(&r);
	}
	free(path);
}

/* A G blocked in a raw futex (no hook at all) while its sibling must run to wake it. */
Test(sysmon, raw_futex_revocation, .timeout = 60)
{
	gr_test_green_expect("syscall_rawfutex", NULL, 1, NULL, "RAWFUTEX", "ok", 20.0);
}

/* ... and that G, its P revoked, parks before it has noticed: it must deal with the
 * revocation before it holds the wait queue's lock.  Regression: it was queued holding
 * the lock, and the waker slept on the lock with the only P pinned (a hang at every run
 * here; sync_rust hung in 2 runs of 1000 at GREEN_MAXPROCS=2). */
Test(sysmon, revoked_g_parks, .timeout = 60)
{
	const char *args[] = {"park", NULL};
	gr_test_green_expect("syscall_rawfutex", args, 1, NULL, "RAWFUTEX", "ok", 20.0);
}

/* A thread readied into runnext by one that then spins without preemption runs on another
 * P: sysmon pays the deferred wake-up.  Without it the run never ends. */
Test(sysmon, deferred_wakeup_paid, .timeout = 60)
{
	const char *env[] = {"GREEN_PREEMPT=0", NULL};

	gr_test_native_vs_green("sched_wake", NULL, 2, "WAKE", "ok", false, 20.0);
	gr_test_green_expect("sched_wake", NULL, 4, env, "WAKE", "ok", 20.0);
	gr_test_green_expect("sched_wake", NULL, 2, env, "WAKE", "ok", 20.0);
}

ParameterizedTestParameters(sysmon, starts_when_needed)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

/* unshare_single: a program that has made no thread yet, and a fork child, are
 * single-threaded under green as natively (sysmon starts when needed), so
 * unshare(CLONE_NEWUSER) gives the native result.  Regression: EINVAL under green. */
ParameterizedTest(int *n, sysmon, starts_when_needed, .timeout = 60)
{
	gr_test_native_vs_green("unshare_single", NULL, *n, "UNSHARE", "done", true, 20.0);
}
