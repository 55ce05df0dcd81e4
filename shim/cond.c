/*
 * Condition variables: a wake sequence number, and the parking table's FIFO order.
 * A waiter reads the sequence, releases the mutex, and parks only if the sequence is
 * unchanged (checked under the wait queue's lock, like a futex word).  signal bumps the
 * sequence and wakes the oldest waiter; broadcast wakes all.  Because queues are FIFO, a
 * signal always wakes a thread that was blocked when it was sent, if there was one, which
 * is the POSIX guarantee; a thread that starts waiting after a signal may see it too (a
 * spurious wake-up, which POSIX allows).
 *
 * Process-shared condvars wait on the same sequence word with the kernel futex (in the
 * system-call hand-off) and count their waiters in the next word so a signal with nobody
 * waiting makes no system call.
 *
 * A recursive mutex is released completely for the wait (every level) and its depth
 * restored after; glibc releases one level only, which deadlocks a signaller, so no
 * working program depends on the difference.
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
	           (pshared == PTHREAD_PROCESS_SHARED ? GR_COND_SHARED : 0);
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

static bool is_shared(const struct gr_cond *c)
{
	return c->wrefs & GR_COND_SHARED;
}

int gr_cond_wait(struct gr_cond *c, struct gr_mutex *m, int64_t deadline)
{
	int type = m->kind & GR_MUTEX_KIND_MASK;
	bool shared = is_shared(c);
	unsigned count = 1;

	/* glibc: an error-checking or recursive mutex not held gives EPERM through the
	 * unlock (robust, PI and PP ones through gr_mutex_unlock below). */
	if ((type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE) &&
	    !gr_mutex_held(m))
		return EPERM;
	uint32_t seq = atomic_load_explicit(&c->xseq, memory_order_acquire);
	if (shared)
		atomic_fetch_add_explicit(&c->xkwaiters, 1, memory_order_seq_cst);
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		count = m->count;
		m->count = 1; /* release every level; restored below */
	}
	int r = gr_mutex_unlock(m);
	if (r) {
		if (type == PTHREAD_MUTEX_RECURSIVE)
			m->count = count;
		if (shared)
			atomic_fetch_sub_explicit(&c->xkwaiters, 1, memory_order_relaxed);
		return r;
	}
	/* Interruptible: a signal handler runs and a cancellation request is seen (the
	 * caller acts on it once the mutex is held again, as POSIX requires). */
	int w = gr_word_wait_intr(&c->xseq, seq, deadline, shared);
	if (shared)
		atomic_fetch_sub_explicit(&c->xkwaiters, 1, memory_order_relaxed);
	int l;
	while ((l = gr_mutex_lock(m, 0)) == EINTR)
		;
	if (l == 0 || l == EOWNERDEAD) {
		if (type == PTHREAD_MUTEX_RECURSIVE)
			m->count = count;
	}
	if (l)
		return l;
	return w == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static void wake(struct gr_cond *c, int n)
{
	/* Release: the signaller's writes before the new sequence; a waiter whose check
	 * sees it returns and re-locks the mutex. */
	atomic_fetch_add_explicit(&c->xseq, 1, memory_order_seq_cst);
	if (!is_shared(c))
		gr_park_wake_fenced(&c->xseq, n, 0);
	else if (atomic_load_explicit(&c->xkwaiters, memory_order_seq_cst))
		gr_word_wake(&c->xseq, n, true);
}

int gr_cond_signal(struct gr_cond *c)
{
	wake(c, 1);
	return 0;
}

int gr_cond_broadcast(struct gr_cond *c)
{
	wake(c, INT_MAX);
	return 0;
}
