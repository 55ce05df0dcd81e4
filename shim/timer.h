/* Per-P timers: a 4-ary min-heap per P, as in Go's time.go (before its lock-free
 * rewrite).  A timer runs its callback once, at or after its deadline, on whichever M
 * examines the heap first: the P's owner in schedule, or an idle M stealing work. */
#ifndef GR_TIMER_H
#define GR_TIMER_H

#include <time.h>

#include "runtime.h"

struct gr_timer {
	int64_t when;		   /* monotonic deadline, ns */
	void (*fn)(struct gr_timer *); /* runs with the heap's timerlock held; must not park */
	void *arg;
	/* Protected by pp->timerlock: the heap holding the timer and the index in it, or
	 * NULL/-1 once it has fired or been deleted. */
	struct gr_p *pp;
	int idx;
};

/* Adds t to pp's heap.  May allocate (heap growth), so not from a signal handler. */
void gr_timer_add(struct gr_p *pp, struct gr_timer *t);

/* Removes t if it has not fired.  Returns true if it was removed, false if it already
 * fired.  If the callback is running on another M, waits for it to finish (it runs under
 * the timerlock), so afterwards t's memory may be reused. */
bool gr_timer_del(struct gr_timer *t);

/* Runs pp's expired timers (callbacks in deadline order).  Returns the next deadline, or
 * INT64_MAX.  Any M may call it for any P. */
int64_t gr_timer_run(struct gr_p *pp, int64_t now);

/* Frees the heap array of pp (fork child, tests). */
void gr_timer_fini(struct gr_p *pp);

/* Converts a timeout on clock (absolute when abs) to a CLOCK_MONOTONIC deadline in ns.
 * Returns the deadline (>= 1), or -EINVAL for a malformed timespec or unsupported clock.
 * A CLOCK_REALTIME deadline is converted once, at the call: a later clock jump does not
 * move it (documented in ARCHITECTURE.md). */
int64_t gr_deadline(clockid_t clock, const struct timespec *ts, bool abs);

/* TSC ticks (gr_arch_cputicks) to nanoseconds; gr_cputicks_init records the reference
 * point at start-up. */
void gr_cputicks_init(void);
int64_t gr_cputicks_to_ns(uint64_t ticks);

/* CLOCK_MONOTONIC in nanoseconds (vDSO). */
int64_t gr_nanotime(void);

#endif
