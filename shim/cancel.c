/*
 * Cancellation (POSIX pthread_cancel) at G granularity.
 *
 * The state is glibc's own: the cancelhandling word of the G's struct pthread (glibc
 * 2.36 bits: 1 disabled, 2 asynchronous, 4 canceling, 8 cancelled, 16 exiting, 32
 * terminated).  So glibc's pthread_setcancelstate, pthread_setcanceltype and its own
 * cancellable system calls (read, accept, sem_wait's futex wait, ...) work on a G as
 * they do on a native thread, and the unwinding is glibc's: pthread_exit(PTHREAD_CANCELED)
 * runs cleanup handlers and C++ destructors and lands in the G's first frame (thread.c).
 *
 * What green adds is the delivery, since glibc's pthread_cancel would tgkill a G's fake
 * tid: gr_cancel sets the bits as glibc does, then kicks the target (signal.c): a G parked
 * in an interruptible wait (the cancellation points green parks in: condition waits,
 * sleeps, join, sigwait, and the netpoller's I/O) wakes with -EINTR and its interposer
 * calls gr_cancel_point(); a G in a system call bracket, or running, gets SIGCANCEL on
 * its M, whose handler acts when glibc has asynchronous cancellation on (an asynchronous
 * G, or a G inside one of glibc's cancellable system calls) — glibc's own rule.
 */
#include <errno.h>

#include "glibc.h"
#include "proc.h"
#include "real.h"
#include "sig.h"
#include "thread.h"

#define CH_DISABLED   1
#define CH_ASYNC      2
#define CH_CANCELING  4
#define CH_CANCELED   8
#define CH_EXITING    16
#define CH_TERMINATED 32

static _Atomic int *cancelhandling(void *tcb)
{
	return (_Atomic int *)((char *)tcb + GR_PT_CANCELHANDLING);
}

/* Set (release) by the first cancellation request green sees.  Until then no G of
 * green's has one due, and the checks skip the load of cancelhandling: for a G that just
 * resumed it is a line of its TCB that nothing else on the way back to its code touches.
 * A check that misses a request made concurrently is one made just before it; the
 * requester's kick (or the next cancellation point) sees it.  Foreign threads always
 * look: glibc may cancel the threads it started itself without calling green. */
static _Atomic bool xcancel_used;

bool gr_cancel_due(struct gr_g *gp)
{
	if (!gp->foreign && !atomic_load_explicit(&xcancel_used, memory_order_acquire))
		return false;
	int ch = atomic_load_explicit(cancelhandling(gp->tcb), memory_order_acquire);

	return (ch & (CH_DISABLED | CH_CANCELED | CH_EXITING | CH_TERMINATED)) == CH_CANCELED;
}

static __attribute__((noreturn)) void act(struct gr_g *gp)
{
	if (gp && !gp->foreign && !gp->is_g0 && gp->tcb == gr_arch_tp()) {
		gr_proc_fix_syscall(gp);
		gr_thread_exit(PTHREAD_CANCELED);
	}
	gr_real.pthread_exit(PTHREAD_CANCELED);
	__builtin_unreachable();
}

void gr_cancel_point(void)
{
	struct gr_g *gp = gr_getg();

	if (gp && !gp->is_g0 && gp->tcb == gr_arch_tp() && gr_cancel_due(gp))
		act(gp);
}

void gr_cancel_async(void)
{
	act(gr_getg());
}

int gr_cancel(struct gr_g *gp)
{
	if (!atomic_load_explicit(&xcancel_used, memory_order_relaxed))
		atomic_store_explicit(&xcancel_used, true, memory_order_release);
	int old = atomic_fetch_or_explicit(cancelhandling(gp->tcb), CH_CANCELING | CH_CANCELED,
	                                   memory_order_acq_rel);

	if (old & (CH_CANCELED | CH_EXITING | CH_TERMINATED))
		return 0;
	if (gp == gr_getg()) {
		if ((old & (CH_DISABLED | CH_ASYNC)) == CH_ASYNC)
			act(gp);
		return 0;
	}
	if (old & CH_DISABLED)
		return 0; /* acted on once enabled, at the next cancellation point */
	gr_sig_kick_cancel(gp);
	return 0;
}
