/*
 * Unit tests of shim/lock.c: the runtime lock excludes, sleeps when contended, and counts
 * on the running G the locks it holds (gr_g.nlocks, which signal.c's kicks read).  The
 * test's threads are plain pthreads, adopted as foreign Gs.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "real.h"
#include "runtime.h"

static void setup(void)
{
	cr_assert_eq(gr_real_init(), 0);
	gr_foreign_init();
}

TestSuite(lock, .init = setup, .timeout = 30);

#define THREADS 4
#define ROUNDS 100000

static struct gr_lock shared = GR_LOCK_INIT;
static long counter;

static void *add_many(void *arg)
{
	struct gr_g *gp = gr_curg();

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		gr_lock(&shared);
		counter++; /* a lost update shows as a short total */
		gr_unlock(&shared);
	}
	return (void *)(intptr_t)gp->nlocks;
}

Test(lock, excludes_under_contention)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, add_many, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		void *held;
		pthread_join(t[i], &held);
		cr_assert_eq((intptr_t)held, 0, "a thread ended with locks counted");
	}
	cr_assert_eq(counter, (long)THREADS * ROUNDS, "counter %ld", counter);
}

Test(lock, counts_the_locks_a_g_holds)
{
	struct gr_g *gp = gr_curg();
	struct gr_lock a = GR_LOCK_INIT, b = GR_LOCK_INIT;
	int base = gp->nlocks;

	gr_lock(&a);
	cr_assert_eq(gp->nlocks, base + 1);
	cr_assert(gr_trylock(&b));
	cr_assert_eq(gp->nlocks, base + 2);
	cr_assert_not(gr_trylock(&a), "a held lock is not taken twice");
	cr_assert_eq(gp->nlocks, base + 2, "a failed trylock counts nothing");
	gr_unlock(&b);
	cr_assert_eq(gp->nlocks, base + 1);
	gr_unlock(&a);
	cr_assert_eq(gp->nlocks, base);
}

static struct gr_lock contended = GR_LOCK_INIT;
static _Atomic int waiting;

static void *take_contended(void *arg)
{
	struct gr_g *gp = gr_curg();

	(void)arg;
	atomic_store(&waiting, 1);
	gr_lock(&contended); /* sleeps: the main thread holds it */
	int n = gp->nlocks;
	gr_unlock(&contended);
	return (void *)(intptr_t)(n * 10 + gp->nlocks);
}

Test(lock, counts_once_after_sleeping)
{
	pthread_t t;
	void *r;

	gr_lock(&contended);
	cr_assert_eq(pthread_create(&t, NULL, take_contended, NULL), 0);
	while (!atomic_load(&waiting))
		sched_yield();
	/* Held long enough for the other thread to spin out and sleep most of the time;
	 * either way it must count the lock once while it holds it. */
	for (volatile int i = 0; i < 1000000; i++)
		;
	gr_unlock(&contended);
	pthread_join(t, &r);
	cr_assert_eq((intptr_t)r, 10, "held: 1 lock counted, released: 0");
}
