/* syscall_pless: a thread comes back from a blocking call while a compute thread holds the
 * only P (GREEN_MAXPROCS=1), so under green it runs on without a P (proc.c's P-less runs).
 * It then waits in sigsuspend, a wrapped call made without a P, until the main thread
 * signals it (the handler runs and sigsuspend fails with EINTR, as natively), and computes
 * for SPIN_MS of its own CPU time, which sysmon must preempt (it counts that in
 * GREEN_SYSMON_STATS's pless_preempts).  The output does not depend on green.
 * Usage: syscall_pless [SPIN_MS=30]
 * Last line: PLESS=ok */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop, computing, suspending, handled;
static int spin_ms;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *compute(void *arg)
{
	unsigned long x = (unsigned long)arg + 1;

	atomic_store(&computing, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return (void *)(x & 1);
}

static void *caller(void *arg)
{
	sigset_t usr1, none;
	struct timespec nap = {0, 20 * 1000 * 1000};
	unsigned long x = 1;

	(void)arg;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	/* Wrapped as a blocking call: the compute thread takes the P meanwhile. */
	syscall(SYS_nanosleep, &nap, NULL);
	atomic_store(&suspending, 1);
	int r = sigsuspend(&none);
	int e = errno;
	printf("sigsuspend=%d errno=%s handled=%d\n", r, e == EINTR ? "EINTR" : "other",
	       atomic_load(&handled));
	double end = cpu_ms() + spin_ms;
	while (cpu_ms() < end)
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
	return (void *)(x & 1);
}

int main(int argc, char **argv)
{
	pthread_t c, t;
	struct sigaction sa = {.sa_handler = on_usr1};

	spin_ms = argc > 1 ? atoi(argv[1]) : 30;
	if (spin_ms < 1)
		return 2;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&c, NULL, compute, NULL);
	while (!atomic_load(&computing))
		sched_yield();
	pthread_create(&t, NULL, caller, NULL);
	while (!atomic_load(&suspending))
		sched_yield();
	/* SIGUSR1 stays blocked until sigsuspend opens it: the signal waits for it. */
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	atomic_store(&stop, 1);
	pthread_join(c, NULL);
	printf("spun_ms=%d\n", spin_ms);
	printf("PLESS=ok\n");
	return 0;
}
