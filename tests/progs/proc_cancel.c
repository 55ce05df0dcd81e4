/*
 * proc_cancel - deferred and asynchronous cancellation at the cancellation points green
 * parks in (condition wait, nanosleep, join, sigwait, read on a pipe), cleanup handlers,
 * the cancel-state and cancel-type rules, and self-cancellation.
 *
 * Prints one `name=value` line per check (facts only), so the preload test compares the
 * whole stdout natively and under green.  Threads report that they reached their
 * blocking call through a counter under a mutex; a cancellation that arrives before the
 * call is acted on there anyway (deferred cancellation is sticky), so no sleep orders
 * anything.  Final line: `END=ok`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int cleanups, ready;
static int pfd[2];
static pthread_t forever;

static void cleanup(void *arg)
{
	if (arg == &mu)
		pthread_mutex_unlock(&mu);
	atomic_fetch_add(&cleanups, 1);
}

static void *in_cond(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	pthread_cleanup_push(cleanup, &mu);
	atomic_fetch_add(&ready, 1);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_timedcond(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	pthread_cleanup_push(cleanup, &mu);
	atomic_fetch_add(&ready, 1);
	for (;;) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 100;
		pthread_cond_timedwait(&cv, &mu, &dl);
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_sleep(void *a)
{
	(void)a;
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	for (;;) {
		struct timespec ts = {100, 0};
		nanosleep(&ts, NULL);
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static void *never_ends(void *a)
{
	(void)a;
	for (;;) {
		struct timespec ts = {100, 0};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *in_join(void *a)
{
	(void)a;
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	pthread_join(forever, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_sigwait(void *a)
{
	(void)a;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	for (;;) {
		int sig;
		sigwait(&s, &sig);
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_read(void *a)
{
	(void)a;
	char c;
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	for (;;)
		(void)!read(pfd[0], &c, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static atomic_int disabled_reached, cancels_sent;
static void *disabled(void *a)
{
	(void)a;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	atomic_fetch_add(&ready, 1);
	/* The request arrives meanwhile and is ignored, at cancellation points too.  Waiting
	 * for main to have sent it, not for a time: a loaded machine may take any time. */
	struct timespec ts = {0, 1000 * 1000};
	while (!atomic_load(&cancels_sent))
		nanosleep(&ts, NULL);
	atomic_store(&disabled_reached, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_testcancel();
	return (void *)7;
}

static atomic_int async_spins;
static void *async_busy(void *a)
{
	(void)a;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	for (unsigned long i = 1;; i++) {
		atomic_fetch_add_explicit(&async_spins, 1, memory_order_relaxed);
		if (i % (1ul << 22) == 0)
			sched_yield(); /* lets main run on one P without preemption */
	}
	pthread_cleanup_pop(0);
	return NULL;
}

static void *self_cancel(void *a)
{
	(void)a;
	pthread_cleanup_push(cleanup, NULL);
	pthread_cancel(pthread_self());
	atomic_fetch_add(&ready, 1);
	pthread_testcancel();
	pthread_cleanup_pop(0);
	return NULL;
}

static void *exits(void *a)
{
	(void)a;
	pthread_cleanup_push(cleanup, NULL);
	atomic_fetch_add(&ready, 1);
	pthread_exit((void *)42);
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	if (pipe(pfd))
		return 1;
	pthread_create(&forever, NULL, never_ends, NULL);
	void *(*fns[])(void *) = {in_cond, in_timedcond, in_sleep, in_join, in_sigwait,
				  in_read, disabled, async_busy, self_cancel, exits};
	const char *names[] = {"cond_wait", "cond_timedwait", "nanosleep", "join", "sigwait",
			       "read", "disabled", "async", "self", "pthread_exit"};
	int n = sizeof fns / sizeof fns[0];
	pthread_t t[16];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fns[i], NULL);
	while (atomic_load(&ready) < n)
		sched_yield();
	for (int i = 0; i < n; i++)
		if (fns[i] != self_cancel && fns[i] != exits)
			pthread_cancel(t[i]);
	atomic_store(&cancels_sent, 1);
	for (int i = 0; i < n; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		printf("%s=%s\n", names[i],
		       rv == PTHREAD_CANCELED ? "cancelled" : rv == (void *)42 ? "exited" : "other");
	}
	printf("disabled_reached=%d cleanups=%d\n", atomic_load(&disabled_reached),
	       atomic_load(&cleanups));
	printf("mutex_free=%s\n", pthread_mutex_trylock(&mu) == 0 ? "yes" : "no");
	pthread_mutex_unlock(&mu);
	pthread_cancel(forever);
	pthread_join(forever, NULL);
	printf("END=ok\n");
	return 0;
}
