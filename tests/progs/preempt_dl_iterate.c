/* preempt_dl_iterate: threads that compute inside a dl_iterate_phdr callback, which runs
 * with the loader's lock held, are preempted there like anywhere in the program, and the
 * program finishes.  Two threads spin a while in the callback of each loaded object while
 * main waits for them (at GREEN_MAXPROCS=1 each must be preempted for the other to run);
 * Boehm GC's collector does the same (it scans the data of every object from such a
 * callback).  Green's preemption check unwinds with libunwind, which takes that lock
 * too: as another thread than the lock's holder it waited for ever.
 * Usage: preempt_dl_iterate [rounds=20].  Final line: DLITER=ok. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static int rounds;
static atomic_long objects;

/* Computes, without a call, for a few milliseconds per object. */
static int spin_in_callback(struct dl_phdr_info *info, size_t size, void *arg)
{
	volatile unsigned long x = (unsigned long)info->dlpi_addr;

	(void)size;
	(void)arg;
	for (long i = 0; i < 3000000; i++)
		x = x * 6364136223846793005ul + 1;
	atomic_fetch_add(&objects, 1);
	return 0;
}

static void *walker(void *arg)
{
	(void)arg;
	for (int r = 0; r < rounds; r++)
		dl_iterate_phdr(spin_in_callback, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];

	rounds = argc > 1 ? atoi(argv[1]) : 20;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, walker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("visits=%s\n", atomic_load(&objects) > 0 ? "some" : "none");
	printf("DLITER=ok\n");
	return 0;
}
