/*
 * sig_runnable: a signal sent to a thread that is runnable but not running.  A spinner
 * busy-waits for a flag that only its SIGUSR1 handler sets.
 *  - preempted: a sender waits until the spinner spins, then pthread_kill()s it.  With one
 *    CPU for both (GREEN_MAXPROCS=1) the sender runs only while the spinner is
 *    preempted, so the signal finds it in a run queue, and its handler must run when it
 *    resumes.  Regression: under green nobody delivered it there, and the spinner spun
 *    for ever.
 *  - in_green: the signal arrives while the target is inside pthread_create (green
 *    defers the kick while it holds runtime state, or finds the target on its M's own
 *    TCB for TLS set-up), and the target then spins without calling green again.
 *    Regression: the signal stayed pending for ever (about 3 runs in 4 at
 *    GREEN_MAXPROCS=2).
 * Prints one line per scenario, then SPINSIG=ok.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t got;
static atomic_int spinning, creating;
static pthread_t spinner;

static void on_usr1(int sig)
{
	(void)sig;
	got = 1;
}

static void *spin(void *arg)
{
	(void)arg;
	atomic_store(&spinning, 1);
	while (!got)
		;
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	while (!atomic_load(&spinning))
		sched_yield();
	pthread_kill(spinner, SIGUSR1);
	return NULL;
}

static void *noop(void *arg)
{
	return arg;
}

/* Creates detached threads until its handler runs (at most 5000), then spins for it. */
static void *create_then_spin(void *arg)
{
	pthread_attr_t at;

	(void)arg;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	atomic_store(&creating, 1);
	for (int i = 0; i < 5000 && !got; i++) {
		pthread_t t;
		if (pthread_create(&t, &at, noop, NULL) != 0)
			break;
	}
	while (!got)
		;
	return NULL;
}

static int preempted(void)
{
	pthread_t s;

	if (pthread_create(&spinner, NULL, spin, NULL) != 0 ||
	    pthread_create(&s, NULL, sender, NULL) != 0)
		return -1;
	pthread_join(s, NULL);
	pthread_join(spinner, NULL);
	return 0;
}

static int in_green(void)
{
	got = 0;
	if (pthread_create(&spinner, NULL, create_then_spin, NULL) != 0)
		return -1;
	while (!atomic_load(&creating))
		sched_yield();
	pthread_kill(spinner, SIGUSR1);
	pthread_join(spinner, NULL);
	return 0;
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	if (preempted() != 0 || in_green() != 0) {
		printf("ERROR: pthread_create\n");
		return 1;
	}
	printf("preempted=ok\nin_green=ok\n");
	printf("SPINSIG=ok\n");
	return 0;
}
