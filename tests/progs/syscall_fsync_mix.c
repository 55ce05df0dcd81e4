/* syscall_fsync_mix: W writer threads append 4 KiB and fsync in a loop while C compute
 * threads spin, for D seconds.  Prints the fsync count and compute work (a unit is 1000
 * multiply-adds), totals and per second, for comparing green's throughput with native
 * (issue 5 asks for 90%; tools/bench-programs.sh runs it).
 * Usage: syscall_fsync_mix [W=8] [C=8] [D=3]
 * Last lines: FSYNCS=<n> WORK=<n>, then FSYNCS_PER_S=<x> WORK_PER_S=<x> */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long fsyncs, work;
static char dir[64];

static void *writer(void *arg)
{
	char path[128], buf[4096];
	long n = 0;

	memset(buf, 'x', sizeof buf);
	snprintf(path, sizeof path, "%s/w%ld", dir, (long)arg);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return NULL;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) != 0)
			break;
		n++;
	}
	close(fd);
	unlink(path);
	atomic_fetch_add(&fsyncs, n);
	return NULL;
}

static void *compute(void *arg)
{
	unsigned long x = (unsigned long)arg + 1, n = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		n++;
	}
	atomic_fetch_add(&work, (long)(n + (x & 1)));
	return NULL;
}

int main(int argc, char **argv)
{
	int w = argc > 1 ? atoi(argv[1]) : 8, c = argc > 2 ? atoi(argv[2]) : 8;
	int d = argc > 3 ? atoi(argv[3]) : 3;
	pthread_t t[256];

	if (w < 0 || c < 0 || w + c > 256 || d < 1)
		return 2;
	snprintf(dir, sizeof dir, "/tmp/green-fsync-%d", (int)getpid());
	mkdir(dir, 0700);
	for (int i = 0; i < w; i++)
		pthread_create(&t[i], NULL, writer, (void *)(long)i);
	for (int i = 0; i < c; i++)
		pthread_create(&t[w + i], NULL, compute, (void *)(long)i);
	struct timespec ts = {d, 0}, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < w + c; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	rmdir(dir);
	printf("writers=%d computers=%d seconds=%d\n", w, c, d);
	printf("FSYNCS=%ld WORK=%ld\n", atomic_load(&fsyncs), atomic_load(&work));
	printf("FSYNCS_PER_S=%.0f WORK_PER_S=%.0f\n", atomic_load(&fsyncs) / secs,
	       atomic_load(&work) / secs);
	return 0;
}
