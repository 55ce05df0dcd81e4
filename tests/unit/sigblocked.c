/* Unit tests of shim/sigblocked.c: the set of signals some live G blocks. */
#include <criterion/criterion.h>
#include <signal.h>

#include "sigblocked.h"

#define BIT(sig) (1ull << ((sig)-1))
#define ALL (~0ull)

Test(sigblocked, grows_with_the_first_blocker_only)
{
	gr_sigblocked_reset();
	cr_assert_eq(gr_sigblocked_move(0, BIT(SIGUSR1)), BIT(SIGUSR1));
	cr_assert_eq(gr_sigblocked_move(0, BIT(SIGUSR1) | BIT(SIGINT)), BIT(SIGINT));
	cr_assert_eq(gr_sigblocked_any(), BIT(SIGUSR1) | BIT(SIGINT));
}

Test(sigblocked, shrinks_when_the_last_blocker_ends)
{
	gr_sigblocked_reset();
	gr_sigblocked_move(0, BIT(SIGUSR1));
	gr_sigblocked_move(0, BIT(SIGUSR1) | BIT(SIGINT));
	gr_sigblocked_move(BIT(SIGUSR1) | BIT(SIGINT), 0);
	cr_assert_eq(gr_sigblocked_any(), BIT(SIGUSR1));
	gr_sigblocked_move(BIT(SIGUSR1), 0);
	cr_assert_eq(gr_sigblocked_any(), 0);
}

/* The case that put two system calls on every context switch: a G that blocks every
 * signal for a moment (libunwind does, around its caches) and restores its mask. */
Test(sigblocked, a_moment_of_blocking_everything_leaves_nothing)
{
	gr_sigblocked_reset();
	uint64_t mask = BIT(SIGPIPE);
	gr_sigblocked_move(0, mask);
	gr_sigblocked_move(0, 0);
	cr_assert_eq(gr_sigblocked_move(mask, ALL), ALL & ~BIT(SIGPIPE));
	gr_sigblocked_move(ALL, mask);
	cr_assert_eq(gr_sigblocked_any(), BIT(SIGPIPE));
}

Test(sigblocked, unchanged_mask_costs_nothing)
{
	gr_sigblocked_reset();
	gr_sigblocked_move(0, BIT(SIGTERM));
	cr_assert_eq(gr_sigblocked_move(BIT(SIGTERM), BIT(SIGTERM)), 0);
	cr_assert_eq(gr_sigblocked_any(), BIT(SIGTERM));
}

Test(sigblocked, counts_many_gs)
{
	gr_sigblocked_reset();
	for (int i = 0; i < 1000; i++)
		gr_sigblocked_move(0, BIT(SIGHUP));
	for (int i = 0; i < 999; i++)
		gr_sigblocked_move(BIT(SIGHUP), 0);
	cr_assert_eq(gr_sigblocked_any(), BIT(SIGHUP));
	gr_sigblocked_move(BIT(SIGHUP), 0);
	cr_assert_eq(gr_sigblocked_any(), 0);
}
