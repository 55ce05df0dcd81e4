/* syscall_rawfutex: the waiter runs first and blocks in a raw futex syscall (inline asm,
 * which no hook sees); the waker, created after it, must get a P to wake it.  Under
 * GREEN_MAXPROCS=1 that takes sysmon's revocation.  Final line: RAWFUTEX=ok.
 *
 * Mode "park": then the waiter, whose P was revoked while it slept (it has not noticed
 * yet), parks at once on a futex that green emulates, and the waker, which holds the only
 * P, wakes that futex in a loop until the waiter is back.  The waiter must deal with the
 * revocation before it holds the wait queue's lock: queued with the lock held, it hung
 * the process (the waker slept on the lock with the only P pinned).  Final line:
 * RAWFUTEX=ok. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int word, waiting;

static long raw_futex(atomic_int *uaddr, int op, int val)
{
	long ret;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_futex), "D"(uaddr), "S"((long)op), "d"((long)val), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static void *waiter(void *arg)
{
	(void)arg;
	atomic_store(&waiting, 1);
	while (atomic_load(&word) == 0)
		raw_futex(&word, FUTEX_WAIT_PRIVATE, 0);
	return NULL;
}

static void *waker(void *arg)
{
	(void)arg;
	while (!atomic_load(&waiting))
		sched_yield();
	atomic_store(&word, 1);
	raw_futex(&word, FUTEX_WAKE_PRIVATE, 1);
	return NULL;
}

/* Never changes: the waiter returns from its wait only when woken. */
static atomic_int parked_word;
static atomic_int back;

static void *park_waiter(void *arg)
{
	waiter(arg);
	while (syscall(SYS_futex, &parked_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) != 0)
		;
	atomic_store(&back, 1);
	return NULL;
}

static void *park_waker(void *arg)
{
	waker(arg);
	while (!atomic_load(&back))
		syscall(SYS_futex, &parked_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	bool park = argc > 1 && strcmp(argv[1], "park") == 0;
	pthread_t a, b;

	alarm(20);
	for (int round = 0; round < 5; round++) {
		atomic_store(&word, 0);
		atomic_store(&waiting, 0);
		atomic_store(&back, 0);
		pthread_create(&a, NULL, park ? park_waiter : waiter, NULL);
		pthread_create(&b, NULL, park ? park_waker : waker, NULL);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
	}
	printf("RAWFUTEX=ok\n");
	return 0;
}
