/*
 * Unit tests of shim/preempt.c without a scheduler: configuration, the xsave area, and
 * the program's handler for the preemption signal (recorded, reported, chained for a
 * signal green did not send: a plain thread has no G, so every SIGURG it gets is the
 * program's), and the length of sysmon's time slice.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "preempt.h"
#include "runtime.h"
#include "sysmon.h"

static atomic_int hits;

static void on_sig(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

Test(sysmon, preempt_off_leaves_signals_alone)
{
	setenv("GREEN_PREEMPT", "0", 1);
	gr_preempt_configure();
	cr_assert_eq(gr_preempt_init(), 0);
	cr_assert(!gr_preempt_enabled());
	cr_assert_eq(gr_preempt_signal(), 0);
	cr_assert(!gr_preempt_sigaction(SIGURG, NULL, NULL), "handled SIGURG while off");
}

Test(sysmon, program_handler_recorded_and_chained)
{
	struct sigaction act, old;

	unsetenv("GREEN_PREEMPT");
	unsetenv("GREEN_PREEMPT_SIGNAL");
	gr_preempt_configure();
	cr_assert_eq(gr_preempt_init(), 0);
	cr_assert(gr_preempt_enabled());
	cr_assert_eq(gr_preempt_signal(), SIGURG);
	cr_assert(gr_preempt_xsave_size >= 512 && gr_preempt_xsave_size % 64 == 0,
		  "xsave area %u", gr_preempt_xsave_size);

	/* No handler of the program's: a wait may block the signal (sigsuspend). */
	cr_assert_eq(gr_preempt_blockable(), 1ull << (SIGURG - 1));
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_sig;
	cr_assert(gr_preempt_sigaction(SIGURG, &act, &old));
	cr_assert_eq(gr_preempt_blockable(), 0, "the program's handler must end a wait");
	cr_assert(old.sa_handler == SIG_DFL, "previous handler not SIG_DFL");
	cr_assert(gr_preempt_sigaction(SIGURG, NULL, &old));
	cr_assert(old.sa_handler == on_sig, "recorded handler not reported");
	cr_assert(!gr_preempt_sigaction(SIGUSR1, &act, NULL), "claimed another signal");

	raise(SIGURG);
	raise(SIGURG);
	cr_assert_eq(atomic_load(&hits), 2, "program handler ran %d times", atomic_load(&hits));

	/* SIG_IGN recorded: the signal is dropped, green's handler stays. */
	act.sa_handler = SIG_IGN;
	gr_preempt_sigaction(SIGURG, &act, NULL);
	raise(SIGURG);
	cr_assert_eq(atomic_load(&hits), 2);
	cr_assert_eq(gr_preempt_blockable(), 1ull << (SIGURG - 1));
}

Test(sysmon, bad_signal_falls_back_to_sigurg)
{
	setenv("GREEN_PREEMPT_SIGNAL", "9", 1);
	unsetenv("GREEN_PREEMPT");
	gr_preempt_configure();
	cr_assert_eq(gr_preempt_init(), 0);
	cr_assert_eq(gr_preempt_signal(), SIGURG);
	unsetenv("GREEN_PREEMPT_SIGNAL");
}

Test(sysmon, counters_start_at_zero)
{
	cr_assert_eq(atomic_load(&gr_sysmon_stats.xpreemptions), 0);
	gr_stat_inc(&gr_sysmon_stats.xpreemptions);
	cr_assert_eq(atomic_load(&gr_sysmon_stats.xpreemptions), 1);
}

/* Go's 10 ms slice while few Gs wait; shorter while so many wait that a turn would come
 * round too rarely for the CPU to be shared evenly (fairness 64 2 gave each spinner about
 * 6 slices in 2 s and FAIRNESS 0.2-0.5 under load). */
Test(sysmon, slice_shrinks_while_many_gs_wait)
{
	gr_sched.nprocs = 2;
	cr_assert_eq(gr_sysmon_slice_ns(0), 10000000);
	cr_assert_eq(gr_sysmon_slice_ns(8), 10000000, "4 Gs per P keep 10 ms slices");
	int64_t s16 = gr_sysmon_slice_ns(16);
	cr_assert(s16 < 10000000 && s16 > 2000000, "16 Gs on 2 Ps: %lld ns", (long long)s16);
	cr_assert_eq(gr_sysmon_slice_ns(62), 2000000, "64 spinners on 2 Ps");
	cr_assert_eq(gr_sysmon_slice_ns(100000), 2000000, "never below 2 ms");
	gr_sched.nprocs = 8;
	cr_assert_eq(gr_sysmon_slice_ns(32), 10000000, "scales with the Ps");
	gr_sched.nprocs = 0;
}

/* A tenth of the slice while sysmon keeps finding the same slice; doubling while each look
 * finds a new one (Gs that run for microseconds: sysmon looked every 200 us for them), never
 * longer than the slice. */
Test(sysmon, looks_thin_out_while_slices_turn_over)
{
	cr_assert_eq(gr_sysmon_look_ns(10000000, 0), 1000000);
	cr_assert_eq(gr_sysmon_look_ns(2000000, 0), 200000);
	cr_assert_eq(gr_sysmon_look_ns(2000000, 1), 400000);
	cr_assert_eq(gr_sysmon_look_ns(2000000, 3), 1600000);
	cr_assert_eq(gr_sysmon_look_ns(2000000, 4), 2000000, "capped at the slice");
	cr_assert_eq(gr_sysmon_look_ns(2000000, 32), 2000000);
}
