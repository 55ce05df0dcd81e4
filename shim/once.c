/*
 * pthread_once / call_once on the parking table.  The control word uses glibc's values
 * (0 not run, 1 in progress, 2 done), so PTHREAD_ONCE_INIT and a control already
 * completed before green started both work.
 *
 * If the init routine does not return (pthread_exit or cancellation unwinds through it),
 * glibc's cleanup handler resets the control to 0 and wakes the waiters, one of which
 * then runs the routine: the cleanup handler below does the same.  It is registered with
 * glibc's own pthread_cleanup_push (the setjmp form, __pthread_register_cancel), which
 * glibc's forced unwind honours for Gs as for native threads.
 */
#include <limits.h>
#include <pthread.h>

#include "park.h"
#include "sync.h"

enum {
	ONCE_INIT = 0,
	ONCE_RUNNING = 1,
	ONCE_DONE = 2
};

static bool still_running(const void *addr, void *arg)
{
	(void)arg;
	return atomic_load_explicit((_Atomic int *)addr, memory_order_acquire) & ONCE_RUNNING;
}

static void once_cancelled(void *arg)
{
	_Atomic int *once = arg;

	atomic_store_explicit(once, ONCE_INIT, memory_order_release);
	gr_park_wake(once, INT_MAX, 0);
}

int gr_once(_Atomic int *once, void (*init)(void))
{
	for (;;) {
		int st = atomic_load_explicit(once, memory_order_acquire);
		if (st & ONCE_DONE) /* glibc keeps a fork generation in the bits above */
			return 0;
		if ((st & ONCE_RUNNING) == 0 &&
		    atomic_compare_exchange_strong_explicit(
		            once, &st, ONCE_RUNNING, memory_order_acquire, memory_order_relaxed)) {
			pthread_cleanup_push(once_cancelled, (void *)once);
			init();
			pthread_cleanup_pop(0);
			/* Release: the init's effects before DONE; pairs with the acquire above. */
			atomic_store_explicit(once, ONCE_DONE, memory_order_release);
			gr_park_wake(once, INT_MAX, 0);
			return 0;
		}
		if (st & ONCE_RUNNING)
			gr_park_wait(once, still_running, NULL, 0, 0);
	}
}
