/*
 * rss_flat - creating and joining threads for ever must not grow the process.
 *
 * Usage: rss_flat [N=1000000] [batch=100] [limit_MiB=20]
 *
 * Creates N threads in batches of `batch` (create a batch, join it, repeat). Each thread
 * mallocs and frees a small block (so libc gives it a per-thread malloc cache), writes a
 * __thread array and an errno value, and returns a value that join checks. VmRSS is read
 * from /proc/self/status after the first tenth of the threads (the warm-up: caches,
 * arenas, pools have their steady size by then) and at the end.
 *
 * Prints threads=N, rss_warm_kib, rss_end_kib, rss_growth_kib, then RSS_FLAT=ok (exit 0)
 * when every thread ran and the growth from the warm-up point to the end is under
 * limit_MiB, else RSS_FLAT=FAIL (exit 1). A leak of even 64 bytes per thread shows as
 * 57 MiB over 900,000 threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char tbuf[256];

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

static void *worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	char *p = malloc(64 + i % 64);
	if (!p)
		return NULL;
	memset(p, (int)i, 64);
	tbuf[i % sizeof tbuf] = (char)i;
	errno = (int)(i % 100);
	uintptr_t r = (unsigned char)p[1] == (i & 0xff) && tbuf[i % sizeof tbuf] == (char)i &&
		      errno == (int)(i % 100) ? i + 1 : 0;
	free(p);
	return (void *)r;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long batch = argc > 2 ? atol(argv[2]) : 100;
	long limit_mib = argc > 3 ? atol(argv[3]) : 20;
	if (n <= 0 || batch <= 0 || limit_mib <= 0) {
		fprintf(stderr, "usage: %s [N>0] [batch>0] [limit_MiB>0]\n", argv[0]);
		return 2;
	}
	pthread_t *t = calloc(batch, sizeof *t);
	if (!t)
		return 2;
	long warm_at = n / 10, rss_warm = -1, done = 0, bad = 0;
	for (long base = 0; base < n; base += batch) {
		long k = n - base < batch ? n - base : batch;
		for (long j = 0; j < k; j++) {
			int rc = pthread_create(&t[j], NULL, worker, (void *)(uintptr_t)(base + j));
			if (rc) {
				printf("ERROR: pthread_create failed after %ld threads: %s\n",
				       base + j, strerror(rc));
				printf("RSS_FLAT=FAIL\n");
				return 1;
			}
		}
		for (long j = 0; j < k; j++) {
			void *r = NULL;
			pthread_join(t[j], &r);
			bad += (uintptr_t)r != (uintptr_t)(base + j) + 1;
		}
		done += k;
		if (rss_warm < 0 && done >= warm_at)
			rss_warm = status_kib("VmRSS");
	}
	long rss_end = status_kib("VmRSS");
	long growth = rss_end - rss_warm;
	printf("threads=%ld batch=%ld\n", done, batch);
	printf("bad_results=%ld\n", bad);
	printf("rss_warm_kib=%ld\n", rss_warm);
	printf("rss_end_kib=%ld\n", rss_end);
	printf("rss_growth_kib=%ld\n", growth);
	int ok = bad == 0 && rss_warm > 0 && growth < limit_mib * 1024;
	printf("RSS_FLAT=%s\n", ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
