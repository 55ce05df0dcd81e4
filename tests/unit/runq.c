/* Unit tests of shim/runq.c: the per-P ring and the global queue, driven without a
 * scheduler (Go: RunSchedLocalQueueTest, RunSchedLocalQueueStealTest). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>

#include "runq.h"

static struct gr_p ps[2];
static struct gr_g gs[1000];

static void setup(void)
{
	memset(ps, 0, sizeof(ps));
	memset(gs, 0, sizeof(gs));
	memset(&gr_sched, 0, sizeof(gr_sched));
	gr_sched.nprocs = 2;
	gr_sched.allp = ps;
}

TestSuite(runq, .init = setup);

Test(runq, fifo_order_and_runnext_first)
{
	bool inherit;
	for (int i = 0; i < 10; i++)
		gr_runq_put(&ps[0], &gs[i], false);
	gr_runq_put(&ps[0], &gs[10], true);
	cr_assert_eq(gr_runq_get(&ps[0], &inherit), &gs[10]);
	cr_assert(inherit, "a G from runnext inherits the time slice");
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(gr_runq_get(&ps[0], &inherit), &gs[i]);
		cr_assert_not(inherit);
	}
	cr_assert_null(gr_runq_get(&ps[0], &inherit));
	cr_assert(gr_runq_empty(&ps[0]));
}

Test(runq, runnext_displaced_goes_to_tail)
{
	bool inherit;
	gr_runq_put(&ps[0], &gs[0], true);
	gr_runq_put(&ps[0], &gs[1], true);
	cr_assert_eq(gr_runq_get(&ps[0], &inherit), &gs[1]);
	cr_assert_eq(gr_runq_get(&ps[0], &inherit), &gs[0]);
}

Test(runq, overflow_moves_half_to_global)
{
	bool inherit;
	for (int i = 0; i < GR_RUNQ_SIZE + 1; i++)
		gr_runq_put(&ps[0], &gs[i], false);
	cr_assert_eq(gr_runq_len(&ps[0]), GR_RUNQ_SIZE / 2);
	cr_assert_eq(gr_sched.xrunqsize, GR_RUNQ_SIZE / 2 + 1);
	int seen = 0;
	while (gr_runq_get(&ps[0], &inherit))
		seen++;
	gr_lock(&gr_sched.lock);
	struct gr_g *gp;
	while ((gp = gr_globrunq_get_locked(&ps[0], 1)))
		seen++;
	gr_unlock(&gr_sched.lock);
	cr_assert_eq(seen, GR_RUNQ_SIZE + 1, "no G lost");
}

Test(runq, steal_takes_half)
{
	bool inherit;
	for (int i = 0; i < 10; i++)
		gr_runq_put(&ps[0], &gs[i], false);
	struct gr_g *gp = gr_runq_steal(&ps[1], &ps[0], false);
	cr_assert_eq(gp, &gs[0]);
	cr_assert_eq(gr_runq_len(&ps[1]), 4);
	cr_assert_eq(gr_runq_len(&ps[0]), 5);
	cr_assert_eq(gr_runq_get(&ps[0], &inherit), &gs[5]);
}

Test(runq, steal_runnext_only_when_allowed)
{
	gr_runq_put(&ps[0], &gs[0], true);
	cr_assert_null(gr_runq_steal(&ps[1], &ps[0], false));
	cr_assert_eq(gr_runq_steal(&ps[1], &ps[0], true), &gs[0]);
}

/* Concurrent: an owner puts and gets while a thief steals; every G is taken exactly once. */
#define NSTRESS 200000
static _Atomic int taken[1000];
static _Atomic bool done;

static void *thief(void *arg)
{
	(void)arg;
	bool inherit;
	while (!atomic_load(&done) || !gr_runq_empty(&ps[0])) {
		struct gr_g *gp = gr_runq_steal(&ps[1], &ps[0], true);
		while (gp) {
			atomic_fetch_add(&taken[gp - gs], 1);
			gp = gr_runq_get(&ps[1], &inherit);
		}
	}
	return NULL;
}

Test(runq, concurrent_put_get_steal_loses_nothing, .timeout = 60)
{
	pthread_t t;
	bool inherit;
	long put = 0;

	pthread_create(&t, NULL, thief, NULL);
	for (long i = 0; i < NSTRESS; i++) {
		int idx = (int)(i % 1000);
		if (atomic_load(&taken[idx]) * 1000 + idx < i) /* only reuse a G once it was taken */
			continue;
		gr_runq_put(&ps[0], &gs[idx], i % 7 == 0);
		put++;
		if (i % 3 == 0) {
			struct gr_g *gp = gr_runq_get(&ps[0], &inherit);
			if (gp)
				atomic_fetch_add(&taken[gp - gs], 1);
		}
	}
	struct gr_g *gp;
	while ((gp = gr_runq_get(&ps[0], &inherit)))
		atomic_fetch_add(&taken[gp - gs], 1);
	atomic_store(&done, true);
	pthread_join(t, NULL);
	gr_lock(&gr_sched.lock);
	while ((gp = gr_globrunq_get_locked(&ps[1], 1)))
		atomic_fetch_add(&taken[gp - gs], 1);
	gr_unlock(&gr_sched.lock);
	long total = 0;
	for (int i = 0; i < 1000; i++)
		total += taken[i];
	cr_assert_eq(total, put, "taken %ld of %ld puts", total, put);
}
