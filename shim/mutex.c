/*
 * Mutexes in glibc's 40-byte layout: every kind (normal/timed, recursive, error-checking,
 * adaptive; robust; priority-inherit and priority-protect accepted; process-shared).
 *
 * Private mutexes: a lock word whose slow path parks the G on the word's address in the
 * parking table, after Go's sync/mutex.go.  Bits (the enum below): LOCKED; CONTENDED,
 * waiters may be parked; WOKEN, a woken or spinning waiter is on its way, so an unlock
 * wakes nobody else (Go: mutexWoken); STARVING (Go's starvation mode); RACED, the holder
 * took the lock in its slow path, from contenders.  The uncontended paths are one CAS to
 * lock and one to unlock, inline for the normal kind.  A free word may carry CONTENDED
 * and WOKEN: newcomers take it anyway (they barge, as in Go) and the woken waiter
 * competes when it runs.
 *
 * Waking.  An unlock that finds CONTENDED without WOKEN releases the word and sets WOKEN
 * in one step under the wait queue's lock, after claiming the oldest waiter
 * (gr_park_wake_decide).  The woken waiter clears WOKEN in its next CAS, sets CONTENDED
 * again (others may still wait), and either takes the lock or parks again at the head of
 * the queue (Go's queueLifo).  So one wake-up is in flight at a time however often the
 * holder unlocks, and an unlock never touches the mutex after releasing it (a waiter may
 * free it at once; glibc has the same rule).  A waiter parks only while the word is
 * LOCKED and CONTENDED (checked under the queue's lock), which is what rules out a lost
 * wake-up: CONTENDED is cleared only by the unlock that wakes, and the woken waiter sets
 * it again.  WOKEN is stamped with the wait queues' generation (in glibc's __spins), so
 * that in the child of fork a WOKEN the parent left, whose waiter is gone, is ignored.
 *
 * Spinning.  A locker spins (up to SPIN_TRIES pauses) only while another P is running
 * (the holder can release only if it runs) and its own P has nothing else to run (Go:
 * runtime_canSpin); a spinner sets WOKEN when waiters are parked, so the unlock it is
 * waiting for wakes nobody (Go).  Unlike Go, it does not spin against a holder that took
 * the lock in its slow path (RACED): it parks.  With two Ps and a lock taken and released
 * in a tight loop, Go's rule makes the two running threads spin against each other and
 * hand the lock back and forth on nearly every acquisition, each hand-off a cache-line
 * transfer between CPUs (mutex_contended 2 took 29% of its locks by a successful spin
 * and ran at 0.5-0.8 of native's speed; glibc's normal mutex, which does not spin, lets
 * the holder run alone while the loser sleeps).  With RACED, once the lock has changed
 * hands under contention the next loser parks, so the lock moves between CPUs about once
 * per wake-up instead of once per acquisition (a few hundred spins instead of 3 million
 * at T=2), and an uncontended stretch keeps the spin that a short critical section
 * profits from.
 *
 * Starvation mode (Go): a waiter that has waited more than 1 ms when it wakes and still
 * finds the lock taken sets STARVING on the locked word.  An unlock that sees STARVING
 * does not release the word: it hands the lock to the oldest waiter (gr_park_handoff), so
 * newcomers, which can only take a free word, cannot barge ahead of the queue.  The
 * receiver clears STARVING if it waited less than 1 ms; an unlock that finds nobody to
 * hand to releases normally, which also leaves starvation mode.
 *
 * Rejected: always handing the lock to the woken waiter (every contended unlock becomes a
 * context switch: throughput falls when a lock is taken and released many times per
 * slice); waking after the release (as before: every unlock with CONTENDED woke another
 * waiter while the first was still on its way, and with a woken flag the unlock would
 * have had to clear it after releasing the word when its wake found nobody, writing to
 * memory a waiter may already have freed); Go's waiter count in the word (the parking
 * table's queue under its lock answers "is anyone parked" exactly when it matters).
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
#include "runq.h"
#include "runtime.h"
#include "sync.h"
#include "timer.h"

#ifndef SPIN_TRIES
#define SPIN_TRIES 100
#endif
#ifndef STARVE_NS
#define STARVE_NS 1000000 /* Go: starvationThresholdNs */
#endif

/* The lock word of a private mutex: LOCKED, and flags that only its protocol reads.  A
 * process-shared one holds glibc's 0 (free), 1 (LOCKED), 2 (locked, maybe waiters). */
enum {
	UNLOCKED = 0,
	LOCKED = 1,
	CONTENDED = 2, /* waiters may be parked: the unlock must wake one unless WOKEN */
	STARVING = 4,  /* on a locked word only: the unlock hands the lock to the oldest waiter */
	WOKEN = 8,     /* a woken or spinning waiter is on its way: no other wake is needed */
	RACED = 16     /* on a locked word only: the holder took it in its slow path */
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

static inline int self_tid(void)
{
	struct gr_g *gp = gr_getg();

	return __builtin_expect(gp != NULL, 1) ? gp->tid : gr_curg()->tid;
}

static bool is_shared(const struct gr_mutex *m)
{
	return m->kind & GR_MUTEX_PSHARED;
}

static bool word_locked(const struct gr_mutex *m)
{
	int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);

	return is_shared(m) ? v != UNLOCKED : (v & LOCKED) != 0;
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
	if (!(m->kind & GR_MUTEX_ROBUST) && word_locked(m))
		return EBUSY;
	m->kind = -1;
	return 0;
}

bool gr_mutex_held(const struct gr_mutex *m)
{
	return word_locked(m) &&
	       atomic_load_explicit(&m->xowner, memory_order_relaxed) == self_tid();
}

/* ---- the lock word ----------------------------------------------------------------- */

/* Takes a free process-shared word (glibc's 0 -> 1). */
static bool try_acquire(struct gr_mutex *m)
{
	int zero = UNLOCKED;

	/* Acquire; pairs with the release of the unlocks. */
	return atomic_compare_exchange_strong_explicit(&m->xlock, &zero, LOCKED,
	                                               memory_order_acquire, memory_order_relaxed);
}

/* Takes a free private word, which may carry flags for its waiters (a woken one on its
 * way may find it taken: Go lets newcomers barge too). */
static bool try_lock_private(struct gr_mutex *m)
{
	int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);

	while (!(v & LOCKED)) {
		/* Acquire; pairs with the release of the unlocks. */
		if (atomic_compare_exchange_weak_explicit(
		            &m->xlock, &v, v | LOCKED, memory_order_acquire, memory_order_relaxed))
			return true;
	}
	return false;
}

/* Spinning pays only while the holder runs on another P to release the lock, and while
 * nothing else could use this P (Go: runtime_canSpin).  Foreign threads have no P. */
static bool can_spin(void)
{
	if (gr_sched.nprocs <= 1 ||
	    gr_sched.nprocs - atomic_load_explicit(&gr_sched.xnpidle, memory_order_relaxed) < 2)
		return false;
	struct gr_g *gp = gr_getg();
	/* A hint read without pinning the P: sysmon may take it meanwhile, which costs at
	 * most one useless spin. */
	struct gr_p *pp = gr_g_schedulable(gp) ? gp->m->p : NULL;
	return !pp || gr_runq_empty(pp);
}

/* WOKEN counts only when set in this generation of the wait queues (gr_park_gen, kept in
 * glibc's __spins): in the child of fork, the waiter it announced was a thread of the
 * parent, and an unlock that trusted it would wake nobody for good.  Any thread may stamp
 * the generation (they all write the current one); a stale read costs one extra wake. */
static bool woken_live(const struct gr_mutex *m, int v)
{
	return (v & WOKEN) &&
	       (unsigned short)__atomic_load_n(&m->spins, __ATOMIC_RELAXED) == gr_park_gen;
}

static void stamp_woken(struct gr_mutex *m)
{
	__atomic_store_n(&m->spins, (short)gr_park_gen, __ATOMIC_RELAXED);
}

/* The parking table's check, under the queue's lock: sleep only while the word is locked
 * and says that its unlock must look for waiters. */
static bool may_park(const void *addr, void *arg)
{
	(void)arg;
	int v = atomic_load_explicit((_Atomic int *)addr, memory_order_relaxed);
	return (v & (LOCKED | CONTENDED)) == (LOCKED | CONTENDED);
}

/*
 * Private slow path.  Returns 0 with the lock, or ETIMEDOUT.
 *
 * woken: this thread was woken (or, spinning, set WOKEN itself), so the WOKEN bit may be
 * its to clear: every CAS it makes clears it, until it sleeps again.  A wrong clear only
 * costs an extra wake-up later; a WOKEN left set with nobody to clear it would lose every
 * later one.
 */
static int lock_private_slow(struct gr_mutex *m, int64_t deadline)
{
	int64_t start = 0;
	unsigned flags = 0;
	bool starving = false, woken = false;
	int spins = can_spin() ? 0 : SPIN_TRIES;
	int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);

	for (;;) {
		if (!(v & LOCKED)) {
			/* Free (STARVING is only ever on a locked word).  A woken waiter takes it
			 * as contended: others may still be parked, and its waker cleared the
			 * bit when it woke it. */
			int want = v | LOCKED | RACED;
			if (woken)
				want = (want & ~WOKEN) | CONTENDED;
			if (atomic_compare_exchange_weak_explicit(&m->xlock, &v, want,
			                                          memory_order_acquire,
			                                          memory_order_relaxed))
				return 0;
			continue;
		}
		if (spins < SPIN_TRIES && !(v & (STARVING | RACED))) {
			/* Go: a spinner tells the unlock not to wake a parked waiter, since the
			 * spinner is about to take the lock anyway. */
			if (!woken && (v & CONTENDED) && !woken_live(m, v)) {
				stamp_woken(m);
				if (!atomic_compare_exchange_weak_explicit(&m->xlock, &v, v | WOKEN,
				                                           memory_order_relaxed,
				                                           memory_order_relaxed))
					continue;
				woken = true;
			}
			gr_arch_pause();
			spins++;
			v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
			continue;
		}
		/* Park: advertise a waiter and, once we have waited too long, starvation mode
		 * (only ever on a locked word, so its owner's unlock sees it).  No more
		 * spinning until woken: a park that fails because the word changed (the
		 * holder let go for an instant) must not turn into a spin that takes the
		 * lock from a holder it was meant to leave alone. */
		spins = SPIN_TRIES;
		int want = v | CONTENDED | (starving ? STARVING : 0);
		if (woken)
			want &= ~WOKEN;
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
		int r = gr_park_wait_ex(&m->xlock, may_park, NULL, deadline, 0, flags);
#ifdef GR_MUTEX_STATS
		if (r >= 0)
			atomic_fetch_add(&gr_mutex_stats[r == 1 ? 0 : 1], 1);
#endif
		if (r == 1) {
			/* Handed over in starvation mode: the word stayed locked for us, taken in
			 * the slow path.  Leave starvation mode unless we waited long too (Go:
			 * starving = false). */
			int clear = gr_nanotime() - start < STARVE_NS ? STARVING : 0;
			v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
			while (!atomic_compare_exchange_weak_explicit(
			        &m->xlock, &v, (v | RACED) & ~clear, memory_order_acquire,
			        memory_order_relaxed))
				;
			return 0;
		}
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
		if (r == 0) {
			/* Woken and about to compete: spin again, and keep our place in the
			 * queue if we lose (Go: queueLifo). */
			woken = true;
			spins = can_spin() ? 0 : SPIN_TRIES;
			flags = GR_PARK_LIFO;
			starving = starving || gr_nanotime() - start >= STARVE_NS;
		}
		v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
	}
}

/* Under the wait queue's lock (gr_park_wake_decide): releases the word, and when a waiter
 * was woken, marks it WOKEN so no other unlock wakes one until it has competed.  The
 * release is the last access to the mutex: a waiter may free it as soon as it sees it. */
static void release_waking(const void *addr, void *arg, bool woken)
{
	struct gr_mutex *m = arg;
	_Atomic int *word = (_Atomic int *)addr;
	int v = atomic_load_explicit(word, memory_order_relaxed);

	if (woken)
		stamp_woken(m);
	for (;;) {
		/* No waiter is queued but the woken one (the rest re-check the word under
		 * this lock), so CONTENDED goes: the woken waiter sets it again.  A WOKEN
		 * already there goes too (stale, or a spinner's, which costs it nothing). */
		int want = v & ~(LOCKED | RACED | STARVING | CONTENDED | WOKEN);
		if (woken)
			want |= WOKEN;
		/* Release; pairs with the acquire of the lockers. */
		if (atomic_compare_exchange_weak_explicit(word, &v, want, memory_order_release,
		                                          memory_order_relaxed))
			return;
	}
}

static __attribute__((noinline)) void unlock_private_slow(struct gr_mutex *m, int v)
{
	bool handed = false;

	for (;;) {
		if ((v & STARVING) && !handed) {
			/* Go: starvation mode hands the lock to the oldest waiter, word locked. */
			handed = true;
			atomic_thread_fence(memory_order_release);
			if (gr_park_handoff(&m->xlock))
				return;
			/* Nobody left to hand to (they timed out): release, which also leaves
			 * starvation mode. */
			v = atomic_load_explicit(&m->xlock, memory_order_relaxed);
			continue;
		}
		if ((v & CONTENDED) && !woken_live(m, v)) {
			gr_park_wake_decide(&m->xlock, release_waking, m);
			return;
		}
		/* Nobody parked, or a woken or spinning waiter will take it (Go: mutexWoken). */
		if (atomic_compare_exchange_weak_explicit(
		            &m->xlock, &v, v & ~(LOCKED | RACED | STARVING), memory_order_release,
		            memory_order_relaxed))
			return;
	}
}

static void unlock_private(struct gr_mutex *m)
{
	int v = atomic_load_explicit(&m->xlock, memory_order_relaxed);

	/* Nobody to wake (or a woken waiter already on its way) and no hand-off: one CAS.
	 * Release; pairs with the acquire of the lockers. */
	if (!(v & STARVING) && (!(v & CONTENDED) || woken_live(m, v)) &&
	    atomic_compare_exchange_strong_explicit(&m->xlock, &v, v & ~(LOCKED | RACED),
	                                            memory_order_release, memory_order_relaxed))
		return;
	unlock_private_slow(m, v);
}

/* The spin of process-shared mutexes, on glibc's 0/1/2 word. */
static bool spin_shared(struct gr_mutex *m)
{
	if (!can_spin())
		return false;
	for (int i = 0; i < SPIN_TRIES; i++) {
		gr_arch_pause();
		if (atomic_load_explicit(&m->xlock, memory_order_relaxed) == UNLOCKED &&
		    try_acquire(m))
			return true;
	}
	return false;
}

/* Process-shared: glibc's lll_lock on a kernel futex.  Returns 0 or ETIMEDOUT. */
static int lock_shared_slow(struct gr_mutex *m, int64_t deadline)
{
	if (spin_shared(m))
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
	if (is_shared(m))
		return try_acquire(m) ? 0 : lock_shared_slow(m, deadline);
	return try_lock_private(m) ? 0 : lock_private_slow(m, deadline);
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

/* gr_mutex_lock but for a free normal mutex. */
static __attribute__((noinline)) int lock_slow(struct gr_mutex *m, int64_t deadline)
{
	int kind = m->kind;
	int tid = self_tid();

	if (kind != PTHREAD_MUTEX_NORMAL) {
		if (!kind_valid(kind))
			return EINVAL;
		if (atomic_load_explicit(&m->xowner, memory_order_relaxed) == tid &&
		    word_locked(m)) {
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

int gr_mutex_lock(struct gr_mutex *m, int64_t deadline)
{
	struct gr_g *gp = gr_getg();

	/* The common case inline, without a call: a normal mutex, free, and a thread green
	 * knows (lock_slow adopts others). */
	if (__builtin_expect(m->kind == PTHREAD_MUTEX_NORMAL && gp != NULL, 1) &&
	    try_lock_private(m)) {
		atomic_store_explicit(&m->xowner, gp->tid, memory_order_relaxed);
		m->count = 1;
		return 0;
	}
	return lock_slow(m, deadline);
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
		    word_locked(m)) {
			if (m->count == UINT_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
		if ((kind & GR_MUTEX_ROBUST) && m->nusers == GR_ROBUST_NOTRECOVERABLE)
			return ENOTRECOVERABLE;
	}
	if (!(is_shared(m) ? try_acquire(m) : try_lock_private(m)))
		return EBUSY;
	if (kind & GR_MUTEX_ROBUST)
		return robust_acquired(m, tid);
	atomic_store_explicit(&m->xowner, tid, memory_order_relaxed);
	m->count = 1;
	return 0;
}

/* gr_mutex_unlock but for a normal mutex. */
static __attribute__((noinline)) int unlock_slow(struct gr_mutex *m)
{
	int kind = m->kind;

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
	atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
	unlock_word(m);
	return 0;
}

int gr_mutex_unlock(struct gr_mutex *m)
{
	/* The common case inline: a normal mutex (glibc checks no owner for it). */
	if (__builtin_expect(m->kind == PTHREAD_MUTEX_NORMAL, 1)) {
		atomic_store_explicit(&m->xowner, 0, memory_order_relaxed);
		unlock_private(m);
		return 0;
	}
	return unlock_slow(m);
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
