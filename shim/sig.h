/* Signals at G granularity (signal.c) and cancellation (cancel.c). */
#ifndef GR_SIG_H
#define GR_SIG_H

#include <signal.h>
#include <ucontext.h>

#include "runtime.h"

#define GR_SIGCANCEL   32 /* glibc's SIGCANCEL: green's cancellation and signal kick */
#define GR_SIGSETXID   33
#define GR_SIGBIT(sig) (1ull << ((sig)-1))
/* Signals no G may block: glibc's two internal ones (pthread_sigmask filters them too). */
#define GR_SIG_UNBLOCKABLE (GR_SIGBIT(GR_SIGCANCEL) | GR_SIGBIT(GR_SIGSETXID))

/* Reads the main thread's mask into the main G and M0 and installs green's handlers
 * (gr_sig_handlers_install).  Returns 0 or a negative errno. */
int gr_signal_init(void);

/* Installs green's SIGCANCEL handler and wraps glibc's SIGSETXID one (setxid.c).  Again
 * after the process's first pthread_create, whose deferred initialisation in glibc
 * installs glibc's own handlers for both (sysmon.c).  Returns 0 or a negative errno. */
int gr_sig_handlers_install(void);

/* A new G inherits parent's mask (POSIX); its pending set and wait state start empty.
 * parent may be a foreign thread or NULL (then the kernel mask of the caller). */
void gr_sig_g_init(struct gr_g *gp, struct gr_g *parent);

/* gp (the calling G) is ending: its mask no longer counts in what idle Ms block. */
void gr_sig_g_exit(struct gr_g *gp);

/* In a fork child, for gp, its only G: no pending signals, the mask counts rebuilt, and gp
 * is the G that process-directed signals nobody takes go to. */
void gr_sig_fork_child(struct gr_g *gp);

/* The M's kernel mask for a new M (read once: every signal blocked, as newm starts its
 * thread) and, on every switch to gp, the G's mask loaded into the kernel when it differs
 * from what the M has (one compare otherwise). */
void gr_sig_m_init(struct gr_m *mp);
void gr_sig_setmask_m(struct gr_m *mp, uint64_t mask);

/* Signals the runtime itself needs delivered to an M running a G whatever the G's mask
 * (the preemption signal): the G's mask still records them (pthread_sigmask reports what
 * the program set), but the kernel mask of its M leaves them open; the module that owns
 * such a signal checks gp->xsigmask before running the program's handler for it, and
 * makes it pending on the G (gr_sig_kill of itself) when the G blocks it.  Written once,
 * at start-up, by gr_sig_reserve. */
extern _Atomic uint64_t gr_sig_kernel_open;
void gr_sig_reserve(int sig);

/* The kernel mask of an M running a G whose mask is mask. */
static inline uint64_t gr_sig_want_mask(uint64_t mask)
{
	return mask & ~GR_SIG_UNBLOCKABLE &
	       ~atomic_load_explicit(&gr_sig_kernel_open, memory_order_relaxed);
}

/* The kernel mask an M running gp has. */
static inline uint64_t gr_sig_want(struct gr_g *gp)
{
	return gr_sig_want_mask(atomic_load_explicit(&gp->xsigmask, memory_order_relaxed));
}

static inline void gr_sig_switch(struct gr_m *mp, struct gr_g *gp)
{
	uint64_t want = gr_sig_want(gp);
	if (__builtin_expect(want != mp->sigmask, 0))
		gr_sig_setmask_m(mp, want);
}

/* gp has pending signals its mask lets through: a kick would deliver them. */
static inline bool gr_sig_deliverable(struct gr_g *gp)
{
	return atomic_load_explicit(&gp->xsigpend, memory_order_relaxed) &
	       ~atomic_load_explicit(&gp->xsigmask, memory_order_relaxed);
}

/* Marks mp, running gp, for sysmon's look (gr_m.xsig_recheck).  Async-signal-safe. */
void gr_sig_recheck_m(struct gr_m *mp, struct gr_g *gp);

/* sysmon: kicks each marked M whose recorded G runs the program on it again; *next is
 * lowered to when to look at those still inside green. */
void gr_sig_recheck(int64_t now, int64_t *next);

/* gp starts running on mp: a kick sent to wherever it ran before is not its own, and
 * signals made pending while it was off an M (nobody kicks a G in a run queue) need a
 * kick once it runs the program: it may resume inside green and return to a loop that
 * never calls green again. */
static inline void gr_sig_resumed(struct gr_m *mp, struct gr_g *gp)
{
	if (__builtin_expect(atomic_load_explicit(&gp->xkick, memory_order_relaxed), 0))
		atomic_store_explicit(&gp->xkick, false, memory_order_relaxed);
	if (__builtin_expect(gr_sig_deliverable(gp), 0))
		gr_sig_recheck_m(mp, gp);
}

/* An M back on g0 (from execute, and before it sleeps in stopm) blocks at least every
 * signal some G has blocked, so the kernel never picks an M without a G for a
 * process-directed signal the Gs block.  Free when all Gs share one mask. */
void gr_sig_m_idle(struct gr_m *mp);

/* An M about to sleep in stopm blocks every signal (it may sleep through later changes
 * of the Gs' masks; execute loads the next G's mask when it wakes). */
void gr_sig_m_sleep(struct gr_m *mp);

/* True when an interruptible wait of gp must end: a pending signal gp does not block, a
 * pending signal of its sigwait set, or an enabled cancellation request.  Racy by
 * design; callers that need certainty hold gp->siglock (park.c's unlockf does). */
bool gr_sig_interrupt_due(struct gr_g *gp);

/* The signal half of gr_sig_interrupt_due: a pending signal gp does not block, or one of
 * its sigwait set. */
bool gr_sig_signal_due(struct gr_g *gp);

/* gr_sig_deliver_pending once it has found a signal to deliver. */
void gr_sig_deliver(struct gr_g *gp, uint64_t pend);

/* Runs the handlers of gp's pending signals that gp does not block, on gp (the calling
 * G), by sending each to its own M with tgkill: the kernel delivers it before the call
 * returns, with the program's handler, flags and default action.  Sets gp->sigrestart
 * when there was one.  Must be called by gp itself, holding no runtime lock.  Inline:
 * every wait ends with it, and nearly always finds nothing. */
static inline void gr_sig_deliver_pending(struct gr_g *gp)
{
	uint64_t mask = atomic_load_explicit(&gp->xsigmask, memory_order_seq_cst);
	uint64_t pend = atomic_load_explicit(&gp->xsigpend, memory_order_seq_cst) & ~mask;

	if (pend)
		gr_sig_deliver(gp, pend);
}

/*
 * Quiet signals: green's own (preemption, SIGCANCEL's kick) and the program's that green
 * drops (natively discarded: no handler), counted on the M that takes them whenever no
 * handler of the program's ran.  Some system calls fail with EINTR once any handler has
 * run during them, and the kernel never restarts them (System V IPC: see signal(7));
 * natively these signals would not have ended them.  So an interposer reads
 * the count of its M before such a call (inside its bracket, where the G stays on its M)
 * and, when the call fails with EINTR, makes it again if gr_sig_call_again says so, as
 * the kernel restarts it natively when no handler runs.
 */
static inline void gr_sig_quiet(struct gr_m *mp) /* async-signal-safe */
{
	atomic_fetch_add_explicit(&mp->xquiet_sigs, 1, memory_order_relaxed);
}

/* The count of the calling G's M (0 off green's Gs). */
static inline uint32_t gr_sig_quiet_count(void)
{
	struct gr_g *gp = gr_getg();
	struct gr_m *mp = gp && !gp->foreign ? gp->m : NULL;

	return mp ? atomic_load_explicit(&mp->xquiet_sigs, memory_order_relaxed) : 0;
}

/* For a call that failed with EINTR, the count having been before when it began: true
 * when a quiet signal alone ended it (the count moved) and it is to be made again.  A
 * signal pending on the G that it lets through makes the EINTR the program's own: a kick
 * that came too early to deliver it (green's code was running) left it there, so its
 * handler runs now, before the call returns, as the kernel runs it natively.  Should a
 * signal of the program's end the same call as a quiet one, its EINTR is lost: the two
 * must meet within one call. */
static inline bool gr_sig_call_again(uint32_t before)
{
	struct gr_g *gp = gr_getg();

	if (gr_sig_deliverable(gp)) {
		gr_sig_deliver_pending(gp);
		return false;
	}
	return gr_sig_quiet_count() != before;
}

/* A G that was runnable while a signal or an asynchronous cancellation was sent to it
 * (the kick finds no M to signal) acts on it when it resumes from a yield. */
void gr_sig_resume(struct gr_g *gp);

/* pthread_sigmask for the calling G: how is SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK; set
 * may be NULL; *old gets the previous mask if old is not NULL.  Newly unblocked pending
 * signals are delivered before it returns.  Returns 0 or EINVAL. */
int gr_sig_setmask(int how, const sigset_t *set, sigset_t *old);

/* sigpending for the calling thread: a G's pending signals, and those pending for the
 * process (or its M) that the G blocks. */
void gr_sig_pending(sigset_t *set);

/* pthread_kill / pthread_sigqueue of gp (a G green created, or the main G).  info is NULL
 * for pthread_kill.  Returns 0 or EINVAL (an exited, unjoined G drops the signal, as in
 * glibc 2.34+). */
int gr_sig_kill(struct gr_g *gp, int sig, const siginfo_t *info);

/* tgkill(tgid, tid, sig), or tkill when tgid is -1: when tid is the id of a live G of
 * this process (gr_thread_gettid), sends sig to that G as gr_sig_kill does, sets *err to
 * its answer and returns true.  Returns false when tid is no G's: the caller asks the
 * kernel, which answers ESRCH for the fake tid of an ended G. */
bool gr_sig_kill_tid(pid_t tgid, pid_t tid, int sig, int *err);

/* sigwait / sigwaitinfo / sigtimedwait for the calling thread.  timeout NULL: wait for
 * ever.  Returns the signal number, or -EAGAIN (timeout), -EINTR (a handler ran). */
int gr_sig_wait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout);

/* sigsuspend: waits with mask until a handler has run.  Returns -EINTR. */
int gr_sig_suspend(const sigset_t *mask);

/* Signals the kernel thread of gp's M with sig if gp is inside a system call bracket
 * (gr_entersyscall), holding the bracket open meanwhile.  Requires gp->siglock.  Returns
 * true if it signalled. */
bool gr_sig_syscall_signal_locked(struct gr_g *gp, int sig);

/* Makes the current park of gp interruptible: called from the unlockf of gr_park (gp is
 * WAITING and off its stack).  claim(gp, arg) must win the G's wake-up exclusively (a CAS
 * against the normal waker and any timer) and, if it wins, make gp runnable (gr_ready);
 * it returns whether it won.  It runs under gp->siglock, from a sender's context, or at
 * once from here when an interrupt is already due.  After gp wakes, it calls
 * gr_sig_intr_disarm before anything else, then settles whichever won.  This is how a
 * parking primitive other than gr_park_wait_intr (the netpoller) becomes a cancellation
 * point and EINTR-able: on an interrupted wake it calls gr_cancel_point(), then
 * returns EINTR, or retries when gp->sigrestart says every handler had SA_RESTART. */
void gr_sig_intr_arm(struct gr_g *gp, bool (*claim)(struct gr_g *gp, void *arg), void *arg);
void gr_sig_intr_disarm(struct gr_g *gp);

/* The same for a wait that only a signal interrupts (to run its handlers; the waiter
 * then waits again), never a cancellation request: a blocked pthread_mutex_lock, as a
 * futex wait natively. */
void gr_sig_intr_arm_signals(struct gr_g *gp, bool (*claim)(struct gr_g *gp, void *arg),
			     void *arg);
void gr_sig_intr_disarm_signals(struct gr_g *gp);

/* Makes the handler installed for sig run with every signal blocked but the faults
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP), SIGCANCEL and SIGSETXID included, which
 * glibc's sigaction leaves out of sa_mask.  Returns 0 or -EINVAL. */
int gr_sig_handler_blocks_all(int sig);

/* Makes gp notice a cancellation request: interrupts its interruptible wait (not one
 * only signals interrupt), signals the M of its system call, or kicks the M it runs on
 * with SIGCANCEL. */
void gr_sig_kick_cancel(struct gr_g *gp);

/* The end of a system call bracket: clears gp->xsyscall, waiting out a sender that is
 * signalling this M (proc.c's gr_exitsyscall calls it). */
void gr_sig_syscall_leave(struct gr_g *gp);

/* sysmon, each tick: hands process-directed signals that no thread has taken (every M
 * that could is off its G) to the main G, or raises them at their default action (see
 * signal.c).  Looks at most once a millisecond. */
void gr_sig_sysmon(int64_t now);

/* ---- alternate signal stacks (altstack.c) ---- */

/* Bytes of green's alternate signal stack per M, above a guard page.  SA_ONSTACK handlers
 * run there: green's preemption handler, whose unwinder needs preempt.c's STACK_NEEDED,
 * and the program's own (Rust's SIGSEGV handler for stack overflows). */
#define GR_ALTSTACK_SIZE (128 * 1024)

/* Gives the calling OS thread (mp, a new M) an alternate signal stack of green's own,
 * recorded in mp->sigstk_lo and sigstk_size; *prev, if not NULL, gets the thread's
 * previous setting (the program's, for M0's main G).
 * Best effort: without memory the M keeps none, and SA_ONSTACK handlers run on the G's
 * stack, as on a thread that has none. */
void gr_altstack_m_init(struct gr_m *mp, stack_t *prev);

/* True when the caller runs on mp's alternate signal stack: inside an SA_ONSTACK handler
 * (or a function it called), whose frames must not leave mp (proc.c, lock_to_m). */
static inline bool gr_altstack_running(const struct gr_m *mp)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	return sp - (uintptr_t)mp->sigstk_lo < mp->sigstk_size;
}

/* sigaltstack(ss, old) for the calling thread: a G's setting is its own (gp->altstack),
 * never loaded into the kernel; any other thread gets the real call.  Returns 0, or
 * -EFAULT, -EPERM (ss while on the alternate stack), -EINVAL (bad ss_flags), -ENOMEM
 * (ss_size below MINSIGSTKSZ), as the kernel. */
int gr_altstack_set(const stack_t *ss, stack_t *old);

/* After a handler that returned on mp though it began on another M: installs mp's own
 * alternate stack again (the handler's sigreturn installed the other M's). */
void gr_altstack_moved(struct gr_m *mp);

/* In one of green's handlers, before it returns on mp: makes the frame's saved
 * alternate stack mp's own, which sigreturn installs. */
void gr_altstack_frame_own(struct gr_m *mp, ucontext_t *uc);

/* ---- cancellation (cancel.c) ---- */

/* True when the calling G has an enabled, pending cancellation request. */
bool gr_cancel_due(struct gr_g *gp);

/* A deferred cancellation point: acts on a pending request by exiting the G with
 * PTHREAD_CANCELED (cleanup handlers and destructors run).  Returns if there is none. */
void gr_cancel_point(void);

/* pthread_cancel of gp.  Returns 0 or ESRCH. */
int gr_cancel(struct gr_g *gp);

/* Acts on an asynchronous cancellation in a SIGCANCEL handler (signal.c). */
void gr_cancel_async(void);

#endif
