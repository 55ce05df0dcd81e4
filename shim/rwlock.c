/*
 * Read-write locks in glibc's 56-byte layout.
 *
 * The state (readers holding, writer holding, readers and writers waiting) is protected
 * by a small word lock inside the object (xlock, held for a few instructions), and the
 * waiters wait futex-style on two sequence words, one for readers and one for writers:
 * a waiter notes the sequence under xlock, drops xlock, and sleeps only while the
 * sequence is unchanged, so a wake between the two is never lost.  Process-shared locks
 * (__shared) wait on the kernel futex in the system-call hand-off; private ones park.
 *
 * Policy, as glibc's: PTHREAD_RWLOCK_PREFER_READER_NP (the default) and
 * PTHREAD_RWLOCK_PREFER_WRITER_NP let a reader in whenever no writer holds the lock (so
 * a reader may take it again while it holds it, even with writers waiting; writers can
 * starve).  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP keeps new readers out while a
 * writer waits (so a reader that relocks then deadlocks, as glibc documents).  A writer
 * that relocks, or that asks for a read lock, gets EDEADLK; the try forms give EBUSY.
 * An unlock by a writer wakes every waiting reader, else one writer (the writer-preferring
 * kind wakes a writer first); the last reader out wakes one writer.
 *
 * Rejected: glibc's lock-free phase-based algorithm (it is 500 lines of subtle protocol
 * whose point, not taking a lock in rdlock, matters less when a contended wait parks a G
 * instead of a thread); a lock-free reader count with a writer bit (the three kinds and
 * the timeouts are much simpler to get right with a lock held for nanoseconds).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "park.h"
#include "runtime.h"
#include "sync.h"

#define MAX_READERS (UINT_MAX >> 1)

static bool is_shared(const struct gr_rwlock *l)
{
	return l->shared != 0;
}

static bool prefer_writer(const struct gr_rwlock *l)
{
	return l->flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

static void ilock(struct gr_rwlock *l)
{
	uint32_t zero = 0;

	/* Acquire; pairs with the release in iunlock. */
	if (atomic_compare_exchange_strong_explicit(&l->xlock, &zero, 1, memory_order_acquire,
	                                            memory_order_relaxed))
		return;
	for (unsigned i = 0; i < 50; i++) {
		gr_arch_pause();
		zero = 0;
		if (atomic_load_explicit(&l->xlock, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(
		            &l->xlock, &zero, 1, memory_order_acquire, memory_order_relaxed))
			return;
	}
	while (atomic_exchange_explicit(&l->xlock, 2, memory_order_acquire) != 0)
		gr_word_wait(&l->xlock, 2, 0, is_shared(l));
}

static void iunlock(struct gr_rwlock *l)
{
	if (atomic_exchange_explicit(&l->xlock, 0, memory_order_release) == 2)
		gr_word_wake(&l->xlock, 1, is_shared(l));
}

int gr_rwlock_init(struct gr_rwlock *l, const pthread_rwlockattr_t *attr)
{
	int kind = PTHREAD_RWLOCK_DEFAULT_NP, pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr) {
		pthread_rwlockattr_getkind_np(attr, &kind);
		pthread_rwlockattr_getpshared(attr, &pshared);
	}
	memset(l, 0, sizeof(*l));
	l->flags = (unsigned)kind;
	l->shared = pshared == PTHREAD_PROCESS_SHARED ? 128 : 0; /* glibc's FUTEX_SHARED */
	return 0;
}

int gr_rwlock_destroy(struct gr_rwlock *l)
{
	(void)l;
	return 0; /* glibc: nothing to check */
}

bool gr_rwlock_held_for_write(const struct gr_rwlock *l)
{
	return __atomic_load_n(&l->cur_writer, __ATOMIC_RELAXED) == gr_curg()->tid;
}

/* Sleeps on seq (noted under xlock, which the caller holds and which is dropped and
 * retaken here).  Returns 0 or ETIMEDOUT. */
static int wait_locked(struct gr_rwlock *l, _Atomic uint32_t *seq, int64_t deadline)
{
	uint32_t v = atomic_load_explicit(seq, memory_order_relaxed);

	iunlock(l);
	int r = gr_word_wait(seq, v, deadline, is_shared(l));
	ilock(l);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static bool reader_may_enter(const struct gr_rwlock *l)
{
	return l->cur_writer == 0 && !(prefer_writer(l) && l->wwaiting > 0);
}

int gr_rwlock_rdlock(struct gr_rwlock *l, int64_t deadline)
{
	int tid = gr_curg()->tid;
	int r = 0;
	bool writer = false;

	ilock(l);
	if (l->cur_writer == tid) {
		iunlock(l);
		return EDEADLK;
	}
	while (!reader_may_enter(l)) {
		l->rwaiting++;
		r = wait_locked(l, &l->xrseq, deadline);
		l->rwaiting--;
		if (r) {
			/* Woken with other readers by an unlock, then timed out before running:
			 * if the lock is free a writer must not be left waiting. */
			writer = l->cur_writer == 0 && l->readers == 0 && l->wwaiting > 0;
			if (writer)
				atomic_fetch_add_explicit(&l->xwseq, 1, memory_order_release);
			break;
		}
	}
	if (!r) {
		if (l->readers == MAX_READERS)
			r = EAGAIN;
		else
			l->readers++;
	}
	iunlock(l);
	if (writer)
		gr_word_wake(&l->xwseq, 1, is_shared(l));
	return r;
}

int gr_rwlock_tryrdlock(struct gr_rwlock *l)
{
	int r = 0;

	ilock(l);
	if (!reader_may_enter(l))
		r = EBUSY;
	else if (l->readers == MAX_READERS)
		r = EAGAIN;
	else
		l->readers++;
	iunlock(l);
	return r;
}

/* Under xlock: after a writer gave up waiting, readers it was keeping out may enter. */
static bool writer_left_locked(struct gr_rwlock *l)
{
	return prefer_writer(l) && l->wwaiting == 0 && l->cur_writer == 0 && l->rwaiting > 0;
}

static void wake_readers(struct gr_rwlock *l)
{
	atomic_fetch_add_explicit(&l->xrseq, 1, memory_order_release);
	gr_word_wake(&l->xrseq, INT_MAX, is_shared(l));
}

int gr_rwlock_wrlock(struct gr_rwlock *l, int64_t deadline)
{
	int tid = gr_curg()->tid;
	int r = 0;
	bool readers = false;

	ilock(l);
	if (l->cur_writer == tid) {
		iunlock(l);
		return EDEADLK;
	}
	while (l->cur_writer != 0 || l->readers != 0) {
		l->wwaiting++;
		r = wait_locked(l, &l->xwseq, deadline);
		l->wwaiting--;
		if (r) {
			readers = writer_left_locked(l);
			break;
		}
	}
	if (!r)
		__atomic_store_n(&l->cur_writer, tid, __ATOMIC_RELAXED);
	iunlock(l);
	if (readers)
		wake_readers(l);
	return r;
}

int gr_rwlock_trywrlock(struct gr_rwlock *l)
{
	int r = 0;

	ilock(l);
	if (l->cur_writer != 0 || l->readers != 0)
		r = EBUSY;
	else
		__atomic_store_n(&l->cur_writer, gr_curg()->tid, __ATOMIC_RELAXED);
	iunlock(l);
	return r;
}

int gr_rwlock_unlock(struct gr_rwlock *l)
{
	bool readers = false, writer = false;

	ilock(l);
	if (l->cur_writer != 0) {
		if (l->cur_writer != gr_curg()->tid) {
			iunlock(l);
			return EPERM;
		}
		__atomic_store_n(&l->cur_writer, 0, __ATOMIC_RELAXED);
		if (prefer_writer(l) && l->wwaiting > 0)
			writer = true;
		else if (l->rwaiting > 0)
			readers = true;
		else if (l->wwaiting > 0)
			writer = true;
	} else if (l->readers > 0) {
		if (--l->readers == 0 && l->wwaiting > 0)
			writer = true;
	} else {
		iunlock(l);
		return EPERM;
	}
	/* Bump under xlock so a waiter that noted the old value cannot miss it. */
	if (readers)
		atomic_fetch_add_explicit(&l->xrseq, 1, memory_order_release);
	if (writer)
		atomic_fetch_add_explicit(&l->xwseq, 1, memory_order_release);
	iunlock(l);
	if (readers)
		gr_word_wake(&l->xrseq, INT_MAX, is_shared(l));
	if (writer)
		gr_word_wake(&l->xwseq, 1, is_shared(l));
	return 0;
}
