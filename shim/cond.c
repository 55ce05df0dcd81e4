/*
 * Condition variables: a wake sequence number, and the parking table's FIFO order.
 * A waiter reads the sequence, releases the mutex, and parks only if the sequence is
 * unchanged (checked under the wait queue's lock, like a futex word).  signal bumps the
 * sequence and wakes the oldest waiter; broadcast wakes all.  Because queues are FIFO, a
 * signal always wakes a thread that was blocked when it was sent, if there was one, which
 * is the POSIX guarantee; a thread that starts waiting after a signal may see it too (a
 * spurious wake-up, which POSIX allows).
 *
 * Rejected: glibc's two-group algorithm (it exists to avoid waking late arrivals without a
 * FIFO queue; green has one), and requeueing broadcast waiters onto the mutex (it needs
 * the mutex's lock word to advertise the waiters, which recursive and error-checking
 * mutexes complicate, for a gain only under thundering herds).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "park.h"
#include "runtime.h"
#include "sync.h"

int gr_cond_init(struct gr_cond *c, const pthread_condattr_t *attr)
{
	clockid_t clock = CLOCK_REALTIME;
	int pshared = PTHREAD_PROCESS_PRIVATE;

	memset(c, 0, sizeof(*c));
	if (attr) {
		pthread_condattr_getclock(attr, &clock);
		pthread_condattr_getpshared(attr, &pshared);
	}
	c->wrefs = (clock == CLOCK_MONOTONIC ? GR_COND_MONOTONIC : 0) |
		   (pshared == PTHREAD_PROCESS_SHARED ? 1u : 0);
	return 0;
}

int gr_cond_destroy(struct gr_cond *c)
{
	(void)c;
	return 0;
}

clockid_t gr_cond_clock(const struct gr_cond *c)
{
	return c->wrefs & GR_COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

static bool seq_unchanged(const void *addr, void *arg)
{
	return atomic_load_explicit((_Atomic uint32_t *)addr, memory_order_relaxed) ==
	       (uint32_t)(uintptr_t)arg;
}

int gr_cond_wait(struct gr_cond *c, struct gr_mutex *m, int64_t deadline)
{
	uint32_t seq = atomic_load_explicit(&c->xseq, memory_order_acquire);
	unsigned count = m->count;
	int type = m->kind & GR_MUTEX_KIND_MASK;

	if (type == PTHREAD_MUTEX_RECURSIVE) {
		if (atomic_load_explicit(&m->xowner, memory_order_relaxed) != gr_curg()->tid)
			return EPERM;
		m->count = 1; /* release every level; restored below */
	}
	int r = gr_mutex_unlock(m);
	if (r)
		return r;
	/* Interruptible: a signal handler runs and a cancellation request is seen (the
	 * caller acts on it once the mutex is held again, as POSIX requires). */
	int w = gr_park_wait_intr(&c->xseq, seq_unchanged, (void *)(uintptr_t)seq, deadline, 0);
	gr_mutex_lock(m, 0);
	if (type == PTHREAD_MUTEX_RECURSIVE)
		m->count = count;
	return w == -ETIMEDOUT ? ETIMEDOUT : 0;
}

int gr_cond_signal(struct gr_cond *c)
{
	atomic_fetch_add_explicit(&c->xseq, 1, memory_order_release);
	gr_park_wake(&c->xseq, 1, 0);
	return 0;
}

int gr_cond_broadcast(struct gr_cond *c)
{
	atomic_fetch_add_explicit(&c->xseq, 1, memory_order_release);
	gr_park_wake(&c->xseq, INT_MAX, 0);
	return 0;
}
