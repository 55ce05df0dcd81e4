/* Unit tests of shim/timer.c: the 4-ary heap, deletion, and running in deadline order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "timer.h"

static struct gr_p p;
static int order[64], norder;

static void record(struct gr_timer *t)
{
	order[norder++] = (int)(intptr_t)t->arg;
}

static int counted;

static void count(struct gr_timer *t)
{
	(void)t;
	counted++;
}

static void setup(void)
{
	memset(&p, 0, sizeof(p));
	atomic_store(&p.xtimer0, INT64_MAX);
	norder = 0;
}

TestSuite(timer, .init = setup, .fini = NULL);

Test(timer, runs_in_deadline_order)
{
	struct gr_timer t[50];
	for (int i = 0; i < 50; i++) {
		t[i] = (struct gr_timer){.when = 1000 + (i * 37) % 50, .fn = record,
					 .arg = (void *)(intptr_t)((i * 37) % 50)};
		gr_timer_add(&p, &t[i]);
	}
	cr_assert_eq(atomic_load(&p.xtimer0), 1000);
	int64_t next = gr_timer_run(&p, 1024);
	cr_assert_eq(next, 1025);
	cr_assert_eq(norder, 25);
	gr_timer_run(&p, 5000);
	cr_assert_eq(norder, 50);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(order[i], i, "position %d ran timer %d", i, order[i]);
	cr_assert_eq(atomic_load(&p.xtimer0), INT64_MAX);
	gr_timer_fini(&p);
}

Test(timer, delete_before_and_after_firing)
{
	struct gr_timer a = {.when = 10, .fn = record, .arg = (void *)1};
	struct gr_timer b = {.when = 20, .fn = record, .arg = (void *)2};
	struct gr_timer c = {.when = 30, .fn = record, .arg = (void *)3};
	gr_timer_add(&p, &a);
	gr_timer_add(&p, &b);
	gr_timer_add(&p, &c);
	cr_assert(gr_timer_del(&b), "a pending timer is removed");
	cr_assert_not(gr_timer_del(&b), "a removed timer is gone");
	gr_timer_run(&p, 15);
	cr_assert_not(gr_timer_del(&a), "a fired timer cannot be removed");
	gr_timer_run(&p, 100);
	cr_assert_eq(norder, 2);
	cr_assert_eq(order[0], 1);
	cr_assert_eq(order[1], 3);
	gr_timer_fini(&p);
}

Test(timer, random_deletes_keep_heap_order)
{
	enum { N = 2000 };
	static struct gr_timer t[N];
	srand(42);
	for (int i = 0; i < N; i++) {
		t[i] = (struct gr_timer){.when = rand() % 100000 + 1, .fn = count};
		gr_timer_add(&p, &t[i]);
	}
	for (int i = 0; i < N; i += 3)
		cr_assert(gr_timer_del(&t[i]));
	int64_t last = 0;
	int n = 0;
	for (; p.ntimers; n++) {
		struct gr_timer *top = p.timers[0];
		cr_assert_geq(top->when, last);
		last = top->when;
		gr_timer_run(&p, top->when);
	}
	cr_assert_eq(counted, N - (N + 2) / 3, "each remaining timer fired once, no deleted one");
	gr_timer_fini(&p);
}

Test(timer, deadline_conversion)
{
	struct timespec ts = {0, 5000000};
	int64_t now = gr_nanotime();
	int64_t d = gr_deadline(CLOCK_MONOTONIC, &ts, false);
	cr_assert(d >= now + 5000000 && d < now + 1000000000);
	struct timespec bad = {0, 1000000000};
	cr_assert_eq(gr_deadline(CLOCK_MONOTONIC, &bad, false), -EINVAL);
	struct timespec past = {1, 0};
	cr_assert_geq(gr_deadline(CLOCK_REALTIME, &past, true), 1, "a past deadline is due now");
	cr_assert_eq(gr_deadline(CLOCK_PROCESS_CPUTIME_ID, &past, true), -EINVAL);
}
