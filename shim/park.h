/*
 * The one parking primitive: wait queues keyed by address (Go: sema.go's semaRoot, and
 * the kernel's futex hash).  Every blocking pthread object parks here, so each object
 * stays within glibc's size and an all-zero object is valid.
 */
#ifndef GR_PARK_H
#define GR_PARK_H

#include "runtime.h"
#include "timer.h"

/* One parked thread, on its own stack for the duration of gr_park_wait. */
struct gr_waiter {
	const void *addr;
	struct gr_g *gp;
	struct gr_waiter *next, *prev;
	/* Atomic: 0 waiting; GR_WAKE_WOKEN or GR_WAKE_TIMEDOUT, set once by CAS (the waker and
	 * the timer race for it).  Foreign threads futex-wait on it. */
	_Atomic uint32_t xstate;
	bool linked; /* on its bucket's list; protected by the bucket lock */
	bool intr;   /* a cancellation request ends the wait too (gr_park_wait_intr) */
	uint32_t bits; /* FUTEX_WAIT_BITSET mask; wakers filter on it */
	int64_t deadline;
	struct gr_timer timer;
};

#define GR_WAKE_WOKEN 1
#define GR_WAKE_TIMEDOUT 2
#define GR_WAKE_INTERRUPTED 3 /* a signal or a cancellation request (signal.c, cancel.c) */
#define GR_WAKE_HANDOFF 4     /* woken by gr_park_handoff: gr_park_wait returns 1 */

/* gr_park_wait_ex flags. */
#define GR_PARK_LIFO 1u /* queue at the head (a waiter that lost a race after waking) */

/* Parks the calling thread on addr until woken or until deadline (monotonic ns; 0 =
 * none).  A G runs the handlers of signals sent to it meanwhile and goes on waiting, as
 * a futex wait does natively (gr_sig_intr_arm_signals); a cancellation request does not
 * end the wait.  Under the queue's lock, first calls may_sleep(addr, arg) if given: when it
 * returns false the call returns -EAGAIN at once (the futex value check).  Returns 0
 * when woken, 1 when woken by gr_park_handoff, -ETIMEDOUT.  Works from Gs (parks the G) and foreign threads (blocks the
 * OS thread).  bits: the wait mask (0 means all bits). */
int gr_park_wait(const void *addr, bool (*may_sleep)(const void *addr, void *arg), void *arg,
		 int64_t deadline, uint32_t bits);

/* Like gr_park_wait, but a signal the G does not block, a pthread_kill of a signal in its
 * sigwait set, or a cancellation request (enabled) ends the wait early with -EINTR.  The
 * G's pending signal handlers have run when it returns (whatever the outcome).  The
 * caller decides what EINTR means: POSIX calls return EINTR (or restart under
 * SA_RESTART: gr_sig_restart), cancellation points call gr_cancel_point() first, and
 * condition waits return 0 (a spurious wake-up) after retaking the mutex.  May park. */
int gr_park_wait_intr(const void *addr, bool (*may_sleep)(const void *addr, void *arg),
		      void *arg, int64_t deadline, uint32_t bits);

/* gr_park_wait with flags (GR_PARK_LIFO). */
int gr_park_wait_ex(const void *addr, bool (*may_sleep)(const void *addr, void *arg), void *arg,
		    int64_t deadline, uint32_t bits, unsigned flags);

/* Wakes the oldest waiter on addr and tells it that it was handed something (a mutex in
 * starvation mode): its gr_park_wait returns 1.  Returns 1, or 0 when nobody waited (a
 * waiter that has timed out does not count). */
int gr_park_handoff(const void *addr);

/* Wakes up to n waiters on addr (oldest first) whose mask meets bits (0 = all).  Returns
 * how many were woken. */
int gr_park_wake(const void *addr, int n, uint32_t bits);

/* gr_park_wake for a caller whose change to the word was a sequentially consistent
 * read-modify-write (a locked instruction), which orders it before the check for waiters
 * as gr_park_wake's fence would. */
int gr_park_wake_fenced(const void *addr, int n, uint32_t bits);

/* Like gr_park_wake, but the woken Gs go to the tail of the run queue, as gr_ready_tail
 * puts them: for a waker that is not handing the CPU over to them (the netpoller, which
 * wakes a batch at a time). */
int gr_park_wake_tail(const void *addr, int n, uint32_t bits);

/* Hints for a waker about to wake a batch of addresses (the poller): first the bucket of
 * each address, then, once those lines have had time to arrive, the first waiter queued
 * in it, so the batch's misses overlap instead of coming one wake at a time.  Neither
 * takes a lock: the waiter is read racily and only prefetched, never dereferenced. */
void gr_park_prefetch_bucket(const void *addr);
void gr_park_prefetch_waiter(const void *addr);

/* Wakes the oldest waiter on addr, and under the queue's lock, once that waiter is claimed
 * (woken true) or none was found (false), calls decide(addr, arg, woken) before any waiter
 * can re-check its word: a change decide makes to the word and the wake are one step for
 * every waiter, as FUTEX_WAKE_OP is for the kernel's, and the woken waiter (a G or a
 * foreign thread) returns from its wait only after decide.  decide must not block or take
 * locks.  Returns 1 when a waiter was woken, else 0.  The caller may hand over the word
 * in decide (a mutex release): nothing here touches addr's memory afterwards. */
int gr_park_wake_decide(const void *addr, void (*decide)(const void *addr, void *arg, bool woken),
                        void *arg);

/* Wakes up to nwake waiters on addr and moves up to nmove others to wait on to, under
 * both queues' locks, first checking may_wake(addr, arg) if given (-EAGAIN when false).
 * Returns the number woken plus moved. */
int gr_park_requeue(const void *addr, const void *to, int nwake, int nmove,
		    bool (*may_wake)(const void *addr, void *arg), void *arg);

/* Sleeps the calling thread until deadline (monotonic ns): parks a G on a timer, or
 * blocks a foreign thread.  Returns 0, or -EINTR when a signal or a cancellation request
 * interrupted the sleep of a G (interruptible, as gr_park_wait_intr). */
int gr_park_sleep(int64_t deadline);

/* In the child of fork: empties every wait queue and frees every bucket lock (the waiters
 * were the other threads, which the child does not have), and starts a new generation. */
void gr_park_fork_child(void);

/* The generation of the wait queues: 0, plus one in each child of fork.  A flag an object
 * keeps for a waiter it woke (a mutex's WOKEN) is stale when stamped with an older one:
 * the waiter was another thread of the parent.  Written only by gr_park_fork_child, while
 * the child has one thread. */
extern unsigned short gr_park_gen;

#endif
