/*
 * gc_boehm: Boehm GC (libgc) with 16 threads.  Its collector stops the world by
 * pthread_kill()ing every registered thread and waiting for each handler to acknowledge
 * (the handler records the thread's stack pointer and waits in sigsuspend for the
 * restart signal).  Each thread builds lists of collectable nodes while it holds a shared
 * mutex, so collections start while the other threads are blocked in
 * pthread_mutex_lock.  Regression: under green a thread blocked there never ran the
 * handler, and libgc aborted ("Signals delivery fails constantly").
 * Prints SUM=ok when every list summed right, and COLLECTED=yes when collections ran.
 */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <stdio.h>

#define THREADS 16
#define ROUNDS 100
#define NODES 2000

struct node {
	struct node *next;
	long v;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	long sum = 0;

	(void)arg;
	for (int round = 0; round < ROUNDS; round++) {
		pthread_mutex_lock(&mu);
		struct node *head = NULL;
		for (int i = 0; i < NODES; i++) {
			struct node *n = GC_MALLOC(sizeof(*n));
			n->v = i;
			n->next = head;
			head = n;
		}
		pthread_mutex_unlock(&mu);
		for (struct node *n = head; n; n = n->next)
			sum += n->v;
	}
	return (void *)sum;
}

int main(void)
{
	pthread_t t[THREADS];
	long sum = 0;

	GC_INIT();
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
			printf("ERROR: pthread_create\n");
			return 1;
		}
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	long want = (long)THREADS * ROUNDS * ((long)NODES * (NODES - 1) / 2);
	printf("SUM=%s\n", sum == want ? "ok" : "FAIL");
	printf("COLLECTED=%s\n", GC_get_gc_no() > 1 ? "yes" : "no");
	return 0;
}
