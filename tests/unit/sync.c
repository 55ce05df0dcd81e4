/*
 * Unit tests of shim/park.c, mutex.c, cond.c, rwlock.c, barrier.c, sem.c, once.c and
 * futex.c, driven with no scheduler running: the test's threads are plain pthreads, which
 * the shim adopts as foreign Gs (they block their OS thread on a futex), so every path
 * but the G-parking one runs here; tests/preload/sync.c covers Gs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "park.h"
#include "real.h"
#include "runtime.h"
#include "sync.h"
#include "timer.h"

static void setup(void)
{
	cr_assert_eq(gr_real_init(), 0);
	gr_foreign_init(); /* adopted threads' Gs are freed when they exit */
}

TestSuite(park, .init = setup, .timeout = 20);
TestSuite(mutex, .init = setup, .timeout = 20);
TestSuite(futex, .init = setup, .timeout = 20);
TestSuite(objects, .init = setup, .timeout = 30);

#define MS 1000000ll

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

static intptr_t join(pthread_t t)
{
	void *r;
	pthread_join(t, &r);
	return (intptr_t)r;
}

/* Waits until n threads have announced (just before parking) that they will park; a
 * waker then retries until its wake finds them queued. */
static void await_count(_Atomic int *c, int n)
{
	while (atomic_load(c) < n)
		sched_yield();
}

/* ---- park ------------------------------------------------------------------------- */

static int word;
static _Atomic int parked, order[8], norder;

static void *parker(void *arg)
{
	atomic_fetch_add(&parked, 1);
	int r = gr_park_wait(&word, NULL, NULL, 0, 0);
	order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)arg;
	return (void *)(intptr_t)r;
}

Test(park, wait_times_out)
{
	int64_t t0 = gr_nanotime();
	cr_assert_eq(gr_park_wait(&word, NULL, NULL, t0 + 20 * MS, 0), -ETIMEDOUT);
	cr_assert_geq(gr_nanotime() - t0, 19 * MS);
	cr_assert_eq(gr_park_wait(&word, NULL, NULL, 1, 0), -ETIMEDOUT, "a past deadline");
}

static bool never(const void *addr, void *arg)
{
	(void)addr;
	(void)arg;
	return false;
}

Test(park, may_sleep_false_is_eagain)
{
	cr_assert_eq(gr_park_wait(&word, never, NULL, 0, 0), -EAGAIN);
}

Test(park, wake_nobody_returns_zero)
{
	cr_assert_eq(gr_park_wake(&word, 1, 0), 0);
	cr_assert_eq(gr_park_handoff(&word), 0);
}

Test(park, wakes_one_at_a_time)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		t[i] = spawn(parker, (void *)(intptr_t)i);
		await_count(&parked, i + 1);
	}
	for (int i = 0; i < 3; i++) {
		while (gr_park_wake(&word, 1, 0) == 0)
			sched_yield();
		while (atomic_load(&norder) < i + 1)
			sched_yield();
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(join(t[i]), 0);
	cr_assert_eq(norder, 3);
}

static int hword;
static _Atomic int hparked;
static void *handoff_waiter(void *arg)
{
	(void)arg;
	atomic_fetch_add(&hparked, 1);
	return (void *)(intptr_t)gr_park_wait(&hword, NULL, NULL, 0, 0);
}

Test(park, handoff_returns_one_to_the_waiter)
{
	pthread_t t = spawn(handoff_waiter, NULL);
	await_count(&hparked, 1);
	while (gr_park_handoff(&hword) == 0)
		sched_yield();
	cr_assert_eq(join(t), 1);
}

/* gr_park_wake_decide (issue 3): the caller's decision runs under the queue's lock once
 * the oldest waiter is claimed, or with woken false when nobody (alive) waits. */
static _Atomic int dword, dparked, dcalls, dlast = -1;
static bool dword_zero(const void *addr, void *arg)
{
	(void)arg;
	return atomic_load((_Atomic int *)addr) == 0;
}
static void *decide_waiter(void *arg)
{
	int r;
	atomic_fetch_add(&dparked, 1);
	/* EAGAIN: a decide ran before this waiter was queued; the test resets the word. */
	while ((r = gr_park_wait(&dword, dword_zero, NULL, (int64_t)(intptr_t)arg, 0)) == -EAGAIN)
		sched_yield();
	return (void *)(intptr_t)r;
}
static void decide_set(const void *addr, void *arg, bool woken)
{
	(void)arg;
	atomic_store((_Atomic int *)addr, 1);
	atomic_fetch_add(&dcalls, 1);
	atomic_store(&dlast, woken);
}

Test(park, wake_decide_tells_whether_it_woke)
{
	cr_assert_eq(gr_park_wake_decide(&dword, decide_set, NULL), 0);
	cr_assert_eq(atomic_load(&dcalls), 1);
	cr_assert_eq(atomic_load(&dlast), 0, "nobody waited");

	atomic_store(&dword, 0);
	pthread_t t = spawn(decide_waiter, NULL);
	await_count(&dparked, 1);
	int n = 0;
	while ((n = gr_park_wake_decide(&dword, decide_set, NULL)) == 0)
		atomic_store(&dword, 0); /* not queued yet: let it sleep */
	cr_assert_eq(n, 1);
	cr_assert_eq(atomic_load(&dlast), 1, "decide saw the claimed waiter");
	cr_assert_eq(join(t), 0, "woken, not EAGAIN");
	cr_assert_eq(atomic_load(&dword), 1);

	/* A waiter that timed out is not woken, and decide hears so. */
	atomic_store(&dword, 0);
	t = spawn(decide_waiter, (void *)(intptr_t)(gr_nanotime() + 20 * MS));
	cr_assert_eq(join(t), (intptr_t)-ETIMEDOUT);
	cr_assert_eq(gr_park_wake_decide(&dword, decide_set, NULL), 0);
	cr_assert_eq(atomic_load(&dlast), 0);
}

static int bword;
static _Atomic int bparked;
static void *bits_waiter(void *arg)
{
	atomic_fetch_add(&bparked, 1);
	return (void *)(intptr_t)gr_park_wait(&bword, NULL, NULL, gr_nanotime() + 300 * MS,
	                                      (uint32_t)(intptr_t)arg);
}

Test(park, wake_bits_filter)
{
	pthread_t t = spawn(bits_waiter, (void *)2);
	await_count(&bparked, 1);
	/* Mask 1 never matches the waiter's 2: it times out. */
	int64_t end = gr_nanotime() + 100 * MS;
	while (gr_nanotime() < end)
		cr_assert_eq(gr_park_wake(&bword, 1, 1), 0);
	while (gr_park_wake(&bword, 1, 2) == 0)
		sched_yield();
	cr_assert_eq(join(t), 0);
}

/* ---- mutexes ---------------------------------------------------------------------- */

static struct gr_mutex *shared_m;
static void *try_other(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gr_mutex_trylock(shared_m);
}
static void *unlock_other(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gr_mutex_unlock(shared_m);
}

static void init_kind(struct gr_mutex *m, int type, bool robust)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	cr_assert_eq(gr_mutex_init(m, &a), 0);
	pthread_mutexattr_destroy(&a);
}

Test(mutex, zeroed_is_normal_and_works)
{
	struct gr_mutex m = { 0 };
	cr_assert_eq(gr_mutex_lock(&m, 0), 0);
	cr_assert_eq(gr_mutex_trylock(&m), EBUSY);
	cr_assert_eq(gr_mutex_destroy(&m), EBUSY);
	cr_assert_eq(gr_mutex_unlock(&m), 0);
	cr_assert_eq(gr_mutex_destroy(&m), 0);
	cr_assert_eq(gr_mutex_lock(&m, 0), EINVAL, "a destroyed mutex");
}

Test(mutex, errorcheck_errors)
{
	struct gr_mutex m;
	init_kind(&m, PTHREAD_MUTEX_ERRORCHECK, false);
	cr_assert_eq(gr_mutex_unlock(&m), EPERM);
	cr_assert_eq(gr_mutex_lock(&m, 0), 0);
	cr_assert_eq(gr_mutex_lock(&m, 0), EDEADLK);
	cr_assert_eq(gr_mutex_trylock(&m), EBUSY);
	shared_m = &m;
	cr_assert_eq(join(spawn(unlock_other, NULL)), EPERM);
	cr_assert_eq(join(spawn(try_other, NULL)), EBUSY);
	cr_assert_eq(gr_mutex_unlock(&m), 0);
}

Test(mutex, recursive_counts)
{
	struct gr_mutex m;
	init_kind(&m, PTHREAD_MUTEX_RECURSIVE, false);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(gr_mutex_lock(&m, 0), 0);
	cr_assert_eq(gr_mutex_trylock(&m), 0);
	cr_assert_eq(m.count, 6);
	shared_m = &m;
	cr_assert_eq(join(spawn(try_other, NULL)), EBUSY);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(gr_mutex_unlock(&m), 0);
	cr_assert_eq(gr_mutex_unlock(&m), EPERM);
}

Test(mutex, timedlock_times_out_with_both_clocks)
{
	struct gr_mutex m = { 0 };
	gr_mutex_lock(&m, 0);
	shared_m = &m;
	int64_t t0 = gr_nanotime();
	cr_assert_eq(gr_mutex_lock(&m, t0 + 20 * MS), ETIMEDOUT);
	cr_assert_geq(gr_nanotime() - t0, 19 * MS);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * MS;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	cr_assert_eq(gr_mutex_clocklock(&m, CLOCK_REALTIME, &ts), ETIMEDOUT);
	struct timespec bad = { 0, 1000000000 };
	cr_assert_eq(gr_mutex_clocklock(&m, CLOCK_MONOTONIC, &bad), EINVAL);
	cr_assert_eq(gr_mutex_clocklock(&m, CLOCK_THREAD_CPUTIME_ID, &ts), EINVAL);
	gr_mutex_unlock(&m);
	cr_assert_eq(gr_mutex_clocklock(&m, CLOCK_MONOTONIC, &bad), 0, "free: no check");
	gr_mutex_unlock(&m);
}

static struct gr_mutex robust_m;
static void *lock_and_vanish(void *arg)
{
	(void)arg;
	cr_assert_eq(gr_mutex_lock(&robust_m, 0), 0);
	gr_mutex_robust_exit(gr_curg()); /* what g_finish does for a G */
	return NULL;
}

Test(mutex, robust_owner_death)
{
	init_kind(&robust_m, PTHREAD_MUTEX_NORMAL, true);
	join(spawn(lock_and_vanish, NULL));
	cr_assert_eq(gr_mutex_lock(&robust_m, 0), EOWNERDEAD);
	cr_assert_eq(gr_mutex_consistent(&robust_m), 0);
	cr_assert_eq(gr_mutex_consistent(&robust_m), EINVAL);
	cr_assert_eq(gr_mutex_unlock(&robust_m), 0);
	join(spawn(lock_and_vanish, NULL));
	cr_assert_eq(gr_mutex_trylock(&robust_m), EOWNERDEAD);
	cr_assert_eq(gr_mutex_unlock(&robust_m), 0);
	cr_assert_eq(gr_mutex_lock(&robust_m, 0), ENOTRECOVERABLE);
	cr_assert_eq(gr_mutex_trylock(&robust_m), ENOTRECOVERABLE);
}

static struct gr_mutex cm;
static long ccount;
static void *contend(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		gr_mutex_lock(&cm, 0);
		ccount++;
		gr_mutex_unlock(&cm);
	}
	return NULL;
}

Test(mutex, contended_count_exact)
{
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = spawn(contend, NULL);
	for (int i = 0; i < 8; i++)
		join(t[i]);
	cr_assert_eq(ccount, 8 * 20000);
	cr_assert_eq(atomic_load(&cm.xlock), 0);
}

/* The word of a free private mutex may carry waiter flags (2 waiters may be parked, 8 a
 * woken waiter on its way; issue 3): it is still free for lock, trylock and destroy, and
 * the flags stay for the woken waiter. */
Test(mutex, free_word_with_waiter_flags_is_free)
{
	struct gr_mutex m = { 0 };
	atomic_store(&m.xlock, 8);
	cr_assert(!gr_mutex_held(&m));
	cr_assert_eq(gr_mutex_trylock(&m), 0);
	cr_assert(gr_mutex_held(&m));
	cr_assert_eq(gr_mutex_trylock(&m), EBUSY);
	cr_assert_eq(gr_mutex_destroy(&m), EBUSY);
	cr_assert_eq(gr_mutex_unlock(&m), 0);
	cr_assert_eq(atomic_load(&m.xlock), 8, "the woken waiter's flag stays");
	atomic_store(&m.xlock, 2 | 8);
	cr_assert_eq(gr_mutex_lock(&m, 0), 0);
	cr_assert_eq(atomic_load(&m.xlock), 1 | 2 | 8);
	cr_assert_eq(gr_mutex_unlock(&m), 0, "no wake: one is on its way");
	cr_assert_eq(atomic_load(&m.xlock), 2 | 8);
	cr_assert_eq(gr_mutex_destroy(&m), 0);
}

/* In the child of fork, a woken flag the parent left announced a parent thread: an unlock
 * that trusted it would wake nobody for good.  It looks for waiters instead, and clears
 * the flag (issue 3). */
Test(mutex, woken_flag_of_the_parent_is_stale_in_the_child)
{
	struct gr_mutex m = { 0 };
	cr_assert_eq(gr_mutex_lock(&m, 0), 0);
	atomic_fetch_or(&m.xlock, 2 | 8); /* waiters, and a woken one on its way */
	gr_park_fork_child();             /* what fork.c does in the child */
	cr_assert_eq(gr_mutex_unlock(&m), 0);
	cr_assert_eq(atomic_load(&m.xlock), 0, "the parent's woken flag was trusted");
}

/* Lockers that give up (timed out) and lockers that wait mixed on one mutex, with
 * spinning on (two Ps pretended): no wake-up may be lost to a waiter that left, so every
 * blocking locker gets through (issue 3). */
static struct gr_mutex tm;
static long tcount;
static _Atomic long tgaveup;
static void *timed_contend(void *arg)
{
	bool timed = (intptr_t)arg & 1;
	for (int i = 0; i < 2000; i++) {
		int64_t deadline = timed ? gr_nanotime() + 3000 : 0;
		int r = gr_mutex_lock(&tm, deadline);
		if (r == ETIMEDOUT) {
			atomic_fetch_add(&tgaveup, 1);
			continue;
		}
		cr_assert_eq(r, 0);
		tcount++;
		/* Hold it a little, so that lockers queue up and timed ones give up. */
		for (int64_t until = gr_nanotime() + 2000; gr_nanotime() < until;)
			;
		gr_mutex_unlock(&tm);
	}
	return NULL;
}

Test(mutex, timeouts_and_spinning_lose_no_wakeup)
{
	int nprocs = gr_sched.nprocs;
	gr_sched.nprocs = 2; /* foreign threads spin when another P seems to run */
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = spawn(timed_contend, (void *)(intptr_t)i);
	for (int i = 0; i < 8; i++)
		join(t[i]);
	gr_sched.nprocs = nprocs;
	cr_log_info("gave up %ld times", atomic_load(&tgaveup));
	cr_assert_eq(tcount + atomic_load(&tgaveup), 8 * 2000);
	cr_assert_eq(atomic_load(&tm.xlock), 0, "flags left behind");
}

Test(mutex, prio_ceiling)
{
	pthread_mutexattr_t a;
	struct gr_mutex m;
	int c = 0, old = 0;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT);
	pthread_mutexattr_setprioceiling(&a, 7);
	gr_mutex_init(&m, &a);
	cr_assert_eq(gr_mutex_getprioceiling(&m, &c), 0);
	cr_assert_eq(c, 7);
	cr_assert_eq(gr_mutex_setprioceiling(&m, 9, &old), 0);
	cr_assert_eq(old, 7);
	cr_assert_eq(gr_mutex_setprioceiling(&m, 100, &old), EINVAL);
	struct gr_mutex n = { 0 };
	cr_assert_eq(gr_mutex_getprioceiling(&n, &c), EINVAL);
}

/* ---- futex emulation -------------------------------------------------------------- */

static uint32_t fw;
static _Atomic int fparked;
static void *futex_waiter(void *arg)
{
	atomic_fetch_add(&fparked, 1);
	long r = gr_futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, (uint32_t)(intptr_t)arg);
	return (void *)r;
}

Test(futex, wait_value_mismatch_is_eagain)
{
	fw = 1;
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0), -EAGAIN);
	fw = 0;
}

Test(futex, relative_and_absolute_timeouts)
{
	struct timespec rel = { 0, 20 * MS };
	int64_t t0 = gr_nanotime();
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_PRIVATE, 0, (long)&rel, NULL, 0), -ETIMEDOUT);
	cr_assert_geq(gr_nanotime() - t0, 19 * MS);
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20 * MS;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	t0 = gr_nanotime();
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, (long)&abs, NULL, ~0u),
	             -ETIMEDOUT);
	cr_assert_geq(gr_nanotime() - t0, 19 * MS);
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 0;
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, (long)&abs,
	                      NULL, ~0u),
	             -ETIMEDOUT, "realtime now: already past");
	struct timespec bad = { 0, -1 };
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_PRIVATE, 0, (long)&bad, NULL, 0), -EINVAL);
	cr_assert_eq(gr_futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, 0), -EINVAL, "bitset 0");
	cr_assert_eq(gr_futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 0), -EINVAL);
}

Test(futex, wake_counts_and_bitset)
{
	pthread_t a = spawn(futex_waiter, (void *)1), b = spawn(futex_waiter, (void *)2);
	await_count(&fparked, 2);
	long n = 0;
	while ((n += gr_futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, 5, 0, NULL, 2)) == 0)
		sched_yield();
	cr_assert_eq(n, 1);
	cr_assert_eq(join(b), 0);
	while (gr_futex(&fw, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 0)
		sched_yield();
	cr_assert_eq(join(a), 0);
}

static uint32_t rq_from, rq_to;
static _Atomic int rqparked;
static void *rq_waiter(void *arg)
{
	(void)arg;
	atomic_fetch_add(&rqparked, 1);
	return (void *)gr_futex(&rq_from, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
}

Test(futex, cmp_requeue_and_wake_op)
{
	cr_assert_eq(gr_futex(&rq_from, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &rq_to, 7), -EAGAIN);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		t[i] = spawn(rq_waiter, NULL);
	await_count(&rqparked, 3);
	long n = 0;
	/* Wake one, move the rest to rq_to (retry until all three are queued). */
	for (;;) {
		n = gr_futex(&rq_from, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &rq_to, 0);
		if (n == 3)
			break;
		if (n > 0) /* some moved already: move them back to retry */
			gr_futex(&rq_to, FUTEX_REQUEUE_PRIVATE, 0, INT_MAX, &rq_from, 0);
		sched_yield();
	}
	cr_assert_eq(gr_futex(&rq_from, FUTEX_WAKE_PRIVATE, 10, 0, NULL, 0), 0);
	/* WAKE_OP: rq_from += 1 (op on uaddr2), wake 0 on uaddr, wake 3 on uaddr2 if old == 0. */
	uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0);
	n = gr_futex(&rq_from, FUTEX_WAKE_OP_PRIVATE, 0, 3, &rq_to, op);
	cr_assert_eq(n, 3);
	cr_assert_eq(rq_to, 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(join(t[i]), 0);
}

Test(futex, deadline_forever_and_invalid)
{
	struct timespec forever = { LONG_MAX, 0 }, bad = { 0, 1000000000 };
	cr_assert_eq(gr_sync_deadline(CLOCK_REALTIME, &forever, true), 0);
	cr_assert_eq(gr_sync_deadline(CLOCK_MONOTONIC, &bad, true), -EINVAL);
	cr_assert_eq(gr_sync_deadline(CLOCK_PROCESS_CPUTIME_ID, &forever, true), -EINVAL);
}

/* ---- cond, rwlock, barrier, sem, once -------------------------------------------- */

static struct gr_mutex qm;
static struct gr_cond qc;
static int items;
static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		gr_mutex_lock(&qm, 0);
		items++;
		gr_cond_signal(&qc);
		gr_mutex_unlock(&qm);
	}
	return NULL;
}

Test(objects, cond_no_lost_wakeup)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		t[i] = spawn(producer, NULL);
	int got = 0;
	gr_mutex_lock(&qm, 0);
	while (got < 4 * 5000) {
		while (items == 0)
			gr_cond_wait(&qc, &qm, 0);
		got += items;
		items = 0;
	}
	gr_mutex_unlock(&qm);
	for (int i = 0; i < 4; i++)
		join(t[i]);
	cr_assert_eq(got, 20000);
	int64_t t0 = gr_nanotime();
	gr_mutex_lock(&qm, 0);
	cr_assert_eq(gr_cond_wait(&qc, &qm, t0 + 20 * MS), ETIMEDOUT);
	cr_assert(gr_mutex_held(&qm));
	gr_mutex_unlock(&qm);
	struct gr_mutex em;
	init_kind(&em, PTHREAD_MUTEX_ERRORCHECK, false);
	cr_assert_eq(gr_cond_wait(&qc, &em, 0), EPERM);
}

static struct gr_rwlock rwl;
static void *rw_try_write(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gr_rwlock_trywrlock(&rwl);
}

Test(objects, rwlock_semantics)
{
	memset(&rwl, 0, sizeof rwl);
	cr_assert_eq(gr_rwlock_rdlock(&rwl, 0), 0);
	cr_assert_eq(gr_rwlock_rdlock(&rwl, 0), 0);
	cr_assert_eq(join(spawn(rw_try_write, NULL)), EBUSY);
	cr_assert_eq(gr_rwlock_wrlock(&rwl, gr_nanotime() + 10 * MS), ETIMEDOUT);
	gr_rwlock_unlock(&rwl);
	gr_rwlock_unlock(&rwl);
	cr_assert_eq(gr_rwlock_unlock(&rwl), EPERM);
	cr_assert_eq(gr_rwlock_wrlock(&rwl, 0), 0);
	cr_assert_eq(gr_rwlock_wrlock(&rwl, 0), EDEADLK);
	cr_assert_eq(gr_rwlock_rdlock(&rwl, 0), EDEADLK);
	cr_assert_eq(gr_rwlock_tryrdlock(&rwl), EBUSY);
	cr_assert(gr_rwlock_held_for_write(&rwl));
	cr_assert_eq(gr_rwlock_unlock(&rwl), 0);
}

static struct gr_barrier bar;
static _Atomic int serials;
static void *bar_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++)
		if (gr_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serials, 1);
	return NULL;
}

Test(objects, barrier_one_serial_per_round)
{
	cr_assert_eq(gr_barrier_init(&bar, NULL, 0), EINVAL);
	cr_assert_eq(gr_barrier_init(&bar, NULL, 5), 0);
	pthread_t t[5];
	for (int i = 0; i < 5; i++)
		t[i] = spawn(bar_worker, NULL);
	for (int i = 0; i < 5; i++)
		join(t[i]);
	cr_assert_eq(serials, 200);
	cr_assert_eq(gr_barrier_destroy(&bar), 0);
}

static struct gr_sem sem;
static void *sem_post_later(void *arg)
{
	(void)arg;
	gr_sem_post(&sem);
	return NULL;
}

Test(objects, semaphore)
{
	int v;
	cr_assert_eq(gr_sem_init(&sem, 0, (unsigned)INT_MAX + 1), EINVAL);
	cr_assert_eq(gr_sem_init(&sem, 0, 1), 0);
	cr_assert_eq(gr_sem_trywait(&sem), 0);
	cr_assert_eq(gr_sem_trywait(&sem), EAGAIN);
	cr_assert_eq(gr_sem_wait(&sem, gr_nanotime() + 10 * MS), ETIMEDOUT);
	pthread_t t = spawn(sem_post_later, NULL);
	cr_assert_eq(gr_sem_wait(&sem, 0), 0);
	join(t);
	gr_sem_getvalue(&sem, &v);
	cr_assert_eq(v, 0);
	cr_assert_eq(atomic_load(&sem.xdata) >> 32, 0, "no waiter left registered");
	gr_sem_init(&sem, 1, INT_MAX);
	cr_assert_eq(gr_sem_post(&sem), EOVERFLOW);
	gr_sem_init(&sem, 1, 0); /* process-shared: the kernel-futex path */
	t = spawn(sem_post_later, NULL);
	cr_assert_eq(gr_sem_wait(&sem, 0), 0);
	join(t);
}

static _Atomic int once_ctl;
static _Atomic int once_runs;
static void once_fn(void)
{
	atomic_fetch_add(&once_runs, 1);
}
static void *once_worker(void *arg)
{
	(void)arg;
	gr_once(&once_ctl, once_fn);
	return NULL;
}

Test(objects, once_runs_once)
{
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = spawn(once_worker, NULL);
	for (int i = 0; i < 8; i++)
		join(t[i]);
	cr_assert_eq(once_runs, 1);
	cr_assert_eq(once_ctl, 2);
}

static _Atomic int spinl;
static long spin_count;
static void *spinner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		gr_spin_lock(&spinl);
		spin_count++;
		gr_spin_unlock(&spinl);
	}
	return NULL;
}

Test(objects, spinlock)
{
	cr_assert_eq(gr_spin_trylock(&spinl), 0);
	cr_assert_eq(gr_spin_trylock(&spinl), EBUSY);
	gr_spin_unlock(&spinl);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		t[i] = spawn(spinner, NULL);
	for (int i = 0; i < 4; i++)
		join(t[i]);
	cr_assert_eq(spin_count, 80000);
}

/* Starvation mode (issue 3): a waiter that has waited more than 1 ms gets the lock
 * handed to it, however fast the holder unlocks and relocks. */
static struct gr_mutex sm;
static _Atomic int sm_waiting, sm_got, sm_stop;
static void *starved_waiter(void *arg)
{
	(void)arg;
	atomic_store(&sm_waiting, 1);
	gr_mutex_lock(&sm, 0);
	atomic_store(&sm_got, 1);
	gr_mutex_unlock(&sm);
	return NULL;
}

Test(mutex, starvation_mode_hands_off, .timeout = 20)
{
	bool saw_starving = false;
	gr_mutex_lock(&sm, 0);
	pthread_t t = spawn(starved_waiter, NULL);
	await_count(&sm_waiting, 1);
	int64_t t0 = gr_nanotime();
	/* Hammer: hold for 20 us at a time and release only for an instant, for at most
	 * 5 s, until the waiter got in.  Natively the waiter could starve; here, once it
	 * has waited 1 ms, an unlock must hand the lock over. */
	while (!atomic_load(&sm_got) && gr_nanotime() - t0 < 5000 * MS) {
		int64_t until = gr_nanotime() + 20000;
		while (gr_nanotime() < until)
			;
		saw_starving |= (atomic_load(&sm.xlock) & 4) != 0;
		gr_mutex_unlock(&sm);
		gr_mutex_lock(&sm, 0);
	}
	gr_mutex_unlock(&sm);
	join(t);
	cr_assert(atomic_load(&sm_got));
	cr_assert_lt(gr_nanotime() - t0, 1000 * MS, "the waiter starved");
	(void)saw_starving; /* informative only: the waiter may also win a race */
	cr_assert_eq(atomic_load(&sm.xlock), 0, "starvation mode left behind");
	(void)sm_stop;
}
