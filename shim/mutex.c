/*
 * Mutexes in glibc's 40-byte layout: every kind (normal/timed, recursive, error-checking,
 * adaptive; robust; priority-inherit and priority-protect accepted; process-shared).
 *
 * Private mutexes: a lock word (Drepper, "Futexes are tricky", mutex 2: 0 free, 1 locked,
 * 2 locked with waiters) whose slow path parks the G on the word's address in the parking
 * table, plus Go's starvation mode (sync/mutex.go): a waiter that has waited more than
 * 1 ms when it wakes and still finds the lock taken sets the STARVING bit (4) on the
 * locked word.  An
 * unlock that sees STARVING does not release the word: it hands the lock to the oldest
 * waiter (gr_park_handoff), so newcomers, which can only take a free word, cannot barge
 * ahead of the queue.  The receiver clears STARVING if it waited less than 1 ms; an unlock
 * that finds nobody to hand to releases normally, which also leaves starvation mode.
 * A woken waiter that loses a race requeues at the head of the queue (Go's queueLifo).
 * The uncontended fast path stays one CAS to lock and one CAS to unlock.
 *
 * Lockers spin briefly when there is another P (the owner is likely running and about to
 * unlock), then park.  Rejected: always handing the lock to the woken waiter (every
 * contended unlock becomes a context switch: throughput falls when a lock is taken and
 * released many times per slice); Go's separate woken bit (the parking table's xwaiters
 * count already lets an unlock with no waiter skip the wake).
 *
 * Process-shared mutexes keep glibc's own protocol (0/1/2 on a kernel futex without
 * FUTEX_PRIVATE_FLAG) so a native process can share them; the wait runs inside the
 * system-call hand-off.  Robustness across processes (the kernel's robust list) is not
 * provided: a robust mutex is robust against the death of a thread of this process.
 *
 * Robust mutexes: each G keeps the robust mutexes it holds on a list (gr_g.robust_list,
 * linked through the mutex's own __list fields, as glibc's robust list is).  When the G
 * ends, gr_mutex_robust_exit marks each DIED and releases it; the next locker gets
 * EOWNERDEAD holding the lock, and must call pthread_mutex_consistent before unlocking or
 * the mutex becomes NOTRECOVERABLE.  The state lives in __nusers, which glibc only
 * counts lockers in.
 *
 * The owner tid is stored as glibc stores it, which gives recursive and error-checking
 * mutexes their answers (EDEADLK, EPERM) and lets a debugger read the owner.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#ifdef GR_MUTEX_STATS
#include "real.h"
#include <stdio.h>
#endif

#include "park.h"
#include "runtime.h"
#include "sync.h"
#include "timer.h"

#ifndef SPIN_TRIES
#define SPIN_TRIES 100
#endif
#ifndef STARVE_NS
#define STARVE_NS 1000000 /* Go: starvationThresholdNs */
#endif

enum {
	UNLOCKED = 0,
	LOCKED = 1,
	CONTENDED = 2,
	STARVING = 4
};

#ifdef GR_MUTEX_STATS
/* Measurement builds only: handoffs received, other wake-ups, starvation entries. */
static _Atomic long gr_mutex_stats[3];
__attribute__((destructor)) static void print_stats(void)
{
	char buf[160];
	int n = snprintf(buf, sizeof buf, "green: mutex handoffs=%ld wakes=%ld starving=%ld\n",
	                 gr_mutex_stats[0], gr_mutex_stats[1], gr_mutex_stats[2]);
	gr_real_msg(buf, NULL, NULL);
	(void)n;
}
#endif

static int self_tid(void)
{
	return gr_curg()->tid;
}

static bool is_shared(const struct gr_mutex *m)
{
	return m->kind & GR_MUTEX_PSHARED;
}

int gr_mutex_init(struct gr_mutex *m, const pthread_mutexattr_t *attr)
{
	int type = PTHREAD_MUTEX_NORMAL, robust = PTHREAD_MUTEX_STALLED;
	int pshared = PTHREAD_PROCESS_PRIVATE, protocol = PTHREAD_PRIO_NONE, ceiling = 0;

	if (attr) {
		pthread_mutexattr_gettype(attr, &type);
		pthread_mutexattr_getrobust(attr, &robust);
		pthread_mutexattr_getpshared(attr, &pshared);
		pthread_mutexattr_getprotocol(attr, &protocol);
		pthread_mutexattr_getprioceiling(attr, &ceiling);
	}
	*m = (struct gr_mutex){ 0 };
	m->kind = type;
	if (robust == PTHREAD_MUTEX_ROBUST)
		m->kind |= GR_MUTEX_ROBUST;
	if (protocol == PTHREAD_PRIO_INHERIT) {
		m->kind |= GR_MUTEX_PI;
	} else if (protocol == PTHREAD_PRIO_PROTECT) {
		m->kind |= GR_MUTEX_PP;
		int min = sched_get_priority_min(SCHED_FIFO);
		m->elision = (short)(ceiling < min ? min : ceiling); /* glibc: at least the min */
	}
	/* glibc sets the pshared bit for robust mutexes too (the kernel wakes them shared);
	 * green's robust mutexes are private unless the attribute says shared. */
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->kind |= GR_MUTEX_PSHARED;
	return 0;
}

int gr_mutex_destroy(struct gr_mutex *m)
{
	/* glibc: EBUSY only for a non-robust mutex in use; then the kind becomes -1. */
	if (!(m->kind & GR_MUTEX_ROBUST) && atomic_load_explicit(&m->xlock, memory_order_relaxed))
		return EBUSY;
	m->kind = -1;
	return 0;
}

bool gr_mutex_held(const struct gr_mutex *m)
{
	return atomic_load_explicit(&m->xlock, memory_order_relaxed) != UNLOCKED &&
	       atomic_load_explicit(&m->xowner, memory_order_relaxed) == self_tid();
}

/* ---- the lock word ----------------------------------------------------------------- */

static bool try_acquire(struct gr_mutex *m)
{
	int zero = UNLOCKED;

	/* Acquire; pairs with the release in unlock_word. */
	return atomic_compare_exchange_strong_explicit(&m->xlock, &zero, LOCKED,
	                                               memory_order_acquire, memory_order_relaxed);
}

static bool still_contended(const void *addr, void *arg)
{
	(void)arg;
	return (atomic_load_explicit((_Atomic int *)addr, memory_order_relaxed) & CONTENDED) != 0;
}

static bool spin(struct gr_mutex *m)
{
	if (gr_sched.nprocs <= 1)
		return false;
	for (int i = 0; i < SPIN_TRIES; i++) {
		gr_arch_pause();
		int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
		if (v & STARVING)
			return false; /* Go: the lock goes to the oldest waiter, not to us */
		if (v == UNLOCKED && try_acquire(m))
			return true;
	}
	return false;
}

/* Private slow path.  Returns 0 with the lock, or ETIMEDOUT. */
static int lock_private_slow(struct gr_mutex *m, int64_t deadline)
{
	int64_t start = 0;
	unsigned flags = 0;
	bool starving = false;

	if (spin(m))
		return 0;
	for (;;) {
		int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
		if (v == UNLOCKED) {
			/* We may have waited, so others may wait: take it as contended. */
			if (atomic_compare_exchange_weak_explicit(&m->xlock, &v, CONTENDED,
			                                          memory_order_acquire,
			                                          memory_order_relaxed))
				return 0;
			continue;
		}
		/* Locked: advertise a waiter and, once we have waited too long, starvation
		 * mode (only ever on a locked word, so its owner's unlock sees it). */
		int want = v | CONTENDED | (starving ? STARVING : 0);
		if (want != v && !atomic_compare_exchange_weak_explicit(&m->xlock, &v, want,
		                                                        memory_order_relaxed,
		                                                        memory_order_relaxed))
			continue;
#ifdef GR_MUTEX_STATS
		if (starving && !(v & STARVING))
			atomic_fetch_add(&gr_mutex_stats[2], 1);
#endif
		if (!start)
			start = gr_nanotime();
		int r = gr_park_wait_ex(&m->xlock, still_contended, NULL, deadline, 0, flags);
#ifdef GR_MUTEX_STATS
		atomic_fetch_add(&gr_mutex_stats[r == 1 ? 0 : 1], 1);
#endif
		if (r == 1) {
			/* Handed over in starvation mode: the word stayed locked for us.  Leave
			 * starvation mode unless we waited long too (Go: starving = false). */
			if (gr_nanotime() - start < STARVE_NS)
				atomic_fetch_and_explicit(&m->xlock, ~STARVING,
				                          memory_order_relaxed);
			atomic_thread_fence(memory_order_acquire);
			return 0;
		}
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
		if (r == 0) {
			flags = GR_PARK_LIFO; /* woken and about to compete: keep our place */
			starving = starving || gr_nanotime() - start >= STARVE_NS;
		}
	}
}

static void unlock_private(struct gr_mutex *m)
{
	int v = LOCKED;

	/* Release; pairs with the acquire in try_acquire and the slow path. */
	if (atomic_compare_exchange_strong_explicit(&m->xlock, &v, UNLOCKED, memory_order_release,
	                                            memory_order_relaxed))
		return;
	if (v & STARVING) {
		atomic_thread_fence(memory_order_release);
		if (gr_park_handoff(&m->xlock))
			return;
	}
	if (atomic_exchange_explicit(&m->xlock, UNLOCKED, memory_order_release) & CONTENDED)
		gr_park_wake(&m->xlock, 1, 0);
}

/* Process-shared: glibc's lll_lock on a kernel futex.  Returns 0 or ETIMEDOUT. */
static int lock_shared_slow(struct gr_mutex *m, int64_t deadline)
{
	if (spin(m))
		return 0;
	while (atomic_exchange_explicit(&m->xlock, CONTENDED, memory_order_acquire) != UNLOCKED) {
		if (gr_word_wait((_Atomic uint32_t *)&m->xlock, CONTENDED, deadline, true) ==
		    -ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

static void unlock_shared(struct gr_mutex *m)
{
	if (atomic_exchange_explicit(&m->xlock, UNLOCKED, memory_order_release) > LOCKED)
		gr_word_wake((_Atomic uint32_t *)&m->xlock, 1, true);
}

static int lock_word(struct gr_mutex *m, int64_t deadline)
{
	if (try_acquire(m))
		return 0;
	return is_shared(m) ? lock_shared_slow(m, deadline) : lock_private_slow(m, deadline);
}

static void unlock_word(struct gr_mutex *m)
{
	if (is_shared(m))
		unlock_shared(m);
	else
		unlock_private(m);
}

/* ---- robust list ------------------------------------------------------------------- */

static void robust_add(struct gr_mutex *m)
{
	struct gr_g *gp = gr_curg();
	struct gr_mutex *head = gp->robust_list;

	m->list_prev = NULL;
	m->list_next = head;
	if (head)
		head->list_prev = m;
	gp->robust_list = m;
}

static void robust_del(struct gr_mutex *m)
{
	struct gr_g *gp = gr_curg();

	if (m->list_prev)
		m->list_prev->list_next = m->list_next;
	else if (gp->robust_list == m)
		gp->robust_list = m->list_next;
	if (m->list_next)
		m->list_next->list_prev = m->list_prev;
	m->list_prev = m->list_next = NULL;
}

void gr_mutex_robust_exit(struct gr_g *gp)
{
	struct gr_mutex *m = gp->robust_list;

	gp->robust_list = NULL;
	while (m) {
		struct gr_mutex *next = m->list_next;
		m->list_prev = m->list_next = NULL;
		m->nusers = GR_ROBUST_DIED;
		m->count = 0;
		atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
		unlock_word(m);
		m = next;
	}
}

/* After taking the word of a robust mutex: its state decides the answer. */
static int robust_acquired(struct gr_mutex *m, int tid)
{
	switch (m->nusers) {
	case GR_ROBUST_NOTRECOVERABLE:
		unlock_word(m);
		return ENOTRECOVERABLE;
	case GR_ROBUST_DIED:
		m->nusers = GR_ROBUST_INCONSISTENT;
		atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
		m->count = 1;
		robust_add(m);
		return EOWNERDEAD;
	default:
		atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
		m->count = 1;
		robust_add(m);
		return 0;
	}
}

/* ---- the pthread operations -------------------------------------------------------- */

/* The kinds green knows; anything else (a destroyed mutex: kind -1) is EINVAL, as in
 * glibc's pthread_mutex_lock_full. */
static bool kind_valid(int kind)
{
	return !(kind & ~(GR_MUTEX_KIND_MASK | GR_MUTEX_ROBUST | GR_MUTEX_PI | GR_MUTEX_PP |
	                  GR_MUTEX_PSHARED | GR_MUTEX_ELISION));
}

/* The owner relocks: EDEADLK, a recursion level, or -1 to go on (and deadlock, as glibc
 * does for normal mutexes). */
static int relock(struct gr_mutex *m, int type)
{
	if (type == PTHREAD_MUTEX_ERRORCHECK)
		return EDEADLK;
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		if (m->count == UINT_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	return -1;
}

int gr_mutex_lock(struct gr_mutex *m, int64_t deadline)
{
	int kind = m->kind;
	int tid = self_tid();

	if (__builtin_expect(kind != PTHREAD_MUTEX_NORMAL, 0)) {
		if (!kind_valid(kind))
			return EINVAL;
		if (atomic_load_explicit(&m->xowner, memory_order_relaxed) == tid &&
		    atomic_load_explicit(&m->xlock, memory_order_relaxed) != UNLOCKED) {
			int r = relock(m, kind & GR_MUTEX_KIND_MASK);
			if (r >= 0)
				return r;
		}
		if ((kind & GR_MUTEX_ROBUST) && m->nusers == GR_ROBUST_NOTRECOVERABLE)
			return ENOTRECOVERABLE;
	}
	int r = lock_word(m, deadline);
	if (r)
		return r;
	if (kind & GR_MUTEX_ROBUST)
		return robust_acquired(m, tid);
	atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
	m->count = 1;
	return 0;
}

int gr_mutex_trylock(struct gr_mutex *m)
{
	int kind = m->kind;
	int tid = self_tid();

	if (kind != PTHREAD_MUTEX_NORMAL) {
		if (!kind_valid(kind))
			return EINVAL;
		/* glibc: only the recursive kind relocks; error-checking gives EBUSY. */
		if ((kind & GR_MUTEX_KIND_MASK) == PTHREAD_MUTEX_RECURSIVE &&
		    atomic_load_explicit(&m->xowner, memory_order_relaxed) == tid &&
		    atomic_load_explicit(&m->xlock, memory_order_relaxed) != UNLOCKED) {
			if (m->count == UINT_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
		if ((kind & GR_MUTEX_ROBUST) && m->nusers == GR_ROBUST_NOTRECOVERABLE)
			return ENOTRECOVERABLE;
	}
	if (!try_acquire(m))
		return EBUSY;
	if (kind & GR_MUTEX_ROBUST)
		return robust_acquired(m, tid);
	atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
	m->count = 1;
	return 0;
}

int gr_mutex_unlock(struct gr_mutex *m)
{
	int kind = m->kind;

	if (kind != PTHREAD_MUTEX_NORMAL) {
		if (!kind_valid(kind))
			return EINVAL;
		int type = kind & GR_MUTEX_KIND_MASK;
		/* glibc checks the owner for error-checking, recursive, robust, PI and PP
		 * mutexes; a normal or adaptive one is simply released. */
		bool check = type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE ||
		             (kind & (GR_MUTEX_ROBUST | GR_MUTEX_PI | GR_MUTEX_PP));
		if (check && !gr_mutex_held(m))
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && --m->count != 0)
			return 0;
		if (kind & GR_MUTEX_ROBUST) {
			robust_del(m);
			if (m->nusers == GR_ROBUST_INCONSISTENT) {
				m->nusers = GR_ROBUST_NOTRECOVERABLE;
				atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
				unlock_word(m);
				/* Everyone waiting must learn it is not recoverable. */
				gr_word_wake((_Atomic uint32_t *)&m->xlock, INT_MAX, is_shared(m));
				return 0;
			}
		}
	}
	atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
	unlock_word(m);
	return 0;
}

int gr_mutex_consistent(struct gr_mutex *m)
{
	if (!(m->kind & GR_MUTEX_ROBUST) || m->nusers != GR_ROBUST_INCONSISTENT ||
	    !gr_mutex_held(m))
		return EINVAL;
	m->nusers = GR_ROBUST_OK;
	return 0;
}

int gr_mutex_getprioceiling(const struct gr_mutex *m, int *ceiling)
{
	if (!(m->kind & GR_MUTEX_PP))
		return EINVAL;
	*ceiling = m->elision;
	return 0;
}

int gr_mutex_setprioceiling(struct gr_mutex *m, int ceiling, int *old)
{
	if (!(m->kind & GR_MUTEX_PP) || ceiling < sched_get_priority_min(SCHED_FIFO) ||
	    ceiling > sched_get_priority_max(SCHED_FIFO))
		return EINVAL;
	bool held = gr_mutex_held(m);
	if (!held) {
		int r = gr_mutex_lock(m, 0);
		if (r)
			return r;
	}
	if (old)
		*old = m->elision;
	m->elision = (short)ceiling;
	if (!held)
		gr_mutex_unlock(m);
	return 0;
}

int gr_mutex_clocklock(struct gr_mutex *m, clockid_t clock, const struct timespec *abstime)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	/* As glibc: the owner's answers first, and the timeout is checked only when the
	 * lock is not free. */
	int r = gr_mutex_trylock(m);
	if (r != EBUSY)
		return r;
	if ((m->kind & GR_MUTEX_KIND_MASK) == PTHREAD_MUTEX_ERRORCHECK && gr_mutex_held(m))
		return EDEADLK;
	int64_t deadline = gr_sync_deadline(clock, abstime, true);
	if (deadline < 0)
		return EINVAL;
	return gr_mutex_lock(m, deadline);
}
