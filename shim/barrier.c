/*
 * Barriers in glibc's 32-byte object: one 64-bit word holds the round (high half) and
 * the number of threads arrived in it (low half), so arriving is one CAS and the thread
 * completing a round advances the round and clears the count in the same CAS: it alone
 * gets PTHREAD_BARRIER_SERIAL_THREAD, and it wakes every waiter of the round, which waits
 * futex-style on the round half (parking table, or the kernel futex when the barrier is
 * process-shared).  A thread of the next round can arrive while waiters of the previous
 * one are still waking: they wait on their own round number, which has moved on.
 *
 * The protocol is green's own: a process-shared barrier works between green processes,
 * not with a native glibc process (glibc counts arrivals across rounds in a different
 * layout).  The same holds for process-shared condvars and rwlocks; mutexes and
 * semaphores keep glibc's protocol and do interoperate.
 *
 * Rejected: glibc's in/out counters with a reset phase (needed when waiters cannot tell
 * rounds apart; a round number in the same word as the count does that).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "runtime.h"
#include "sync.h"

static _Atomic uint32_t *round_word(struct gr_barrier *b)
{
	return (_Atomic uint32_t *)((char *)&b->xstate + 4); /* x86-64: the high half */
}

int gr_barrier_init(struct gr_barrier *b, const pthread_barrierattr_t *attr, unsigned count)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (count == 0 || count >= INT_MAX) /* glibc: BARRIER_IN_THRESHOLD */
		return EINVAL;
	if (attr)
		pthread_barrierattr_getpshared(attr, &pshared);
	memset(b, 0, sizeof(*b));
	b->count = count;
	b->shared = pshared == PTHREAD_PROCESS_SHARED;
	return 0;
}

int gr_barrier_destroy(struct gr_barrier *b)
{
	if ((uint32_t)atomic_load_explicit(&b->xstate, memory_order_acquire) != 0)
		return EBUSY; /* threads are waiting in the current round */
	return 0;
}

int gr_barrier_wait(struct gr_barrier *b)
{
	return gr_barrier_wait_kernel(b, b->shared);
}

int gr_barrier_wait_kernel(struct gr_barrier *b, bool kernel)
{
	uint64_t s = atomic_load_explicit(&b->xstate, memory_order_relaxed), n;
	uint32_t round;

	do {
		round = (uint32_t)(s >> 32);
		uint32_t arrived = (uint32_t)s + 1;
		n = arrived == b->count ? (uint64_t)(round + 1) << 32 :
		                          (s & ~0xffffffffull) | arrived;
		/* Acq_rel: every arrival's writes are visible to every thread leaving. */
	} while (!atomic_compare_exchange_weak_explicit(&b->xstate, &s, n, memory_order_acq_rel,
	                                                memory_order_relaxed));
	if ((uint32_t)(n >> 32) != round) {
		gr_word_wake(round_word(b), INT_MAX, kernel);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load_explicit(round_word(b), memory_order_acquire) == round)
		gr_word_wait(round_word(b), round, 0, kernel);
	return 0;
}
