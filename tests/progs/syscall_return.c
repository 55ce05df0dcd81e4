/* syscall_return: a G that makes blocking calls shares the Ps with Gs that compute without
 * ever calling into green.  Each call (syscall(SYS_nanosleep), wrapped as a blocking call)
 * loses its P to a compute G; when it returns, the G must get a P back soon, as a native
 * thread waking from I/O does, not after the compute G's 10 ms slice.  The measure is the
 * process's CPU time per call, nearly all of it the compute Gs': about the sleep when the
 * G gets its P back at once, a whole slice when it waits for one.  Unlike the wall time a
 * call takes, it does not grow when other processes load the machine (the compute Gs then
 * get less CPU while the call waits).  Also prints the mean wall time a call adds.
 * Usage: syscall_return [CALLS=100] [SLEEP_US=1000] [COMPUTE=1] [LIMIT_US=5000]
 * Last line: SYSRET=ok when the CPU time per call is under LIMIT_US, SYSRET=slow if not. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop, running;

static double now_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *compute(void *arg)
{
	unsigned long x = (unsigned long)arg + 1;

	atomic_fetch_add(&running, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return (void *)(x & 1);
}

int main(int argc, char **argv)
{
	int calls = argc > 1 ? atoi(argv[1]) : 100, sleep_us = argc > 2 ? atoi(argv[2]) : 1000;
	int ncompute = argc > 3 ? atoi(argv[3]) : 1, limit = argc > 4 ? atoi(argv[4]) : 5000;
	pthread_t t[64];

	if (calls < 1 || sleep_us < 1 || ncompute < 1 || ncompute > 64)
		return 2;
	for (int i = 0; i < ncompute; i++)
		pthread_create(&t[i], NULL, compute, (void *)(long)i);
	while (atomic_load(&running) < ncompute) /* each compute G has had a P */
		sched_yield();
	struct timespec ts = {0, sleep_us * 1000L};
	double t0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < calls; i++)
		syscall(SYS_nanosleep, &ts, NULL);
	double extra = (now_us(CLOCK_MONOTONIC) - t0) / calls - sleep_us;
	double cpu = (now_us(CLOCK_PROCESS_CPUTIME_ID) - c0) / calls;
	atomic_store(&stop, 1);
	for (int i = 0; i < ncompute; i++)
		pthread_join(t[i], NULL);
	printf("calls=%d sleep_us=%d compute=%d mean_extra_us=%.0f cpu_per_call_us=%.0f\n", calls,
	       sleep_us, ncompute, extra, cpu);
	printf("SYSRET=%s\n", cpu < limit ? "ok" : "slow");
	return 0;
}
