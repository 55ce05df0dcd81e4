/*
 * sig_runnable: a signal sent to a thread that is runnable but not running.  A spinner
 * busy-waits for a flag that only its SIGUSR1 handler sets; a sender waits until the
 * spinner spins, then pthread_kill()s it.  With one CPU for both (GREEN_MAXPROCS=1) the
 * sender runs only while the spinner is preempted, so the signal finds it in a run
 * queue, and its handler must run when it resumes.  Regression: under green nobody
 * delivered it there, and the spinner spun for ever.
 * Prints SPINSIG=ok.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t got;
static atomic_int spinning;
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

int main(void)
{
	struct sigaction sa;
	pthread_t s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&spinner, NULL, spin, NULL) != 0 ||
	    pthread_create(&s, NULL, sender, NULL) != 0) {
		printf("ERROR: pthread_create\n");
		return 1;
	}
	pthread_join(s, NULL);
	pthread_join(spinner, NULL);
	printf("SPINSIG=ok\n");
	return 0;
}
