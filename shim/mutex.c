/*
 * Mutexes: a three-state lock word (Drepper, "Futexes are tricky", mutex 2) whose slow
 * path parks the G on the word's address instead of a kernel futex.  The owner's tid is
 * stored as glibc stores it, which gives recursive and error-checking mutexes their
 * answers (EDEADLK, EPERM) and lets a debugger read the owner.
 *
 * Lockers spin briefly when there is another P (the owner is likely running and about to
 * unlock), then park.  Rejected: handing the lock to the woken waiter directly (it makes
 * every contended unlock a context switch: throughput falls when a lock is taken and
 * released many times per slice).
 */
#include <errno.h>
#include <limits.h>

#include "park.h"
#include "runtime.h"
#include "sync.h"

#define SPIN_TRIES 100

static int self_tid(void)
{
	return gr_curg()->tid;
}

static int type_of(const struct gr_mutex *m)
{
	return m->kind & GR_MUTEX_KIND_MASK;
}

int gr_mutex_init(struct gr_mutex *m, const pthread_mutexattr_t *attr)
{
	int type = PTHREAD_MUTEX_NORMAL, robust = PTHREAD_MUTEX_STALLED;
	int pshared = PTHREAD_PROCESS_PRIVATE, protocol = PTHREAD_PRIO_NONE;

	if (attr) {
		pthread_mutexattr_gettype(attr, &type);
		pthread_mutexattr_getrobust(attr, &robust);
		pthread_mutexattr_getpshared(attr, &pshared);
		pthread_mutexattr_getprotocol(attr, &protocol);
	}
	*m = (struct gr_mutex){0};
	m->kind = type;
	if (robust == PTHREAD_MUTEX_ROBUST)
		m->kind |= 16; /* PTHREAD_MUTEX_ROBUST_NORMAL_NP */
	if (protocol == PTHREAD_PRIO_INHERIT)
		m->kind |= 32;
	else if (protocol == PTHREAD_PRIO_PROTECT)
		m->kind |= 64;
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->kind |= 128;
	return 0;
}

int gr_mutex_destroy(struct gr_mutex *m)
{
	if (atomic_load_explicit(&m->xlock, memory_order_relaxed) != 0)
		return EBUSY;
	return 0;
}

static bool lock_is_contended(const void *addr, void *arg)
{
	(void)arg;
	return atomic_load_explicit((_Atomic int *)addr, memory_order_relaxed) == 2;
}

static bool try_acquire(struct gr_mutex *m)
{
	int zero = 0;

	return atomic_compare_exchange_strong_explicit(&m->xlock, &zero, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static int lock_slow(struct gr_mutex *m, int64_t deadline)
{
	if (gr_sched.nprocs > 1) {
		for (int i = 0; i < SPIN_TRIES; i++) {
			gr_arch_pause();
			if (atomic_load_explicit(&m->xlock, memory_order_relaxed) == 0 &&
			    try_acquire(m))
				return 0;
		}
	}
	/* Acquire; pairs with the release exchange in gr_mutex_unlock. */
	while (atomic_exchange_explicit(&m->xlock, 2, memory_order_acquire) != 0) {
		if (gr_park_wait(&m->xlock, lock_is_contended, NULL, deadline, 0) == -ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

int gr_mutex_lock(struct gr_mutex *m, int64_t deadline)
{
	int tid = self_tid();
	int type = type_of(m);

	if (type != PTHREAD_MUTEX_NORMAL &&
	    atomic_load_explicit(&m->xowner, memory_order_relaxed) == tid) {
		if (type == PTHREAD_MUTEX_ERRORCHECK)
			return EDEADLK;
		if (type == PTHREAD_MUTEX_RECURSIVE) {
			if (m->count == UINT_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
	}
	if (!try_acquire(m)) {
		int r = lock_slow(m, deadline);
		if (r)
			return r;
	}
	atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
	m->count = 1;
	return 0;
}

int gr_mutex_trylock(struct gr_mutex *m)
{
	int tid = self_tid();

	if (type_of(m) == PTHREAD_MUTEX_RECURSIVE &&
	    atomic_load_explicit(&m->xowner, memory_order_relaxed) == tid) {
		if (m->count == UINT_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	if (!try_acquire(m))
		return EBUSY;
	atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
	m->count = 1;
	return 0;
}

int gr_mutex_unlock(struct gr_mutex *m)
{
	int type = type_of(m);

	if (type != PTHREAD_MUTEX_NORMAL) {
		if (atomic_load_explicit(&m->xowner, memory_order_relaxed) != self_tid() ||
		    atomic_load_explicit(&m->xlock, memory_order_relaxed) == 0)
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && --m->count != 0)
			return 0;
	}
	atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
	/* Release; pairs with the acquire in lock. */
	if (atomic_exchange_explicit(&m->xlock, 0, memory_order_release) == 2)
		gr_park_wake(&m->xlock, 1, 0);
	return 0;
}
