/*
 * idle - a process whose threads are all blocked burns no CPU.
 *
 * Usage: idle [window_ms=2000]
 *
 * Eight threads block: three in pthread_cond_wait with nobody signalling, three in one
 * long nanosleep (window + 1 s), two in read() on pipes nobody writes yet. When all eight
 * have announced that they are about to block, main measures the process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, every thread of the process, runtime threads included) over
 * a window of window_ms while it sleeps itself, then wakes the threads (broadcast, write
 * one byte to each pipe, the sleepers end on their own) and joins them.
 *
 * Prints idle_cpu_ms, idle_cpu_pct (CPU time / wall time of the window, in %), and
 * IDLE=ok when the percentage is under 1, else IDLE=FAIL (exit 1). This is not a speed
 * test: it is the contract that an idle process does not spin. The first values vary
 * with the machine; only IDLE= is meant for comparison.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;	/* the cond waiters */
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static int wake, ready;
static long sleep_ms;
static int pipes[2][2];

static void announce(void)
{
	pthread_mutex_lock(&mu);
	ready++;
	pthread_cond_signal(&ready_cv);
	pthread_mutex_unlock(&mu);
}

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ready++;
	pthread_cond_signal(&ready_cv);
	while (!wake)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	announce();
	struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
	return NULL;
}

static void *reader(void *arg)
{
	int fd = *(int *)arg;
	announce();
	char c;
	return (void *)(long)read(fd, &c, 1);
}

static double ts_s(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long window_ms = argc > 1 ? atol(argv[1]) : 2000;
	if (window_ms <= 0) {
		fprintf(stderr, "usage: %s [window_ms>0]\n", argv[0]);
		return 2;
	}
	sleep_ms = window_ms + 1000;
	pthread_t t[8];
	int n = 0;
	for (int i = 0; i < 2; i++)
		if (pipe(pipes[i]) != 0) {
			printf("ERROR: pipe\n");
			return 1;
		}
	for (int i = 0; i < 3; i++)
		pthread_create(&t[n++], NULL, cond_waiter, NULL);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[n++], NULL, sleeper, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[n++], NULL, reader, &pipes[i][0]);

	pthread_mutex_lock(&mu);
	while (ready < n)
		pthread_cond_wait(&ready_cv, &mu);
	pthread_mutex_unlock(&mu);

	double c0 = ts_s(CLOCK_PROCESS_CPUTIME_ID), w0 = ts_s(CLOCK_MONOTONIC);
	struct timespec ts = {window_ms / 1000, (window_ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
	double c1 = ts_s(CLOCK_PROCESS_CPUTIME_ID), w1 = ts_s(CLOCK_MONOTONIC);

	pthread_mutex_lock(&mu);
	wake = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 2; i++)
		if (write(pipes[i][1], "x", 1) != 1)
			printf("ERROR: write\n");
	long reads_ok = 0;
	for (int i = 0; i < n; i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		if (i >= 6)
			reads_ok += (long)r == 1;
	}
	double pct = (c1 - c0) / (w1 - w0) * 100.0;
	printf("threads=%d\n", n);
	printf("reads_ok=%ld\n", reads_ok);
	printf("idle_cpu_ms=%.2f\n", (c1 - c0) * 1e3);
	printf("idle_cpu_pct=%.3f\n", pct);
	int ok = pct < 1.0 && reads_ok == 2;
	printf("IDLE=%s\n", ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
