/* syscall_return: a G that makes blocking calls shares the Ps with Gs that compute without
 * ever calling into green.  Each call (syscall(SYS_nanosleep), wrapped as a blocking call)
 * loses its P to a compute G; when it returns, the G must get a P back within a fraction
 * of a millisecond, as a native thread waking from I/O does, not after a compute slice
 * (10 ms).  Prints the mean latency a call adds to its sleep.
 * Usage: syscall_return [CALLS=100] [SLEEP_US=1000] [COMPUTE=1] [LIMIT_US=3000]
 * Last line: SYSRET=ok when that mean is under LIMIT_US, SYSRET=slow otherwise. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop, running;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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
	int ncompute = argc > 3 ? atoi(argv[3]) : 1, limit = argc > 4 ? atoi(argv[4]) : 3000;
	pthread_t t[64];

	if (calls < 1 || sleep_us < 1 || ncompute < 1 || ncompute > 64)
		return 2;
	for (int i = 0; i < ncompute; i++)
		pthread_create(&t[i], NULL, compute, (void *)(long)i);
	while (atomic_load(&running) < ncompute) /* each compute G has had a P */
		sched_yield();
	struct timespec ts = {0, sleep_us * 1000L};
	double t0 = now_us();
	for (int i = 0; i < calls; i++)
		syscall(SYS_nanosleep, &ts, NULL);
	double extra = (now_us() - t0) / calls - sleep_us;
	atomic_store(&stop, 1);
	for (int i = 0; i < ncompute; i++)
		pthread_join(t[i], NULL);
	printf("calls=%d sleep_us=%d compute=%d mean_extra_us=%.0f\n", calls, sleep_us, ncompute,
	       extra);
	printf("SYSRET=%s\n", extra < limit ? "ok" : "slow");
	return 0;
}
