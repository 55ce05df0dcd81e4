/*
 * sched_wake - a thread readied by one that keeps running gets a processor of its own.
 *
 * Usage: sched_wake [rounds=200]
 *
 * Each round first creates and joins a few threads one after another (the joiner parks
 * and the new thread runs next on its processor: a hand-off), computes for 200us (long
 * enough for an M that looked for work to give up), then creates one thread that sets a
 * flag and busy-waits, without any call into green, until that flag is set.  Natively
 * the two run on different CPUs.  Under green with preemption off (GREEN_PREEMPT=0) and
 * two or more Ps the new thread can only run on another P: green, which defers waking an
 * M for a thread readied into runnext after hand-offs, must still wake one.
 *
 * Prints WAKE=ok after all rounds.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_int flag;

static void compute_for_ns(long ns)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ns);
}

static void *handoff(void *arg)
{
	return arg;
}

static void *set_flag(void *arg)
{
	atomic_store(&flag, 1);
	return arg;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;

	for (int i = 0; i < rounds; i++) {
		pthread_t t;
		for (int j = 0; j < 4; j++) {
			if (pthread_create(&t, NULL, handoff, NULL) || pthread_join(t, NULL)) {
				printf("WAKE=FAIL create/join\n");
				return 1;
			}
		}
		compute_for_ns(200000);
		atomic_store(&flag, 0);
		if (pthread_create(&t, NULL, set_flag, NULL)) {
			printf("WAKE=FAIL create\n");
			return 1;
		}
		while (!atomic_load_explicit(&flag, memory_order_relaxed))
			;
		pthread_join(t, NULL);
	}
	printf("WAKE=ok\n");
	return 0;
}
