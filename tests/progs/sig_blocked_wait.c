/*
 * sig_blocked_wait: a signal sent to a thread blocked in a call that is not a
 * cancellation point runs its handler while the thread stays blocked, as a futex wait
 * does natively.  Garbage collectors stop threads this way (Boehm GC's pthread_kill and
 * an acknowledgement from the handler), whatever each thread is blocked in.  For each
 * call, a thread blocks on an object the main thread holds; main sends SIGUSR1 and waits
 * for the handler's sem_post before it releases the object.  Regression: under green
 * such a thread was parked where no signal reached it, and main waited for ever.
 * Prints MUTEX=, RWLOCK=, BARRIER=, ONCE=, FUTEX= ok (handled while blocked, then the
 * call completed normally) or FAIL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static sem_t ack;
static atomic_int about_to_block;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_release, once_runs;
static atomic_uint futex_word;

static void on_usr1(int sig)
{
	(void)sig;
	sem_post(&ack);
}

static void *block_mutex(void *arg)
{
	(void)arg;
	atomic_store(&about_to_block, 1);
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *block_rwlock(void *arg)
{
	(void)arg;
	atomic_store(&about_to_block, 1);
	pthread_rwlock_wrlock(&rw);
	pthread_rwlock_unlock(&rw);
	return NULL;
}

static void *block_barrier(void *arg)
{
	(void)arg;
	atomic_store(&about_to_block, 1);
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void init_once(void)
{
	atomic_fetch_add(&once_runs, 1);
	while (!atomic_load(&once_release))
		sched_yield();
}

static void *run_once(void *arg)
{
	(void)arg;
	pthread_once(&once, init_once);
	return NULL;
}

static void *block_once(void *arg)
{
	(void)arg;
	while (!atomic_load(&once_runs)) /* the other thread runs init_once */
		sched_yield();
	atomic_store(&about_to_block, 1);
	pthread_once(&once, init_once);
	return NULL;
}

static void *block_futex(void *arg)
{
	(void)arg;
	atomic_store(&about_to_block, 1);
	while (atomic_load(&futex_word) == 0)
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

/* Starts fn, lets it block, signals it and waits for the handler; then release() lets
 * the call complete.  Returns "ok" or "FAIL". */
static const char *check(void *(*fn)(void *), void (*release)(void))
{
	pthread_t t;
	struct timespec dl;

	atomic_store(&about_to_block, 0);
	if (pthread_create(&t, NULL, fn, NULL) != 0)
		return "FAIL";
	while (!atomic_load(&about_to_block))
		sched_yield();
	for (int i = 0; i < 10; i++) /* with one CPU, the thread reaches its wait */
		sched_yield();
	pthread_kill(t, SIGUSR1);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	int r;
	while ((r = sem_timedwait(&ack, &dl)) != 0 && errno == EINTR)
		;
	release();
	pthread_join(t, NULL);
	return r == 0 ? "ok" : "FAIL";
}

static void release_mutex(void)
{
	pthread_mutex_unlock(&mu);
}

static void release_rwlock(void)
{
	pthread_rwlock_unlock(&rw);
}

static void release_barrier(void)
{
	pthread_barrier_wait(&barrier);
}

static void release_once(void)
{
	atomic_store(&once_release, 1);
}

static void release_futex(void)
{
	atomic_store(&futex_word, 1);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sem_init(&ack, 0, 0);
	pthread_barrier_init(&barrier, NULL, 2);

	pthread_mutex_lock(&mu);
	printf("MUTEX=%s\n", check(block_mutex, release_mutex));
	pthread_rwlock_rdlock(&rw);
	printf("RWLOCK=%s\n", check(block_rwlock, release_rwlock));
	printf("BARRIER=%s\n", check(block_barrier, release_barrier));
	pthread_t runner;
	pthread_create(&runner, NULL, run_once, NULL);
	printf("ONCE=%s\n", check(block_once, release_once));
	pthread_join(runner, NULL);
	printf("FUTEX=%s\n", check(block_futex, release_futex));
	return 0;
}
