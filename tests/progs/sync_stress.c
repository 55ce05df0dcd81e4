/*
 * sync_stress - many threads hammering each synchronization family; every count must
 * come out exact and nothing may hang (a lost wake-up hangs: the preload test's
 * deadline catches it).
 *
 * Usage: sync_stress [threads=32] [iters=2000]
 * Prints one `family=count/expected` line per family and `check=ok` when all match.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static int T, N;
static int failures;

static void report(const char *name, long got, long want)
{
	printf("%s=%ld/%ld\n", name, got, want);
	if (got != want)
		failures++;
}

static void run(void *(*fn)(void *))
{
	pthread_t *t = calloc(T, sizeof *t);
	for (intptr_t i = 0; i < T; i++)
		pthread_create(&t[i], NULL, fn, (void *)i);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/* Mutexes of every kind. */
static pthread_mutex_t mx[4];
static long mcount[4];
static void *mutex_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 4; k++) {
			pthread_mutex_lock(&mx[k]);
			if (k == 1)
				pthread_mutex_lock(&mx[k]); /* recursive */
			mcount[k]++;
			if (k == 1)
				pthread_mutex_unlock(&mx[k]);
			pthread_mutex_unlock(&mx[k]);
		}
	return NULL;
}

/* A bounded queue on one mutex and two condvars: every item is consumed once. */
#define QCAP 8
static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qnotfull = PTHREAD_COND_INITIALIZER, qnotempty = PTHREAD_COND_INITIALIZER;
static long q[QCAP];
static int qhead, qlen;
static long consumed_sum, consumed_n;
static void *queue_worker(void *arg)
{
	intptr_t id = (intptr_t)arg;
	if (id % 2 == 0) { /* producer */
		for (int i = 0; i < N; i++) {
			pthread_mutex_lock(&qm);
			while (qlen == QCAP)
				pthread_cond_wait(&qnotfull, &qm);
			q[(qhead + qlen++) % QCAP] = 1;
			pthread_cond_signal(&qnotempty);
			pthread_mutex_unlock(&qm);
		}
	} else { /* consumer */
		for (int i = 0; i < N; i++) {
			pthread_mutex_lock(&qm);
			while (qlen == 0)
				pthread_cond_wait(&qnotempty, &qm);
			consumed_sum += q[qhead];
			qhead = (qhead + 1) % QCAP;
			qlen--;
			consumed_n++;
			pthread_cond_signal(&qnotfull);
			pthread_mutex_unlock(&qm);
		}
	}
	return NULL;
}

/* Read-write lock: writers increment, readers check the invariant a == b. */
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rwp = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static long rwa[2], rwb[2], rw_bad;
static atomic_long rw_reads;
static void *rw_worker(void *arg)
{
	intptr_t id = (intptr_t)arg;
	int w = id % 2;
	pthread_rwlock_t *l = w ? &rw : &rwp;
	for (int i = 0; i < N; i++) {
		if (i % 4 == 0) {
			pthread_rwlock_wrlock(l);
			rwa[w]++;
			rwb[w]++;
			pthread_rwlock_unlock(l);
		} else {
			pthread_rwlock_rdlock(l);
			if (rwa[w] != rwb[w])
				rw_bad++;
			atomic_fetch_add(&rw_reads, 1);
			pthread_rwlock_unlock(l);
		}
	}
	return NULL;
}

/* Barrier: one serial thread per round, and no thread runs ahead a round. */
static pthread_barrier_t bar;
static atomic_long serial, round_arrivals;
static long round_bad;
static void *barrier_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < N / 10 + 1; i++) {
		atomic_fetch_add(&round_arrivals, 1);
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial, 1);
		if (atomic_load(&round_arrivals) < (long)(i + 1) * T)
			round_bad++;
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

/* Spinlock and semaphore as mutexes. */
static pthread_spinlock_t spin;
static long spin_count;
static sem_t sem;
static long sem_count;
static void *spin_sem_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++) {
		pthread_spin_lock(&spin);
		spin_count++;
		pthread_spin_unlock(&spin);
		sem_wait(&sem);
		sem_count++;
		sem_post(&sem);
	}
	return NULL;
}

/* A futex mutex the way Rust's std writes one: syscall(SYS_futex) directly. */
static atomic_uint fword;
static long fcount;
static void flock(void)
{
	unsigned c = 0;
	if (atomic_compare_exchange_strong(&fword, &c, 1))
		return;
	if (c != 2)
		c = atomic_exchange(&fword, 2);
	while (c != 0) {
		syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = atomic_exchange(&fword, 2);
	}
}
static void funlock(void)
{
	if (atomic_exchange(&fword, 0) == 2)
		syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static void *futex_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++) {
		flock();
		fcount++;
		funlock();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	T = argc > 1 ? atoi(argv[1]) : 32;
	N = argc > 2 ? atoi(argv[2]) : 2000;
	if (T < 2 || T % 2 || N < 1) {
		fprintf(stderr, "usage: sync_stress [even threads>=2] [iters>=1]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_mutexattr_t a;
	int kinds[4] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK,
			PTHREAD_MUTEX_ADAPTIVE_NP};
	for (int k = 0; k < 4; k++) {
		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, kinds[k]);
		pthread_mutex_init(&mx[k], &a);
		pthread_mutexattr_destroy(&a);
	}
	run(mutex_worker);
	report("mutex_normal", mcount[0], (long)T * N);
	report("mutex_recursive", mcount[1], (long)T * N);
	report("mutex_errorcheck", mcount[2], (long)T * N);
	report("mutex_adaptive", mcount[3], (long)T * N);

	run(queue_worker);
	report("queue_items", consumed_n, (long)T / 2 * N);
	report("queue_sum", consumed_sum, (long)T / 2 * N);

	run(rw_worker);
	report("rwlock_writes", rwa[0] + rwa[1], (long)T * ((N + 3) / 4));
	report("rwlock_reads", atomic_load(&rw_reads), (long)T * (N - (N + 3) / 4));
	report("rwlock_torn", rw_bad, 0);

	pthread_barrier_init(&bar, NULL, T);
	run(barrier_worker);
	report("barrier_serial", atomic_load(&serial), N / 10 + 1);
	report("barrier_early", round_bad, 0);

	pthread_spin_init(&spin, 0);
	sem_init(&sem, 0, 1);
	run(spin_sem_worker);
	report("spin", spin_count, (long)T * N);
	report("sem", sem_count, (long)T * N);

	run(futex_worker);
	report("futex", fcount, (long)T * N);

	printf("check=%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
