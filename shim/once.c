/*
 * pthread_once / call_once on the parking table.  The control word uses glibc's values
 * (0 not run, 1 in progress, 2 done), so PTHREAD_ONCE_INIT and a control already
 * completed before green started both work.
 */
#include <limits.h>

#include "park.h"
#include "sync.h"

enum { ONCE_INIT = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

static bool still_running(const void *addr, void *arg)
{
	(void)arg;
	return atomic_load_explicit((_Atomic int *)addr, memory_order_acquire) == ONCE_RUNNING;
}

int gr_once(_Atomic int *once, void (*init)(void))
{
	for (;;) {
		int st = atomic_load_explicit(once, memory_order_acquire);
		if (st == ONCE_DONE)
			return 0;
		if (st == ONCE_INIT &&
		    atomic_compare_exchange_strong_explicit(once, &st, ONCE_RUNNING,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			init();
			/* Release: the init's effects before DONE; pairs with the acquire above. */
			atomic_store_explicit(once, ONCE_DONE, memory_order_release);
			gr_park_wake(once, INT_MAX, 0);
			return 0;
		}
		if (st == ONCE_RUNNING)
			gr_park_wait(once, still_running, NULL, 0, 0);
	}
}
