/*
 * tls - per-thread state must stay per thread across blocking, and die with the thread.
 *
 * Usage: tls [threads=64] [rounds=20]
 *
 * Each thread, in every round, sets a __thread int, a __thread array and errno to values
 * of its own, then blocks four ways (pthread_cond_wait at a round barrier that every
 * thread must reach, nanosleep, sched_yield, pthread_mutex_lock of a contended mutex).
 * After each it checks the values, that &var, &array and &errno did not move, that
 * pthread_self() did not change and still equals the thread pointer (%fs:0x10, the
 * header.self field of glibc's TCB). Under an M:N runtime the threads migrate between
 * kernel threads at these points, which is what the check is for.
 *
 * It also checks that a new thread sees the TLS initialisation image (initialised
 * __thread data has its initial value, zero-initialised data is zero, even in threads
 * started after others exited) and that all threads had distinct &var and &errno.
 *
 * Thread-specific data destructors at thread exit, as glibc does them
 * (PTHREAD_DESTRUCTOR_ITERATIONS = 4):
 *   key_always: the destructor re-sets the value every time: called 4 times per thread;
 *   key_once:   the destructor re-sets it on the first call only: called 2 times;
 *   key_null:   the value is set back to NULL before exit: never called;
 *   every destructor sees its own thread's value, pthread_self() and __thread data.
 *
 * Output: one `name=value` line per check (deterministic), then TLS=ok or TLS=FAIL.
 * Exit 0 only if every check passed. The first 10 failures are printed as FAIL lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARR 64

static __thread int tv;
static __thread unsigned tarr[ARR];
static __thread int tinit = 4242;		/* .tdata: every thread starts with 4242 */
static __thread char tzero[512];		/* .tbss: every thread starts with zeros */
static __thread long tdtor_id;			/* read by the destructors */

static int nthreads, nrounds;
static atomic_long failures;
static pthread_mutex_t bar_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bar_cv = PTHREAD_COND_INITIALIZER;
static int bar_arrived;
static unsigned long bar_gen;
static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static long contended_count;

static pthread_key_t key_always, key_once, key_null;
static atomic_long calls_always, calls_once, calls_null, dtor_bad;

struct info {
	long id;
	pthread_t self;
	void *tv_addr, *errno_addr;
};
static struct info *infos;

static void fail(long id, int round, const char *where, const char *why)
{
	if (atomic_fetch_add(&failures, 1) < 10)
		printf("FAIL thread=%ld round=%d after %s: %s\n", id, round, where, why);
}

static uintptr_t fs_self(void)
{
	uintptr_t x;
	__asm__ volatile("mov %%fs:0x10,%0" : "=r"(x));
	return x;
}

static void set_values(long id, int round)
{
	tv = (int)(id * 1000 + round);
	for (int i = 0; i < ARR; i++)
		tarr[i] = (unsigned)(id * 7919 + round * 31 + i);
	errno = (int)(1000 + id + round);
}

/* Checks everything after a blocking call; re-sets errno for the next step. */
static void check(struct info *in, int round, const char *where)
{
	int err = errno;
	char why[160] = "";
	if (err != (int)(1000 + in->id + round))
		snprintf(why, sizeof why, "errno=%d want %ld", err, 1000 + in->id + round);
	else if (tv != (int)(in->id * 1000 + round))
		snprintf(why, sizeof why, "tv=%d want %ld", tv, in->id * 1000 + round);
	else if ((void *)&tv != in->tv_addr)
		snprintf(why, sizeof why, "&tv moved");
	else if ((void *)&errno != in->errno_addr)
		snprintf(why, sizeof why, "&errno moved");
	else if (!pthread_equal(pthread_self(), in->self))
		snprintf(why, sizeof why, "pthread_self changed");
	else if (fs_self() != (uintptr_t)pthread_self())
		snprintf(why, sizeof why, "pthread_self != %%fs:0x10");
	else
		for (int i = 0; i < ARR; i++)
			if (tarr[i] != (unsigned)(in->id * 7919 + round * 31 + i)) {
				snprintf(why, sizeof why, "tarr[%d] wrong", i);
				break;
			}
	if (why[0])
		fail(in->id, round, where, why);
	errno = (int)(1000 + in->id + round);
}

/* A barrier made of a condition variable: every thread blocks in pthread_cond_wait. */
static void round_barrier(void)
{
	pthread_mutex_lock(&bar_mu);
	unsigned long gen = bar_gen;
	if (++bar_arrived == nthreads) {
		bar_arrived = 0;
		bar_gen++;
		pthread_cond_broadcast(&bar_cv);
	} else {
		while (gen == bar_gen)
			pthread_cond_wait(&bar_cv, &bar_mu);
	}
	pthread_mutex_unlock(&bar_mu);
}

static void dtor_common(void *v, atomic_long *calls)
{
	atomic_fetch_add(calls, 1);
	struct info *in = &infos[(long)v - 1];
	if (tdtor_id != in->id || !pthread_equal(pthread_self(), in->self) ||
	    fs_self() != (uintptr_t)pthread_self())
		atomic_fetch_add(&dtor_bad, 1);
}

static void dtor_always(void *v)
{
	dtor_common(v, &calls_always);
	pthread_setspecific(key_always, v);	/* forever: glibc stops after 4 rounds */
}

static void dtor_once(void *v)
{
	dtor_common(v, &calls_once);
	if (pthread_getspecific(key_once) == NULL && tinit == 4242) {
		tinit = 0;			/* remember the first call */
		pthread_setspecific(key_once, v);
	}
}

static void dtor_null(void *v)
{
	dtor_common(v, &calls_null);
}

static void *worker(void *arg)
{
	struct info *in = arg;
	in->self = pthread_self();
	in->tv_addr = &tv;
	in->errno_addr = &errno;
	tdtor_id = in->id;
	if (tinit != 4242)
		fail(in->id, -1, "start", "initialised __thread is not 4242");
	for (size_t i = 0; i < sizeof tzero; i++)
		if (tzero[i]) {
			fail(in->id, -1, "start", "zero-initialised __thread is not zero");
			break;
		}
	memset(tzero, 0xab, sizeof tzero);	/* dirty it: a recycled block must be cleared */
	void *v = (void *)(in->id + 1);
	pthread_setspecific(key_always, v);
	pthread_setspecific(key_once, v);
	pthread_setspecific(key_null, v);

	for (int r = 0; r < nrounds; r++) {
		set_values(in->id, r);
		round_barrier();
		check(in, r, "pthread_cond_wait");
		struct timespec ts = {0, 200000 + (in->id % 7) * 50000};
		nanosleep(&ts, NULL);
		check(in, r, "nanosleep");
		sched_yield();
		check(in, r, "sched_yield");
		pthread_mutex_lock(&contended);
		contended_count++;
		sched_yield();			/* others pile up on the mutex */
		pthread_mutex_unlock(&contended);
		check(in, r, "pthread_mutex_lock");
	}
	if (pthread_getspecific(key_always) != v)
		fail(in->id, -1, "rounds", "pthread_getspecific lost its value");
	pthread_setspecific(key_null, NULL);
	return NULL;
}

/* Runs a second generation of threads after the first exited: fresh TLS again. */
static void *late_worker(void *arg)
{
	long *bad = arg;
	*bad = tinit != 4242;
	for (size_t i = 0; i < sizeof tzero; i++)
		*bad |= tzero[i] != 0;
	*bad |= tv != 0 || tarr[0] != 0 || tdtor_id != 0;
	*bad |= pthread_getspecific(key_always) != NULL;
	return NULL;
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 64;
	nrounds = argc > 2 ? atoi(argv[2]) : 20;
	if (nthreads <= 0 || nrounds <= 0) {
		fprintf(stderr, "usage: %s [threads>0] [rounds>0]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_key_create(&key_always, dtor_always) ||
	    pthread_key_create(&key_once, dtor_once) || pthread_key_create(&key_null, dtor_null)) {
		printf("ERROR: pthread_key_create\n");
		return 1;
	}
	infos = calloc(nthreads, sizeof *infos);
	pthread_t *t = calloc(nthreads, sizeof *t);
	if (!infos || !t)
		return 1;
	int main_errno_ok = 1;
	errno = 77;
	for (long i = 0; i < nthreads; i++) {
		infos[i].id = i;
		int rc = pthread_create(&t[i], NULL, worker, &infos[i]);
		if (rc) {
			printf("ERROR: pthread_create failed at %ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	main_errno_ok &= errno == 77;
	for (long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	main_errno_ok &= errno == 77;

	long dup = 0;
	for (long i = 0; i < nthreads; i++)
		for (long j = i + 1; j < nthreads; j++)
			dup += infos[i].tv_addr == infos[j].tv_addr ||
			       infos[i].errno_addr == infos[j].errno_addr;

	long late_bad = 0, late_any = 0;
	for (int i = 0; i < 8; i++) {
		pthread_t lt;
		if (pthread_create(&lt, NULL, late_worker, &late_bad) == 0) {
			pthread_join(lt, NULL);
			late_any |= late_bad;
		} else {
			late_any = 1;
		}
	}

	long f = atomic_load(&failures);
	printf("threads=%d rounds=%d\n", nthreads, nrounds);
	printf("values_and_addresses=%s\n", f ? "FAIL" : "ok");
	printf("distinct_tls_and_errno=%s\n", dup ? "FAIL" : "ok");
	printf("main_errno_kept=%s\n", main_errno_ok ? "ok" : "FAIL");
	printf("main_self_is_fs=%s\n", fs_self() == (uintptr_t)pthread_self() ? "ok" : "FAIL");
	printf("fresh_tls_in_new_threads=%s\n", late_any ? "FAIL" : "ok");
	printf("mutex_count=%ld\n", contended_count);
	printf("key_always_calls=%ld\n", atomic_load(&calls_always));
	printf("key_once_calls=%ld\n", atomic_load(&calls_once));
	printf("key_null_calls=%ld\n", atomic_load(&calls_null));
	printf("destructor_context=%s\n", atomic_load(&dtor_bad) ? "FAIL" : "ok");
	long want_always = (long)nthreads * PTHREAD_DESTRUCTOR_ITERATIONS;
	int ok = !f && !dup && main_errno_ok && !late_any &&
		 contended_count == (long)nthreads * nrounds &&
		 atomic_load(&calls_always) == want_always &&
		 atomic_load(&calls_once) == 2L * nthreads && atomic_load(&calls_null) == 0 &&
		 atomic_load(&dtor_bad) == 0 && fs_self() == (uintptr_t)pthread_self();
	printf("TLS=%s\n", ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
