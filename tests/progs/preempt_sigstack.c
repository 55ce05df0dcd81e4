/* preempt_sigstack: a signal sent to a thread that computes runs its handler on that
 * thread's own stack, also when it arrives while green preempts the thread.  Two threads
 * spin (so that green preempts them every slice) while main pthread_kill()s them without
 * pause for a while; each handler checks that a local of its own lies within its thread's
 * stack as pthread_getattr_np reports it.  Natively the handler runs on the thread's
 * stack (no alternate stack is set).  Boehm GC's stop-the-world handler records its stack
 * pointer the same way and scans from there: a handler run elsewhere made it scan foreign
 * memory.  Usage: preempt_sigstack [ms=1500].  Final line: SIGSTACK=ok (or FAIL). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SPINNERS 2

static atomic_int stop, ready;
static atomic_long handled, outside;
static __thread uintptr_t stack_lo, stack_hi;

static void on_usr1(int sig)
{
	volatile char here;
	uintptr_t sp = (uintptr_t)&here;

	(void)sig;
	if (sp < stack_lo || sp >= stack_hi)
		atomic_fetch_add(&outside, 1);
	atomic_fetch_add(&handled, 1);
}

static void *spin(void *arg)
{
	pthread_attr_t a;
	void *lo;
	size_t size;

	(void)arg;
	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &lo, &size);
	pthread_attr_destroy(&a);
	stack_lo = (uintptr_t)lo;
	stack_hi = (uintptr_t)lo + size;
	atomic_fetch_add(&ready, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		;
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	double ms = argc > 1 ? atof(argv[1]) : 1500;
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	pthread_t t[SPINNERS];
	long sent = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < SPINNERS; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	while (atomic_load(&ready) < SPINNERS)
		sched_yield();
	for (double end = now_ms() + ms; now_ms() < end;)
		for (int i = 0; i < SPINNERS; i++, sent++)
			pthread_kill(t[i], SIGUSR1);
	atomic_store(&stop, 1);
	for (int i = 0; i < SPINNERS; i++)
		pthread_join(t[i], NULL);
	printf("sent=%s handled=%s\n", sent > 0 ? "some" : "none",
	       atomic_load(&handled) > 0 ? "some" : "none");
	printf("SIGSTACK=%s\n", atomic_load(&outside) == 0 ? "ok" : "FAIL");
	if (atomic_load(&outside))
		fprintf(stderr, "preempt_sigstack: %ld of %ld handlers ran off their thread's stack\n",
			atomic_load(&outside), atomic_load(&handled));
	return atomic_load(&outside) != 0;
}
