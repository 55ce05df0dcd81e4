/* preempt_malloc: CPU-bound threads that malloc, fill, check and free blocks of many sizes
 * (so many preemption signals land inside malloc, where green must not yield), alongside
 * pure spinners that need preemption to share one P.
 * Final line: MALLOC=ok (or FAIL). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 6
static atomic_int stop, bad;

static void *churn(void *arg)
{
	unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
	void *slot[64] = {0};
	size_t len[64] = {0};

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		x = x * 1103515245u + 12345u;
		int i = (x >> 8) % 64;
		if (slot[i]) {
			unsigned char *p = slot[i];
			for (size_t k = 0; k < len[i]; k++)
				if (p[k] != (unsigned char)(i + k))
					atomic_store(&bad, 1);
			free(p);
		}
		len[i] = (x >> 16) % 4000 + 1;
		unsigned char *p = malloc(len[i]);
		for (size_t k = 0; k < len[i]; k++)
			p[k] = (unsigned char)(i + k);
		slot[i] = p;
	}
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	return NULL;
}

static void *spin(void *arg)
{
	volatile unsigned long *n = arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		(*n)++;
	return NULL;
}

int main(void)
{
	pthread_t t[T], s;
	unsigned long spins = 0;

	for (int i = 0; i < T; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
	pthread_create(&s, NULL, spin, &spins);
	struct timespec ts = {1, 0};
	nanosleep(&ts, NULL); /* wakes only if the CPU-bound threads are preempted */
	atomic_store(&stop, 1);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	pthread_join(s, NULL);
	printf("spinner_ran=%d\n", spins > 0);
	printf("MALLOC=%s\n", atomic_load(&bad) ? "FAIL" : "ok");
	return atomic_load(&bad);
}
