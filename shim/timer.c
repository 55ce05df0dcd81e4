/*
 * Timer heaps.  Each P owns a 4-ary min-heap ordered by deadline (a 4-ary heap is
 * shallower than a binary one and its children share cache lines; Go uses the same).
 * gr_p.xtimer0 publishes the earliest deadline so idle Ms can compute how long to sleep
 * and whether another P's timers are due without taking its lock.
 *
 * Timers are added to the current P's heap and stay there: a P that goes idle keeps its
 * timers, which other Ms run when they look for work (findrunnable).  Callbacks run with
 * the heap's timerlock held, which is what makes gr_timer_del safe against a concurrent
 * run: deleting takes the same lock.
 *
 * Rejected: one global heap (every sleep would contend one lock), and a timer wheel
 * (coarse granularity; sleepers needs sub-millisecond accuracy).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "real.h"
#include "timer.h"

/* glibc's clock_gettime, even before gr_real is filled (green interposes the symbol). */
static int real_clock_gettime(clockid_t c, struct timespec *ts)
{
	return gr_real.clock_gettime ? gr_real.clock_gettime(c, ts) : clock_gettime(c, ts);
}

int64_t gr_nanotime(void)
{
	struct timespec ts;

	real_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void heap_set(struct gr_p *pp, int i, struct gr_timer *t)
{
	pp->timers[i] = t;
	t->idx = i;
}

static void sift_up(struct gr_p *pp, int i)
{
	struct gr_timer *t = pp->timers[i];

	while (i > 0) {
		int parent = (i - 1) / 4;
		if (pp->timers[parent]->when <= t->when)
			break;
		heap_set(pp, i, pp->timers[parent]);
		i = parent;
	}
	heap_set(pp, i, t);
}

static void sift_down(struct gr_p *pp, int i)
{
	struct gr_timer *t = pp->timers[i];
	int n = pp->ntimers;

	for (;;) {
		int c = 4 * i + 1, best = -1;
		int64_t when = t->when;
		for (int k = c; k < c + 4 && k < n; k++) {
			if (pp->timers[k]->when < when) {
				when = pp->timers[k]->when;
				best = k;
			}
		}
		if (best < 0)
			break;
		heap_set(pp, i, pp->timers[best]);
		i = best;
	}
	heap_set(pp, i, t);
}

static void publish_timer0(struct gr_p *pp)
{
	int64_t when = pp->ntimers ? pp->timers[0]->when : INT64_MAX;

	atomic_store_explicit(&pp->xtimer0, when, memory_order_release);
}

void gr_timer_add(struct gr_p *pp, struct gr_timer *t)
{
	gr_lock(&pp->timerlock);
	if (pp->ntimers == pp->timercap) {
		int cap = pp->timercap ? pp->timercap * 2 : 64;
		struct gr_timer **a = realloc(pp->timers, cap * sizeof(*a));
		if (!a)
			gr_throw("out of memory growing a timer heap");
		pp->timers = a;
		pp->timercap = cap;
	}
	t->idx = pp->ntimers;
	__atomic_store_n(&t->pp, pp, __ATOMIC_RELEASE);
	pp->timers[pp->ntimers] = t;
	sift_up(pp, pp->ntimers++);
	publish_timer0(pp);
	gr_unlock(&pp->timerlock);
}

static void heap_remove_locked(struct gr_p *pp, int i)
{
	GR_ASSERT_HELD(&pp->timerlock);
	struct gr_timer *t = pp->timers[i];
	int last = --pp->ntimers;

	t->idx = -1; /* t->pp stays set until the callback (if any) has returned */
	if (i != last) {
		heap_set(pp, i, pp->timers[last]);
		sift_down(pp, i);
		sift_up(pp, pp->timers[i]->idx);
	}
	publish_timer0(pp);
}

bool gr_timer_del(struct gr_timer *t)
{
	/* t->pp only changes from a heap to NULL, under that heap's lock. */
	struct gr_p *pp = __atomic_load_n(&t->pp, __ATOMIC_ACQUIRE);

	if (!pp)
		return false;
	gr_lock(&pp->timerlock);
	bool queued = t->pp == pp && t->idx >= 0;
	if (queued)
		heap_remove_locked(pp, t->idx);
	__atomic_store_n(&t->pp, NULL, __ATOMIC_RELEASE);
	gr_unlock(&pp->timerlock);
	return queued;
}

int64_t gr_timer_run(struct gr_p *pp, int64_t now)
{
	if (atomic_load_explicit(&pp->xtimer0, memory_order_acquire) > now)
		return atomic_load_explicit(&pp->xtimer0, memory_order_acquire);
	gr_lock(&pp->timerlock);
	while (pp->ntimers && pp->timers[0]->when <= now) {
		struct gr_timer *t = pp->timers[0];
		heap_remove_locked(pp, 0);
		t->fn(t);
		/* Release; the owner's gr_timer_del takes timerlock before reusing t. */
		__atomic_store_n(&t->pp, NULL, __ATOMIC_RELEASE);
	}
	int64_t next = pp->ntimers ? pp->timers[0]->when : INT64_MAX;
	gr_unlock(&pp->timerlock);
	return next;
}

void gr_timer_fini(struct gr_p *pp)
{
	free(pp->timers);
	pp->timers = NULL;
	pp->ntimers = pp->timercap = 0;
	atomic_store_explicit(&pp->xtimer0, INT64_MAX, memory_order_relaxed);
}

int64_t gr_deadline(clockid_t clock, const struct timespec *ts, bool abs)
{
	struct timespec now;

	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || (!abs && ts->tv_sec < 0))
		return -EINVAL;
	int64_t t = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
	int64_t mono = gr_nanotime();
	if (!abs)
		return mono + (t > 0 ? t : 1);
	if (clock == CLOCK_MONOTONIC)
		return t > 0 ? t : 1;
	if (clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME && clock != CLOCK_TAI)
		return -EINVAL;
	if (real_clock_gettime(clock, &now) != 0)
		return -EINVAL;
	int64_t rel = t - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
	return mono + (rel > 0 ? rel : 0) + 1;
}

/* TSC to ns: the rate is measured between the first use and now, so it sharpens as the
 * process runs (and costs no calibration delay at start-up). */
static int64_t tsc0_ns;
static uint64_t tsc0;

void gr_cputicks_init(void)
{
	tsc0_ns = gr_nanotime();
	tsc0 = gr_arch_cputicks();
}

int64_t gr_cputicks_to_ns(uint64_t ticks)
{
	int64_t ns = gr_nanotime() - tsc0_ns;
	uint64_t dt = gr_arch_cputicks() - tsc0;

	if (ns <= 0 || dt == 0)
		return 0;
	return (int64_t)((double)ticks * (double)ns / (double)dt);
}
