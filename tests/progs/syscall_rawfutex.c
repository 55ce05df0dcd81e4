/* syscall_rawfutex: the waiter runs first and blocks in a raw futex syscall (inline asm,
 * which no hook sees); the waker, created after it, must get a P to wake it.  Under
 * GREEN_MAXPROCS=1 that takes sysmon's revocation.  Final line: RAWFUTEX=ok. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

int main(void)
{
	pthread_t a, b;

	alarm(20);
	for (int round = 0; round < 5; round++) {
		atomic_store(&word, 0);
		atomic_store(&waiting, 0);
		pthread_create(&a, NULL, waiter, NULL);
		pthread_create(&b, NULL, waker, NULL);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
	}
	printf("RAWFUTEX=ok\n");
	return 0;
}
