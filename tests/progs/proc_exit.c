/*
 * proc_exit - the ways a threaded process ends, one per run: proc_exit MODE
 *   exit_thread     a thread calls exit(7) while others sleep and wait: status 7
 *   main_return     main returns 3 while other threads block: status 3
 *   pthread_exit    main calls pthread_exit; the last thread prints and returns: status 0
 *   abort_thread    a thread calls abort(): killed by SIGABRT
 *   segv_thread     a thread dereferences NULL: killed by SIGSEGV
 *   raise_term      a thread raises SIGTERM (default action): killed by SIGTERM
 *   kill_process    main kill()s the process with SIGTERM while threads block it
 *                   except one: killed by SIGTERM
 * An atexit handler prints `atexit=yes` where exit handlers run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static const char *mode;
static pthread_t main_thread;

static void on_exit_print(void)
{
	printf("atexit=yes\n");
}

static void *blocker(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return NULL;
}

static void *sleeper(void *a)
{
	(void)a;
	for (;;) {
		struct timespec ts = {100, 0};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *actor(void *a)
{
	(void)a;
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL);
	if (!strcmp(mode, "exit_thread"))
		exit(7);
	if (!strcmp(mode, "abort_thread"))
		abort();
	if (!strcmp(mode, "segv_thread"))
		*(volatile int *)(uintptr_t)(a) = 1;
	if (!strcmp(mode, "raise_term"))
		raise(SIGTERM);
	if (!strcmp(mode, "pthread_exit")) {
		pthread_join(main_thread, NULL);
		printf("last_thread=yes\n");
		return NULL;
	}
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	mode = argc > 1 ? argv[1] : "exit_thread";
	main_thread = pthread_self();
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(on_exit_print);
	pthread_t t;
	if (!strcmp(mode, "kill_process")) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		pthread_create(&t, NULL, blocker, NULL);
		pthread_create(&t, NULL, sleeper, NULL);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* only main takes it */
		kill(getpid(), SIGTERM);
		for (;;)
			pause();
	}
	if (strcmp(mode, "pthread_exit")) { /* else the process would live on with them */
		pthread_create(&t, NULL, blocker, NULL);
		pthread_create(&t, NULL, sleeper, NULL);
	}
	pthread_create(&t, NULL, actor, NULL);
	if (!strcmp(mode, "main_return"))
		return 3;
	if (!strcmp(mode, "pthread_exit"))
		pthread_exit(NULL);
	for (;;)
		pause();
}
