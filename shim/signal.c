/*
 * Signals at G granularity.
 *
 * The kernel knows only Ms, so green keeps each M's kernel signal mask equal to the mask
 * of the G it runs: execute() loads the G's mask (gr_g.xsigmask) into the kernel when it
 * differs from the M's (gr_sig_switch: one compare on the common path, where every G has
 * the same mask; a rt_sigprocmask only when Gs with different masks share an M).  Then:
 *
 *  - process-directed signals (kill, a terminal's SIGINT) are the kernel's business: it
 *    picks a thread whose mask allows the signal, which is an M running a G that allows
 *    it, and the handler runs on that G (fs is the G's TCB, so pthread_self() is the G);
 *    a signal every G blocks stays pending in the process until a G unblocks it or
 *    sigwaits for it.  For that, no thread without a G may take one: sysmon and every new
 *    M block every signal from birth, an M asleep in stopm or blocked in the netpoller
 *    blocks every signal, and an M back on g0 (spinning) blocks at least every signal
 *    some live G blocks (sigblocked.h: with one mask shared by all Gs that is the mask it
 *    has, so it costs nothing).  When that set grows, grow_blocked widens the mask of
 *    every M on g0 before pthread_sigmask returns (a SIGCANCEL whose handler edits the
 *    mask sigreturn restores): a kill right after the program blocks a signal must not
 *    find a spinning M with the old mask.
 *  - a process-directed signal that arrives while no M runs a G that allows it (every
 *    such G is parked: a single-threaded program waiting in read, natively interrupted
 *    with EINTR) stays pending in the process, where sysmon finds it (gr_sig_sysmon,
 *    every millisecond at most).  If the main G allows it and is not running (else the
 *    kernel gives it the signal), sysmon takes it and sends it to the main G as
 *    pthread_kill would (below), which interrupts the main G's
 *    interruptible wait, as the kernel, which prefers the main thread, does natively; a
 *    signal left at its default action is raised on sysmon instead, so that a SIGTERM
 *    ends the process whatever the main G waits in.
 *  - thread-directed signals (pthread_kill, pthread_sigqueue) name a G, which may be
 *    running, runnable, parked or in a system call.  The sender, under the G's siglock:
 *      * G in a system call bracket (gr_entersyscall) and the signal not blocked, or in
 *        the G's sigwait set: tgkill the M's kernel thread, holding the bracket open
 *        (GR_SYSCALL_BUSY) so the G cannot leave that M meanwhile.  The kernel then does
 *        exactly what it does natively: the handler runs on the G, the call fails with
 *        EINTR or restarts (SA_RESTART), sigtimedwait returns the signal.
 *      * otherwise: the signal becomes pending on the G (xsigpend).  If the G does not
 *        block it: a G parked in an interruptible wait (gr_park_wait_intr) is woken
 *        with GR_WAKE_INTERRUPTED; a running G's M is kicked with SIGCANCEL, whose
 *        handler delivers the current G's pending signals.
 *    A G delivers its own pending signals (gr_sig_deliver_pending) by sending each to
 *    its own M with tgkill while the M's mask is the G's: the kernel runs the program's
 *    handler, with its flags and default action, before tgkill returns.
 *  - sigwait and friends first take a matching signal pending on the G, then wait in
 *    rt_sigtimedwait inside a system call bracket (the G's mask is on the M, so the
 *    kernel hands over process-directed signals; thread-directed ones arrive by tgkill).
 *
 * Rejected: keeping every M's mask permissive and emulating masks entirely in user space
 * (Go's way): a signal every G blocks and nobody handles (the classic "block SIGUSR1
 * everywhere, sigwait for it in one thread") would hit its default action on whatever M
 * the kernel picked, so green would have to own every signal's disposition.  And a
 * rt_sigprocmask on every context switch (swapcontext's way): a system call per switch.
 *
 * Known gaps: a process-directed signal that the main G blocks (or that comes after
 * main has exited) while every G allowing it is parked waits until one of them runs; one
 * that lands on a spinning M runs its handler there and interrupts nothing; one that
 * sysmon forwards reaches the handler without its siginfo unless the main G is in a
 * system call and the signal was queued (sigqueue, timers: the kernel lets a thread other
 * than the main one queue no other kind).  A pthread_sigqueue value reaches the handler only when the signal can be
 * sent straight to the G's M (a system call in progress); otherwise the handler sees
 * SI_TKILL without the value.  A signal made pending on a G that is neither parked
 * interruptibly nor in a system call is delivered at its next interruptible wait or when
 * the SIGCANCEL kick catches it on its M.  glibc's internal mask changes (system(),
 * posix_spawn) are invisible to green.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "glibc.h"
#include "park.h"
#include "preempt.h"
#include "proc.h"
#include "real.h"
#include "sig.h"
#include "sigblocked.h"
#include "stack.h"
#include "sysmon.h"
#include "timer.h"

#define ALL_BLOCKED (~0ull & ~GR_SIG_UNBLOCKABLE)

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct ksigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* The G that process-directed signals nobody took go to (gr_sig_sysmon): the main G, or
 * in a fork child the G that forked.  Written at init and in a fork child. */
static struct gr_g *sig_main;
#define SIG_SYSMON_NS 1000000 /* gr_sig_sysmon looks at most this often */

/* Ms marked for gr_sig_recheck (gr_m.xsig_recheck): raised by the marker, lowered by
 * sysmon as it clears a mark. */
static _Atomic int xnrecheck;
#define SIG_RECHECK_NS 200000 /* sysmon looks at marked Ms this often */

_Atomic uint64_t gr_sig_kernel_open;

void gr_sig_reserve(int sig)
{
	if (sig >= 1 && sig <= 64)
		atomic_fetch_or_explicit(&gr_sig_kernel_open, GR_SIGBIT(sig), memory_order_relaxed);
}

static uint64_t kmask_get(void)
{
	uint64_t cur = 0;

	gr_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 8);
	return cur;
}

static uint64_t set64(const sigset_t *set)
{
	uint64_t s;

	memcpy(&s, set, sizeof(s));
	return s;
}

static void set_from64(sigset_t *set, uint64_t s)
{
	sigemptyset(set);
	memcpy(set, &s, sizeof(s));
}

static pid_t getpid_raw(void)
{
	return (pid_t)gr_syscall(SYS_getpid, 0, 0, 0);
}

/* What an M off its G must block. */
static uint64_t idle_blocked(void)
{
	return gr_sigblocked_any() & ~atomic_load_explicit(&gr_sig_kernel_open, memory_order_relaxed);
}

/* The blocked-anywhere set has grown (gr_sigblocked_move): every M that runs no G (spinning on
 * g0) gets it before this returns, through SIGCANCEL, whose handler ORs it into the mask
 * the kernel restores on sigreturn.  Ms asleep in stopm block everything already, and so
 * does an M whose thread has not started (no ktid yet: the tgkill fails), since newm
 * starts it with every signal blocked; an M running a G loads the new set when it comes
 * back to g0 (the seq_cst pair with execute).  Rare: in most programs the set grows once,
 * at start-up. */
static void grow_blocked(void)
{
	uint64_t b = idle_blocked();
	pid_t pid = getpid_raw();

	for (struct gr_m *mp = atomic_load_explicit(&gr_sched.xallm, memory_order_acquire); mp;
	     mp = mp->alllink) {
		if (mp->dead || __atomic_load_n(&mp->curg, __ATOMIC_SEQ_CST) ||
		    (__atomic_load_n(&mp->sigmask, __ATOMIC_ACQUIRE) & b) == b)
			continue;
		if (gr_syscall(SYS_tgkill, pid, mp->ktid, GR_SIGCANCEL) != 0)
			continue;
		while ((__atomic_load_n(&mp->sigmask, __ATOMIC_ACQUIRE) & b) != b &&
		       !__atomic_load_n(&mp->curg, __ATOMIC_SEQ_CST) && !mp->dead)
			gr_arch_pause();
	}
}

void gr_sig_setmask_m(struct gr_m *mp, uint64_t mask)
{
	gr_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	__atomic_store_n(&mp->sigmask, mask, __ATOMIC_RELEASE); /* grow_blocked reads it */
}

void gr_sig_m_init(struct gr_m *mp)
{
	mp->sigmask = kmask_get();
}

void gr_sig_m_sleep(struct gr_m *mp)
{
	if (mp->sigmask != ALL_BLOCKED)
		gr_sig_setmask_m(mp, ALL_BLOCKED);
}

void gr_sig_m_idle(struct gr_m *mp)
{
	/* Loop: a grow_blocked that signalled this M while it was setting its mask has its
	 * widened mask overwritten by ours, so look again until the set is stable. */
	for (;;) {
		uint64_t b = idle_blocked();
		if ((mp->sigmask & b) == b)
			return;
		gr_sig_setmask_m(mp, mp->sigmask | b);
	}
}

void gr_sig_g_init(struct gr_g *gp, struct gr_g *parent)
{
	uint64_t mask = parent && gr_g_schedulable(parent) ?
	                        atomic_load_explicit(&parent->xsigmask, memory_order_relaxed) :
	                        kmask_get();

	mask &= ~GR_SIG_UNBLOCKABLE;
	atomic_store_explicit(&gp->xsigmask, mask, memory_order_relaxed);
	if (gr_sigblocked_move(0, mask))
		grow_blocked();
	atomic_store_explicit(&gp->xsigpend, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->xsyscall, 0, memory_order_relaxed);
	gp->sigwaitset = 0;
	gp->kick_frame = 0;
	gp->kick_again = false;
	atomic_store_explicit(&gp->xkick, false, memory_order_relaxed);
	gp->intr_claim = NULL;
	atomic_store_explicit(&gp->xintr_arg, NULL, memory_order_relaxed);
	atomic_store_explicit(&gp->xsigintr_arg, NULL, memory_order_relaxed);
	gp->siglock = (struct gr_lock)GR_LOCK_INIT;
	gp->altstack = (stack_t){.ss_flags = SS_DISABLE}; /* POSIX: not inherited */
	gp->altstack_late = false;
}

void gr_sig_g_exit(struct gr_g *gp)
{
	gr_sigblocked_move(atomic_load_explicit(&gp->xsigmask, memory_order_relaxed), 0);
}

void gr_sig_fork_child(struct gr_g *gp)
{
	/* POSIX: the child's pending signals are empty; its mask is the caller's, and the
	 * caller is the only G left to count. */
	gr_sigblocked_reset();
	gr_sigblocked_move(0, atomic_load_explicit(&gp->xsigmask, memory_order_relaxed));
	sig_main = gp; /* process-directed signals nobody takes go to it (gr_sig_sysmon) */
	atomic_store_explicit(&gp->xsigpend, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->xsyscall, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->xkick, false, memory_order_relaxed); /* not inherited */
	gp->siglock = (struct gr_lock)GR_LOCK_INIT;
	atomic_store_explicit(&xnrecheck, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->m->xsig_recheck, NULL, memory_order_relaxed);
}

bool gr_sig_signal_due(struct gr_g *gp)
{
	uint64_t pend = atomic_load_explicit(&gp->xsigpend, memory_order_seq_cst);

	return pend & (~atomic_load_explicit(&gp->xsigmask, memory_order_relaxed) | gp->sigwaitset);
}

bool gr_sig_interrupt_due(struct gr_g *gp)
{
	return gr_sig_signal_due(gp) || gr_cancel_due(gp);
}

static bool sa_restart(int sig)
{
	struct ksigaction ka;

	if (gr_syscall4(SYS_rt_sigaction, sig, NULL, &ka, 8) != 0)
		return true;
	return (ka.flags & SA_RESTART) != 0;
}

void gr_sig_deliver(struct gr_g *gp, uint64_t pend)
{
	/* Not inside green's preemption handler (the unwinder's sigprocmask, a park in its
	 * lock): the program's handler would run there, on the M's alternate stack.  They
	 * stay pending; the kick, blocked meanwhile, or the next wait delivers them. */
	if (gp->unwinding)
		return;
	/* Claim exactly the bits still set: a concurrent sigwait may take one. */
	pend &= atomic_fetch_and_explicit(&gp->xsigpend, ~pend, memory_order_acq_rel);
	bool restart = true;
	pid_t pid = getpid_raw();
	while (pend) {
		int sig = __builtin_ctzll(pend) + 1;
		pend &= pend - 1;
		restart &= sa_restart(sig);
		struct gr_m *mp = gp->m; /* a handler may park: re-read per signal */
		gr_sig_switch(mp, gp);
		gr_syscall(SYS_tgkill, pid, mp->ktid, sig);
		if (gp->m != mp && !gr_altstack_running(gp->m))
			gr_altstack_moved(gp->m);
	}
	gp->sigrestart = restart;
}

int gr_sig_setmask(int how, const sigset_t *set, sigset_t *old)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp)) {
		uint64_t s = set ? set64(set) & ~GR_SIG_UNBLOCKABLE : 0, o = 0;
		if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
			return EINVAL;
		long r = gr_syscall4(SYS_rt_sigprocmask, how, set ? &s : NULL, &o, 8);
		if (r == 0 && old)
			set_from64(old, o);
		return r ? (int)-r : 0;
	}
	uint64_t cur = atomic_load_explicit(&gp->xsigmask, memory_order_relaxed), next;
	if (old)
		set_from64(old, cur);
	if (!set)
		return 0;
	uint64_t s = set64(set) & ~GR_SIG_UNBLOCKABLE;
	switch (how) {
	case SIG_BLOCK:
		next = cur | s;
		break;
	case SIG_UNBLOCK:
		next = cur & ~s;
		break;
	case SIG_SETMASK:
		next = s;
		break;
	default:
		return EINVAL;
	}
	if (gr_sigblocked_move(cur, next))
		grow_blocked();
	/* Seq_cst store, then the load of xsigpend in deliver: pairs with the sender's
	 * seq_cst fetch_or then load of the mask, so one of them sees the other. */
	atomic_store_explicit(&gp->xsigmask, next, memory_order_seq_cst);
	/* Loaded (the kernel then delivers newly unblocked process signals) whenever the
	 * kernel mask changes, even if gr_m.sigmask has it already: a handler run since the
	 * store (a kick's delivery) may have loaded it, and its sigreturn put the old one
	 * back.  Checking gr_m.sigmask alone, the M kept the old mask until the next
	 * change: the kernel still let through a signal the G had just blocked, in 6 of 24
	 * runs of 100,000 SIG_BLOCKs by a thread that another pthread_kill()ed without pause
	 * (MAXPROCS=4). */
	uint64_t want = gr_sig_want_mask(next);
	if (want != gr_sig_want_mask(cur))
		gr_sig_setmask_m(gp->m, want);
	else
		gr_sig_switch(gp->m, gp);
	gr_sig_deliver_pending(gp);
	return 0;
}

bool gr_sig_syscall_signal_locked(struct gr_g *gp, int sig)
{
	GR_ASSERT_HELD(&gp->siglock);
	int k = atomic_load_explicit(&gp->xsyscall, memory_order_seq_cst);

	if (!k || (k & GR_SYSCALL_BUSY))
		return false;
	if (!atomic_compare_exchange_strong_explicit(&gp->xsyscall, &k, k | GR_SYSCALL_BUSY,
	                                             memory_order_acq_rel, memory_order_relaxed))
		return false; /* it left the call */
	gr_syscall(SYS_tgkill, getpid_raw(), k, sig);
	atomic_store_explicit(&gp->xsyscall, k, memory_order_release);
	return true;
}

void gr_sig_syscall_leave(struct gr_g *gp)
{
	int k = atomic_load_explicit(&gp->xsyscall, memory_order_relaxed);

	for (;;) {
		if (k & GR_SYSCALL_BUSY) {
			gr_arch_pause();
			k = atomic_load_explicit(&gp->xsyscall, memory_order_acquire);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
		            &gp->xsyscall, &k, 0, memory_order_acq_rel, memory_order_relaxed))
			return;
	}
}

/*
 * Arming and disarming take no lock: a hand-off through a condition variable arms and
 * disarms once each, and siglock cost four locked instructions of about twenty.  The
 * exchange on xintr_arg decides who owns the claim.  An interrupt made due before the
 * arm is not lost: the arm's exchange comes before its check of the pending state, and a
 * sender's update of that state before its exchange (both full barriers); one of the two
 * sees the other.
 */
static void arm(struct gr_g *gp, _Atomic(void *) *slot, bool (*due)(struct gr_g *gp),
		bool (*claim)(struct gr_g *gp, void *arg), void *arg)
{
	gp->intr_claim = claim;
	atomic_exchange_explicit(slot, arg, memory_order_seq_cst);
	if (due(gp) && atomic_exchange_explicit(slot, NULL, memory_order_acq_rel) == arg)
		claim(gp, arg);
}

static void disarm(struct gr_g *gp, _Atomic(void *) *slot)
{
	if (atomic_exchange_explicit(slot, NULL, memory_order_acq_rel))
		return;
	/* A sender took it (or the arm claimed it itself): a sender holds siglock until its
	 * claim is done with the waiter. */
	gr_lock(&gp->siglock);
	gr_unlock(&gp->siglock);
}

void gr_sig_intr_arm(struct gr_g *gp, bool (*claim)(struct gr_g *gp, void *arg), void *arg)
{
	arm(gp, &gp->xintr_arg, gr_sig_interrupt_due, claim, arg);
}

void gr_sig_intr_disarm(struct gr_g *gp)
{
	disarm(gp, &gp->xintr_arg);
}

void gr_sig_intr_arm_signals(struct gr_g *gp, bool (*claim)(struct gr_g *gp, void *arg),
			     void *arg)
{
	arm(gp, &gp->xsigintr_arg, gr_sig_signal_due, claim, arg);
}

void gr_sig_intr_disarm_signals(struct gr_g *gp)
{
	disarm(gp, &gp->xsigintr_arg);
}

/* Makes gp notice a pending signal (cancel false) or cancellation request (true).
 * Requires gp->siglock. */
static void kick_locked(struct gr_g *gp, bool cancel)
{
	GR_ASSERT_HELD(&gp->siglock);
	void *arg = atomic_exchange_explicit(&gp->xintr_arg, NULL, memory_order_acq_rel);
	if (!arg && !cancel)
		arg = atomic_exchange_explicit(&gp->xsigintr_arg, NULL, memory_order_acq_rel);
	if (arg) {
		/* Acquire: intr_claim was written before arg was published. */
		gp->intr_claim(gp, arg);
		return;
	}
	/* One kick on its way per G: SIGCANCEL is a queued (real-time) signal, and a
	 * pthread_kill storm queued hundreds on one M, whose handlers (SA_NODEFER) then
	 * nested until the stack overflowed.  The handler takes every pending signal. */
	if (atomic_load_explicit(&gp->xkick, memory_order_seq_cst))
		return;
	atomic_store_explicit(&gp->xkick, true, memory_order_seq_cst);
	if (gr_sig_syscall_signal_locked(gp, GR_SIGCANCEL))
		return;
	struct gr_m *mp = __atomic_load_n(&gp->m, __ATOMIC_ACQUIRE);
	if (mp && atomic_load_explicit(&gp->xstatus, memory_order_acquire) == GR_G_RUNNING)
		gr_syscall(SYS_tgkill, getpid_raw(), mp->ktid, GR_SIGCANCEL);
	else
		atomic_store_explicit(&gp->xkick, false, memory_order_relaxed);
}

void gr_sig_kick_cancel(struct gr_g *gp)
{
	gr_lock(&gp->siglock);
	kick_locked(gp, true);
	gr_unlock(&gp->siglock);
}

int gr_sig_kill(struct gr_g *gp, int sig, const siginfo_t *info)
{
	if (sig < 0 || sig > 64)
		return EINVAL;
	/* glibc 2.34+: a thread that has exited but is not joined yet takes (and drops) the
	 * signal: 0, not ESRCH. */
	if (sig == 0 || atomic_load_explicit(&gp->xjoin, memory_order_acquire) & GR_JOIN_EXITED)
		return 0;
	if (sig == GR_SIGCANCEL || sig == GR_SIGSETXID)
		return EINVAL;
	uint64_t bit = GR_SIGBIT(sig);
	struct gr_g *self = gr_getg();
	if (gp == self) {
		if (atomic_load_explicit(&gp->xsigmask, memory_order_relaxed) & bit) {
			atomic_fetch_or_explicit(&gp->xsigpend, bit, memory_order_seq_cst);
			return 0;
		}
		gr_sig_switch(gp->m, gp);
		if (info)
			gr_syscall4(SYS_rt_tgsigqueueinfo, getpid_raw(), gp->m->ktid, sig, info);
		else
			gr_syscall(SYS_tgkill, getpid_raw(), gp->m->ktid, sig);
		return 0;
	}
	gr_lock(&gp->siglock);
	bool blocked = atomic_load_explicit(&gp->xsigmask, memory_order_seq_cst) & bit;
	bool wanted = !blocked || (gp->sigwaitset & bit);
	bool sent = false;
	if (wanted) {
		int k = atomic_load_explicit(&gp->xsyscall, memory_order_seq_cst);
		if (k && !(k & GR_SYSCALL_BUSY) &&
		    atomic_compare_exchange_strong_explicit(&gp->xsyscall, &k, k | GR_SYSCALL_BUSY,
		                                            memory_order_acq_rel,
		                                            memory_order_relaxed)) {
			if (info)
				gr_syscall4(SYS_rt_tgsigqueueinfo, getpid_raw(), k, sig, info);
			else
				gr_syscall(SYS_tgkill, getpid_raw(), k, sig);
			atomic_store_explicit(&gp->xsyscall, k, memory_order_release);
			sent = true;
		}
	}
	if (!sent) {
		atomic_fetch_or_explicit(&gp->xsigpend, bit, memory_order_seq_cst);
		/* Re-read the mask after publishing the bit (see gr_sig_setmask). */
		blocked = atomic_load_explicit(&gp->xsigmask, memory_order_seq_cst) & bit;
		if (!blocked || (gp->sigwaitset & bit))
			kick_locked(gp, false);
	}
	gr_unlock(&gp->siglock);
	return 0;
}

bool gr_sig_kill_tid(pid_t tgid, pid_t tid, int sig, int *err)
{
	if (tgid != -1 && tgid != getpid_raw())
		return false;
	struct gr_g *gp = gr_stack_g_by_tid(tid);
	if (!gp)
		return false;
	*err = gr_sig_kill(gp, sig, NULL);
	return true;
}

void gr_sig_pending(sigset_t *set)
{
	struct gr_g *gp = gr_getg();
	uint64_t k = 0;

	gr_syscall(SYS_rt_sigpending, &k, 8, 0);
	if (!gr_g_schedulable(gp)) {
		set_from64(set, k);
		return;
	}
	uint64_t blocked = atomic_load_explicit(&gp->xsigmask, memory_order_relaxed);
	set_from64(set, atomic_load_explicit(&gp->xsigpend, memory_order_acquire) |
				(k & blocked & ~GR_SIG_UNBLOCKABLE));
}

/*
 * rt_sigtimedwait for want on gp's M.  A preemption request made of this M just before
 * the G entered its system call (sysmon, or gr_sysmon_sysret, saw it running) sends a
 * signal that would land in the wait, run green's handler, and end the wait with EINTR:
 * rt_sigtimedwait is never restarted (signal(7)).  So unless the G blocks that signal or
 * waits for it itself, the wait takes it too: green's is dropped and the wait goes on
 * until the deadline; the program's own (it may use SIGURG) is queued back to the M, so
 * its handler runs with its siginfo, and the wait ends with EINTR as it would have.
 */
static long wait_letting_preemption_in(struct gr_g *gp, uint64_t want, siginfo_t *info,
				       const struct timespec *timeout)
{
	int psig = gr_preempt_signal();
	uint64_t extra = psig ? GR_SIGBIT(psig) & ~want : 0;
	int64_t deadline = 0;
	struct timespec left;

	if (atomic_load_explicit(&gp->xsigmask, memory_order_relaxed) & extra)
		extra = 0;
	if (timeout)
		deadline = gr_nanotime() + timeout->tv_sec * 1000000000 + timeout->tv_nsec;
	for (;;) {
		uint64_t kwant = want | extra;
		long r = gr_syscall4(SYS_rt_sigtimedwait, &kwant, info, timeout, 8);
		if (!extra || r != psig)
			return r;
		if (!gr_preempt_absorb(gp->m)) {
			gr_syscall4(SYS_rt_tgsigqueueinfo, getpid_raw(), gp->m->ktid, psig, info);
			return -EINTR;
		}
		if (timeout) {
			int64_t ns = deadline - gr_nanotime();
			if (ns < 0)
				ns = 0;
			left = (struct timespec){ns / 1000000000, ns % 1000000000};
			timeout = &left;
		}
	}
}

int gr_sig_wait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	struct gr_g *gp = gr_getg();
	uint64_t want = set64(set) & ~GR_SIG_UNBLOCKABLE;
	siginfo_t tmp;

	if (!info)
		info = &tmp;
	if (!gr_g_schedulable(gp))
		return (int)gr_syscall4(SYS_rt_sigtimedwait, &want, info, timeout, 8);
	gr_entersyscall();
	gr_lock(&gp->siglock);
	uint64_t p = atomic_load_explicit(&gp->xsigpend, memory_order_seq_cst) & want;
	if (p) {
		int sig = __builtin_ctzll(p) + 1;
		atomic_fetch_and_explicit(&gp->xsigpend, ~GR_SIGBIT(sig), memory_order_acq_rel);
		gr_unlock(&gp->siglock);
		gr_exitsyscall();
		memset(info, 0, sizeof(*info));
		info->si_signo = sig;
		info->si_code = SI_TKILL;
		info->si_pid = getpid_raw();
		info->si_uid = (uid_t)gr_syscall(SYS_getuid, 0, 0, 0);
		return sig;
	}
	gp->sigwaitset = want;
	gr_unlock(&gp->siglock);
	long r = wait_letting_preemption_in(gp, want, info, timeout);
	gr_lock(&gp->siglock);
	gp->sigwaitset = 0;
	gr_unlock(&gp->siglock);
	gr_exitsyscall();
	return (int)r;
}

int gr_sig_suspend(const sigset_t *mask)
{
	struct gr_g *gp = gr_getg();
	uint64_t m = set64(mask) & ~GR_SIG_UNBLOCKABLE;

	if (!gr_g_schedulable(gp))
		return (int)gr_syscall(SYS_rt_sigsuspend, &m, 8, 0);
	gr_entersyscall();
	gr_lock(&gp->siglock);
	uint64_t old = atomic_load_explicit(&gp->xsigmask, memory_order_relaxed);
	atomic_store_explicit(&gp->xsigmask, m, memory_order_seq_cst);
	uint64_t p = atomic_load_explicit(&gp->xsigpend, memory_order_seq_cst) & ~m;
	if (p)
		atomic_fetch_and_explicit(&gp->xsigpend, ~p, memory_order_acq_rel);
	gr_unlock(&gp->siglock);
	struct gr_m *mp = gp->m;
	pid_t pid = getpid_raw();
	/* G-pending signals go to this M while its mask (the old one) still blocks them:
	 * rt_sigsuspend then delivers them as it opens the mask. */
	for (uint64_t q = p; q; q &= q - 1)
		gr_syscall(SYS_tgkill, pid, mp->ktid, __builtin_ctzll(q) + 1);
	/* Green's preemption signal (asked for just before this call, or a SIGURG that the
	 * program ignores) would end it as if a handler of the program had run
	 * (tests/progs/sig_call_restart). */
	uint64_t km = m | gr_preempt_blockable();
	if (!(p & ~old))
		gr_syscall(SYS_rt_sigsuspend, &km, 8, 0);
	gr_lock(&gp->siglock);
	atomic_store_explicit(&gp->xsigmask, old, memory_order_seq_cst);
	gr_unlock(&gp->siglock);
	/* rt_sigsuspend, and the sigreturn of each handler it ran, put the old mask back in
	 * the kernel, but a handler that loaded the suspend mask (a kick's delivery, the
	 * program's pthread_kill of itself) left gr_m.sigmask saying the suspend mask: the
	 * next G with that mask ran on this M with the old one, and a pthread_kill of itself
	 * stayed pending (tests/progs/sig_suspend_mask).  gr_m.sigmask then differs from the
	 * G's mask: compare and load. */
	gr_sig_switch(gp->m, gp);
	gr_exitsyscall();
	return -EINTR;
}

void gr_sig_resume(struct gr_g *gp)
{
	if (atomic_load_explicit(&gp->xsigpend, memory_order_relaxed))
		gr_sig_deliver_pending(gp);
	int ch = atomic_load_explicit((_Atomic int *)((char *)gp->tcb + GR_PT_CANCELHANDLING),
	                              memory_order_acquire);
	if ((ch & 0x3b) == 0x0a) /* enabled, asynchronous, cancelled, not exiting */
		gr_cancel_async();
}

/* SIGCANCEL's kick on gp, running on its M mp: deliver gp's pending signals.  Returns
 * true when it delivered any. */
static bool kicked(struct gr_g *gp, struct gr_m *mp)
{
	/* Before the look at the pending set: a sender that finds no kick on its way sends
	 * another (seq_cst, against its own update of the set, then the load). */
	atomic_store_explicit(&gp->xkick, false, memory_order_seq_cst);
	/* Inside green's pinned code, or holding a runtime lock (a wait queue's, as a woken G
	 * settles its wait unpinned): a handler run here that blocks (Boehm GC's suspend
	 * handler waits in sigsuspend) left the lock held and the other threads stuck behind
	 * it (gc_boehm hung in about 1 run of 250 at MAXPROCS=2, and in 1 of 20 at 4 once
	 * sysmon re-sent kicks).  The signals stay pending: the G takes them where it parks
	 * or resumes (park.c, proc.c), or sysmon kicks again once it runs the program. */
	if ((mp && atomic_load_explicit(&mp->xpin, memory_order_relaxed) == GR_PIN_PINNED) ||
	    gp->nlocks) {
		/* sysmon's kick is then the one on its way: senders must not send more (with
		 * xkick left clear, a pthread_kill storm queued kicks that nested until the
		 * stack overflowed, as before xkick existed). */
		if (mp && gr_sig_deliverable(gp)) {
			gr_sig_recheck_m(mp, gp);
			atomic_store_explicit(&gp->xkick, true, memory_order_seq_cst);
		}
		return false;
	}
	/* Kicks sent faster than handlers run nested here without bound (a pthread_kill
	 * storm overflowed the stack): one landing inside the delivery in progress further
	 * up leaves its signals to it.  Compared by depth, so a handler that longjmp'd out
	 * of a delivery leaves no stale claim above. */
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	if (gp->kick_frame && frame < gp->kick_frame) {
		gp->kick_again = true;
		return true; /* for the delivery in progress, which runs handlers */
	}
	gp->kick_frame = frame;
	bool delivered = false;
	do {
		gp->kick_again = false;
		if (gr_sig_deliverable(gp)) {
			gr_sig_deliver_pending(gp);
			delivered = true;
		}
	} while (gp->kick_again);
	gp->kick_frame = 0;
	return delivered;
}

/* SIGCANCEL: green's kick (deliver the current G's pending signals) and glibc's
 * asynchronous cancellation (glibc: sigcancel_handler, which green replaces since it
 * interposes pthread_cancel). */
static void on_sigcancel(int sig, siginfo_t *si, void *uc)
{
	void *tp = gr_arch_tp();
	int saved_errno = GR_PT(tp, gr_glibc.errno_off, int);

	(void)sig;
	if (si->si_code != SI_TKILL || si->si_pid != getpid_raw())
		return;
	struct gr_g *gp = GR_PT(tp, GR_TCB_G, struct gr_g *);
	if (gp && gp->is_g0 && gp->m) {
		struct gr_m *mp = gp->m;
		struct gr_g *curg = __atomic_load_n(&mp->curg, __ATOMIC_RELAXED);
		if (curg) {
			/* Not grow_blocked's, which kicks only Ms without a G: a kick for the G
			 * this M is starting, or that runs on g0's TCB for a moment (gr_tls_on_m:
			 * TLS set-up, fork).  The mask sigreturn restores is that G's and must
			 * stay so (widening it kept Boehm GC's signals off the G): have sysmon
			 * kick again once the G runs on its own. */
			if (gr_sig_deliverable(curg))
				gr_sig_recheck_m(mp, curg);
		} else { /* grow_blocked: widen the mask sigreturn restores */
			uint64_t b = idle_blocked(), k;
			ucontext_t *ctx = uc;
			memcpy(&k, &ctx->uc_sigmask, sizeof(k));
			k |= b | mp->sigmask;
			memcpy(&ctx->uc_sigmask, &k, sizeof(k));
			__atomic_store_n(&mp->sigmask, k, __ATOMIC_RELEASE);
		}
		GR_PT(tp, gr_glibc.errno_off, int) = saved_errno;
		return;
	}
	if (gp && gr_g_schedulable(gp) && gp->tcb == tp) {
		struct gr_m *entry_m = gp->m;
		if (!kicked(gp, entry_m) && entry_m)
			gr_sig_quiet(entry_m);
		if (gp->m != entry_m) /* a handler moved the G: see altstack.c */
			gr_altstack_frame_own(gp->m, uc);
	}
	int ch = atomic_load_explicit((_Atomic int *)((char *)tp + GR_PT_CANCELHANDLING),
	                              memory_order_acquire);
	if ((ch & 0x3b) == 0x0a) /* enabled, asynchronous, cancelled, not exiting */
		gr_cancel_async();
	GR_PT(tp, gr_glibc.errno_off, int) = saved_errno;
}

int gr_sig_handler_blocks_all(int sig)
{
	struct ksigaction ka;

	if (gr_syscall4(SYS_rt_sigaction, sig, NULL, &ka, 8) != 0)
		return -EINVAL;
	ka.mask = ~(GR_SIGBIT(SIGSEGV) | GR_SIGBIT(SIGBUS) | GR_SIGBIT(SIGILL) |
		    GR_SIGBIT(SIGFPE) | GR_SIGBIT(SIGTRAP));
	return gr_syscall4(SYS_rt_sigaction, sig, &ka, NULL, 8) != 0 ? -EINVAL : 0;
}

/* A restorer that returns from a handler: glibc's own, borrowed from a disposition glibc
 * installs (the kernel needs one with SA_RESTORER, and the unwinder recognises glibc's). */
static void (*glibc_restorer(void))(void)
{
	struct ksigaction saved, probe;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (gr_syscall4(SYS_rt_sigaction, SIGUSR2, NULL, &saved, 8) != 0)
		return NULL;
	/* glibc's own sigaction (never an interposer: the shim calls no exported symbol). */
	int (*real_sigaction)(int, const struct sigaction *, struct sigaction *) =
	        (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT,
	                                                                          "sigaction");
	if (!real_sigaction || real_sigaction(SIGUSR2, &sa, NULL) != 0)
		return NULL;
	gr_syscall4(SYS_rt_sigaction, SIGUSR2, NULL, &probe, 8);
	gr_syscall4(SYS_rt_sigaction, SIGUSR2, &saved, NULL, 8);
	return probe.restorer;
}

/* A process-directed signal at its default action: raise it where nothing blocks it, on
 * this thread (sysmon, which blocks every signal), for the kernel's action: the process
 * ends (with a core where the signal says so), stops, or ignores it. */
static void raise_default(int sig)
{
	uint64_t open = ALL_BLOCKED & ~GR_SIGBIT(sig), old;

	gr_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &open, &old, 8);
	gr_syscall(SYS_tgkill, getpid_raw(), gr_syscall(SYS_gettid, 0, 0, 0), sig);
	gr_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
}

void gr_sig_sysmon(int64_t now)
{
	static int64_t last;
	struct gr_g *gp = sig_main;
	uint64_t pend = 0;

	/* A running main G (in a system call too) has its mask on its M: the kernel gives
	 * the signal to that thread, which may just not have run yet.  Leave it there. */
	if (now - last < SIG_SYSMON_NS || !gp ||
	    atomic_load_explicit(&gr_sched.xmain_exited, memory_order_relaxed) ||
	    atomic_load_explicit(&gp->xstatus, memory_order_acquire) == GR_G_RUNNING)
		return;
	last = now;
	/* sysmon blocks every signal: rt_sigpending reports all the process's pending ones
	 * (and its own, which nobody sends). */
	if (gr_syscall(SYS_rt_sigpending, &pend, 8, 0) != 0)
		return;
	pend &= ~GR_SIG_UNBLOCKABLE & ~GR_SIGBIT(GR_SIGCANCEL) & ~GR_SIGBIT(GR_SIGSETXID) &
		~atomic_load_explicit(&gr_sig_kernel_open, memory_order_relaxed) &
		~atomic_load_explicit(&gp->xsigmask, memory_order_seq_cst);
	while (pend) {
		int sig = __builtin_ctzll(pend) + 1;
		uint64_t one = GR_SIGBIT(sig);
		struct timespec zero = {0, 0};
		struct ksigaction ka;
		siginfo_t info;
		pend &= pend - 1;
		/* Take it (an M running a G may have taken it meanwhile: then it is gone). */
		if (gr_syscall4(SYS_rt_sigtimedwait, &one, &info, &zero, 8) != sig)
			continue;
		if (gr_syscall4(SYS_rt_sigaction, sig, NULL, &ka, 8) == 0 &&
		    (uintptr_t)ka.handler == (uintptr_t)SIG_DFL)
			raise_default(sig);
		else /* the kernel lets a thread other than the main one queue only negative
		      * si_codes (sigqueue's, timers'): kill's and alarm's go as tgkill's */
			gr_sig_kill(gp, sig,
				    info.si_code < 0 && info.si_code != SI_TKILL ? &info : NULL);
	}
}

/*
 * Signals left pending on a running G.  A kick that lands while its G is in pinned green
 * code leaves the signals (kicked(), above), and nobody kicks a G that waits in a run
 * queue; such a G may go back to a loop in the program that never calls green again (a
 * thread spinning until its handler sets a flag; Boehm GC's collector waiting for every
 * thread's acknowledgement).  The G is recorded on its M, and sysmon kicks the M while that
 * G runs the program there, unpinned; the kick delivers whatever the G has pending
 * (nothing, if it took its signals meanwhile), and a kick that finds it pinned again
 * records it again.  sysmon compares G pointers only and reads Ms, which live for good.
 */
void gr_sig_recheck_m(struct gr_m *mp, struct gr_g *gp)
{
	if (atomic_exchange_explicit(&mp->xsig_recheck, gp, memory_order_acq_rel))
		return;
	atomic_fetch_add_explicit(&xnrecheck, 1, memory_order_release);
	gr_sysmon_look_within(gr_nanotime(), SIG_RECHECK_NS);
}

void gr_sig_recheck(int64_t now, int64_t *next)
{
	if (!atomic_load_explicit(&xnrecheck, memory_order_acquire))
		return;
	pid_t pid = getpid_raw();
	for (struct gr_m *mp = atomic_load_explicit(&gr_sched.xallm, memory_order_acquire); mp;
	     mp = mp->alllink) {
		struct gr_g *gp = atomic_load_explicit(&mp->xsig_recheck, memory_order_acquire);
		if (!gp)
			continue;
		bool running = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) == gp;
		/* Pinned: inside green or in a call's bracket; in a call made without a P
		 * (proc.c's P-less runs) a kick would end the call with EINTR. */
		if (running &&
		    (atomic_load_explicit(&mp->xpin, memory_order_acquire) == GR_PIN_PINNED ||
		     __atomic_load_n(&mp->pless_call, __ATOMIC_ACQUIRE))) {
			if (now + SIG_RECHECK_NS < *next)
				*next = now + SIG_RECHECK_NS;
			continue;
		}
		/* Cleared before the kick: a kick that finds the G pinned marks it again.  A G
		 * that left the M has taken its signals (a park, a preemption) or is checked
		 * as it starts again (gr_sig_resumed): no kick, which would only interrupt
		 * whatever the M runs now (a sigtimedwait ended at once with EINTR in 4 runs
		 * of 90 of ../shared/progs/signals when the M was kicked regardless). */
		atomic_store_explicit(&mp->xsig_recheck, NULL, memory_order_seq_cst);
		atomic_fetch_sub_explicit(&xnrecheck, 1, memory_order_relaxed);
		if (running)
			gr_syscall(SYS_tgkill, pid, mp->ktid, GR_SIGCANCEL);
	}
}

int gr_signal_init(void)
{
	struct gr_g *gp = gr_getg();
	uint64_t cur = kmask_get();

	sig_main = gp && gr_g_schedulable(gp) ? gp : NULL;
	if (gp && gr_g_schedulable(gp)) {
		atomic_store_explicit(&gp->xsigmask, cur & ~GR_SIG_UNBLOCKABLE,
		                      memory_order_relaxed);
		gr_sigblocked_move(0, cur & ~GR_SIG_UNBLOCKABLE);
		gp->m->sigmask = cur;
	}
	return gr_sig_handlers_install();
}

int gr_sig_handlers_install(void)
{
	struct ksigaction ka = {
		.handler = on_sigcancel,
		.flags = SA_SIGINFO | SA_RESTART | SA_NODEFER | 0x04000000 /* SA_RESTORER */,
		.restorer = glibc_restorer(),
		.mask = 0,
	};
	if (!ka.restorer)
		return -ENOSYS;
	long r = gr_syscall4(SYS_rt_sigaction, GR_SIGCANCEL, &ka, NULL, 8);
	if (r)
		return (int)r;
	return gr_setxid_init();
}
