/* The scheduler (proc.c): Ms, Ps, parking and readying Gs. */
#ifndef GR_PROC_H
#define GR_PROC_H

#include "runtime.h"

/* Creates Ps and turns the calling thread (the program's main thread) into the main G
 * running on M0 with P0, then starts one more M so glibc enters multi-threaded mode.
 * Returns 0 or a negative errno. */
int gr_proc_init(int nprocs, int maxthreads);

/* Parks the running G: once it is off its stack, marks it waiting, then calls
 * unlockf(arg) (which typically releases the lock protecting the wait queue the G is on,
 * so no waker can ready it before it is off its stack).  unlockf runs on the M's g0, or
 * on the G that runs next when the G switches straight to it.  Returns when some M runs
 * it again after gr_ready.  The G must be schedulable (gr_g_schedulable). */
void gr_park(void (*unlockf)(void *), void *arg);

/* First thing a G does when it runs for the first time (g_main): completes the operation
 * of the G that switched straight to it, if any (see proc.c, park_direct). */
void gr_proc_complete_prev(void);

/* Makes a waiting G runnable: into the current P's runnext (it runs next, in the current
 * time slice) or the global queue, then wakes an idle P if one is idle and no M spins.
 * Any context with a G (not a signal handler). */
void gr_ready(struct gr_g *gp);

/* Like gr_ready, but puts gp at the tail of the run queue (timers, new Gs of foreign
 * threads): it does not take over the current time slice. */
void gr_ready_tail(struct gr_g *gp);

/* Makes a new G runnable (pthread_create): into runnext, as Go's newproc does. */
void gr_proc_start_g(struct gr_g *gp);

/* The CPU time gp has used (time RUNNING outside system calls), in ns. */
int64_t gr_g_cputime_ns(struct gr_g *gp);

/* Puts the running G at the tail of its P's run queue and schedules (sched_yield). */
void gr_yield(void);

/* A yield to the G in the P's runnext: runs it at once and waits in runnext behind it
 * (the caller runs next, in the same slice) instead of at the queue's tail, from where a
 * spinning M steals it and splits a ping-pong across Ms.  For a G that has just readied
 * its partner (netpoll.c: a read on a paired pipe end).  Returns false, having done
 * nothing, when runnext holds no G that can run here directly (see park_direct). */
bool gr_yield_to_runnext(void);

/* The safe-point yield of asynchronous preemption, called by the preemption stub with
 * every register saved: puts the running G on the global run queue (Go: gopreempt_m) and
 * returns when some M runs it again. */
void gr_proc_preempt(void);

/* Leaves the running G for good: switches to g0, which calls gr_thread_exited(gp).
 * Never returns. */
__attribute__((noreturn)) void gr_proc_exit_g(void);

/* Called on g0 once an exiting G is off its stack (thread.c). */
void gr_thread_exited(struct gr_g *gp);

/* Detaches the running G's M from its P for good, handing the P to another M (the main
 * G's pthread_exit: glibc then ends this OS thread). */
void gr_proc_abandon_m(void);

/* Wakes an idle P if there is work and no M is spinning (Go: wakep). */
void gr_wakep(void);

/* Brackets a blocking system call of the running G (Go: entersyscall/exitsyscall).  In
 * between, sysmon may hand the G's P to another M.  gr_exitsyscall returns with a P,
 * possibly on another M.  Both are no-ops on foreign threads and g0. */
void gr_entersyscall(void);
void gr_exitsyscall(void);

/* gr_entersyscall for a call that is expected to block (fsync, waitpid, flock, message
 * queues ...): hands the P to another M at once instead of after a sysmon tick (Go:
 * entersyscallblock).  Pair it with gr_exitsyscall. */
void gr_entersyscallblock(void);

/* Gives a P nobody runs (retaken from a system call) to an M if there is anything for it
 * to do, else idles it (Go: handoffp).  Any thread, sysmon included. */
void gr_handoffp(struct gr_p *pp);

/* gr_proc_pin when the quick case does not apply. */
struct gr_p *gr_proc_pin_slow(bool *pinned);

/* Pins the calling G's P against revocation (sysmon.c) and returns it (NULL on a foreign
 * thread; g0's own P on g0).  Use around any use of the P outside proc.c (the G and stack
 * caches); *pinned says whether gr_proc_unpin must undo this call.  May switch the G to
 * another M when its P was revoked.  Inline: every park pins, and for a running G that
 * holds no pin it is one compare-and-swap. */
static inline struct gr_p *gr_proc_pin(bool *pinned)
{
	struct gr_g *gp = gr_getg();
	uint32_t st = GR_PIN_USER;

	/* Acquire: orders the read of mp->p after the pin (see proc.c's pin).  An outer pin
	 * is seen without a locked instruction. */
	if (gr_g_schedulable(gp) &&
	    atomic_load_explicit(&gp->m->xpin, memory_order_relaxed) == GR_PIN_USER &&
	    atomic_compare_exchange_strong_explicit(&gp->m->xpin, &st, GR_PIN_PINNED,
						    memory_order_acquire, memory_order_relaxed)) {
		*pinned = true;
		return gp->m->p;
	}
	return gr_proc_pin_slow(pinned);
}

void gr_proc_unpin(bool pinned);

/* A G that is still inside a system call bracket although it runs the program's code
 * again (a cancellation or a handler unwound out of the call) leaves the call first, so
 * it holds a P before it parks, yields or exits.  Cheap when it is not the case. */
void gr_proc_fix_syscall(struct gr_g *gp);

/* In the child of fork, on the kernel TCB of the forking M: rebuilds the scheduler
 * around gp, the only G left (fork.c).  Ps, run queues, idle lists, timers, the M count
 * and sysmon start afresh; gp keeps its M and P. */
void gr_proc_fork_child(struct gr_g *gp);

/* A timer with deadline when was added: wakes the M sleeping until a later timer. */
void gr_proc_timer_added(int64_t when);

#endif
