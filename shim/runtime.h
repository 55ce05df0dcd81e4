/*
 * The scheduler's data structures: G (a green thread), M (an OS thread), P (a logical
 * processor), and the global scheduler state.  This is Go's runtime2.go for C programs.
 *
 * Serialization rules
 * -------------------
 * Lock order (outer first; never take an outer lock while holding an inner one):
 *
 *     gr_p.timerlock -> park bucket lock -> gr_sched.lock -> gr_stack cache lock
 *
 * Timer callbacks run with their P's timerlock held; they take a park bucket lock to
 * dequeue the waiter they time out, and readying a G may take gr_sched.lock (global run
 * queue, idle P and M lists).  Nothing that holds gr_sched.lock parks, allocates with
 * malloc, or calls into libc beyond raw system calls.
 *
 * What blocks what
 * ----------------
 *     primitive                         blocks the G   blocks the M   keeps the P
 *     gr_park (mutex, cond, join, ...)  yes            no             gives it to the next G
 *     gr_lock (runtime-internal)        spins, then futex-waits the M  (held for nanoseconds)
 *     foreign thread parking            its OS thread futex-waits (it has no P)
 *     idle M (stopm)                    -              futex-wait     no (P is idle)
 *     netpoll wait (read, accept, poll) yes            no             gives it to the next G
 *     the one idle M in the poller      -              epoll_pwait2   no (P is idle)
 *     gr_park inside an SA_ONSTACK      yes, and its M futex-waits     gives it to another M
 *       handler (the M's altstack)      for it (lockedg/lockedm)
 *
 * The netpoller's per-descriptor lock (netpoll.c) is a leaf: held only around fstat,
 * epoll_ctl and the life counter, never while taking another lock or parking.
 *
 * Current G: every TCB green runs on holds a pointer to its G in the TCB header word
 * GR_TCB_G (tcbhead_t.unused_vgetcpu_cache[0], unused by glibc 2.36).  An M's own TCB
 * holds its g0.  So the running context finds its G, and through it its M, with one
 * fs-relative load, without keeping M state in __thread variables (which are per-G).
 */
#ifndef GR_RUNTIME_H
#define GR_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"
#include "lock.h"

#define GR_TCB_G 56 /* offset of the current-G word in every TCB */
/* tcbhead_t.unused_vgetcpu_cache[1]: the interrupted PC the preemption stub jumps back to
 * (shim/arch/x86_64/preempt.S).  Written and read only by the G's own stub. */
#define GR_TCB_PREEMPT_PC 64

struct gr_m;
struct gr_p;
struct gr_waiter;

/*
 * G states.
 *
 * GR_G_RUNNABLE: on a run queue (a P's local queue or runnext, or the global queue), not
 *   executing.  Its stack is owned by the scheduler; gp->m is stale.
 * GR_G_RUNNING: executing user code on gp->m, which holds a P (or gp is a foreign thread,
 *   which has no P and is always RUNNING while it runs).  The G owns its stack.
 * GR_G_WAITING: parked (gr_park): on no run queue; some wait queue or timer will make it
 *   runnable with gr_ready.  Its stack is owned by whoever readies it.
 * GR_G_DEAD: its start routine returned or it called pthread_exit; it is off its stack.
 *   A joinable dead G keeps its memory until joined (pthread_join collects the result).
 */
enum { GR_G_RUNNABLE = 1, GR_G_RUNNING, GR_G_WAITING, GR_G_DEAD };

/* Join state bits of gr_g.xjoin (Go has no counterpart; this is POSIX's join/detach). */
#define GR_JOIN_DETACHED 1u /* pthread_detach or PTHREAD_CREATE_DETACHED */
#define GR_JOIN_JOINING 2u  /* a joiner has claimed the G */
#define GR_JOIN_EXITED 4u   /* the G is off its stack; memory may be collected */

/* What a G asks its M's g0 to do once the G is off its stack (Go's mcall targets). */
enum gr_switch_op {
	GR_OP_NONE,
	GR_OP_PARK,  /* mark the G waiting, then call unlockf(unlockarg) */
	GR_OP_YIELD, /* put the G at the tail of the local run queue */
	GR_OP_YIELD_NEXT, /* put the G in runnext (gr_yield_to_runnext) */
	GR_OP_EXIT,  /* the G has finished: collect or publish it */
	GR_OP_SYSCALL_QUEUE, /* back from a system call without a P: queue the G globally */
	GR_OP_PREEMPT, /* preempted (preempt.c): queue the G globally, as Go's gopreempt_m */
};

#define GR_G_MAGIC 0x677265656e475f31ull /* "greenG_1": a live G */

/* The fields a switch, a park or a wake-up touches fill the first two cache lines; the rest
 * is read at creation and exit and by the rarer calls.  A ring of 503 Gs touches each G on
 * every lap, and whether those lines fit in the core's L2 cache decides its speed. */
struct gr_g {
	/* Owned by the M running the G; written only by that M. */
	struct gr_ctx ctx;
	struct gr_m *m; /* valid while RUNNING */

	/* Atomic: status transitions are CAS'd (gr_ready vs. the parking M's g0). */
	_Atomic int xstatus;

	bool foreign;	   /* a thread green did not create: no P, blocks its OS thread */
	bool is_g0;	   /* an M's scheduler context */
	bool is_main;	   /* the program's main thread */
	/* A preemption request reached the G where it could not yield (green's or libc's
	 * code): it yields at the next gr_preempt_check.  Set by the preemption handler
	 * and cleared by the G, both on the G's own thread. */
	volatile bool preempt_deferred;
	/* The G's CPU clock (pthread_getcpuclockid, CLOCK_THREAD_CPUTIME_ID), in TSC ticks:
	 * written by the M running the G, read racily (aligned 64-bit) by anyone. */
	uint64_t cputicks;  /* accumulated while RUNNING outside system calls */
	uint64_t run_since; /* TSC when it last started running; 0 while not running */

	/* Signals and cancellation (signal.c, cancel.c).  Bit n-1 stands for signal n.
	 * xsigmask: the G's blocked set; written only by the G itself (relaxed), read by
	 *   senders and by execute, which loads it into the M's kernel mask.
	 * xsigpend: thread-directed signals (pthread_kill) not yet delivered; senders set
	 *   bits, the G itself clears them when it delivers or sigwaits.
	 * sigwaitset: the set a sigwait* in progress waits for (0 otherwise); protected by
	 *   siglock.
	 * intr_claim, xintr_arg: the interruptible park in progress, armed by the parking
	 *   M once the G is WAITING (gr_sig_intr_arm: park.c's waiters, and any other
	 *   parking primitive such as the netpoller's).  intr_claim is written before
	 *   xintr_arg is published (non-NULL: armed).  Whoever takes xintr_arg by exchange
	 *   owns the claim: a sender (under siglock) calls intr_claim(gp, arg) to end the
	 *   park early; the G taking it back (disarm) knows no sender will touch arg, and
	 *   one finding it taken waits for siglock, which the sender holds until done.
	 *   xsigintr_arg is the slot of a wait that runs signal handlers but that a
	 *   cancellation request does not end (gr_sig_intr_arm_signals): only a signal's
	 *   sender takes it.
	 * xsyscall: the kernel tid of the M while the G is inside gr_entersyscall /
	 *   gr_exitsyscall, plus GR_SYSCALL_BUSY while a sender signals that thread, so
	 *   the G cannot leave the call (and the M) in between.
	 * Cancellation state is glibc's own cancelhandling word in the G's struct pthread,
	 * so glibc's setcancelstate, setcanceltype and its cancellable system calls work
	 * on a G unchanged. */
	_Atomic uint64_t xsigmask;
	_Atomic uint64_t xsigpend;
	uint64_t sigwaitset;
	bool (*intr_claim)(struct gr_g *gp, void *arg);
	_Atomic(void *) xintr_arg;
	_Atomic(void *) xsigintr_arg; /* the same for a wait only signals interrupt */
	/* The M this G must resume on: set by the G as it leaves its M while its code runs
	 * on that M's alternate signal stack (a handler that parks; proc.c's lock_to_m),
	 * cleared by that M when it resumes it.  Read by whichever M takes the G from a run
	 * queue (which published it). */
	struct gr_m *lockedm;
	void *tcb; /* the G's thread pointer: its struct pthread */
	pid_t tid; /* fake tid (> pid_max) for green's Gs; real tid for foreign ones */
	_Atomic int xsyscall;
	/* Runtime locks (gr_lock) the G holds or is taking, counted on the G itself (lock.c):
	 * a kick that finds any leaves its signals pending (signal.c's kicked()), since a
	 * handler run there may block with the lock held. */
	volatile int nlocks;
	/* A SIGCANCEL kick is on its way to the G's M (signal.c's kick_locked): set by the
	 * sender under siglock, cleared by the G's handler and whenever the G starts
	 * running on an M (a kick sent before lands on whatever that M runs). */
	_Atomic bool xkick;
	bool sigrestart; /* every handler of the last delivery had SA_RESTART */
	/* Green's preemption handler is walking this G's frames (preempt.c): the unwinder's
	 * sigprocmask calls change the G's mask but deliver nothing (signal.c).  Written and
	 * read on the G itself. */
	bool unwinding;
	/* SIGCANCEL kicks (signal.c's on_sigcancel), which nest (SA_NODEFER): kick_frame is
	 * the frame of the one delivering this G's pending signals (0: none), and a kick
	 * that lands deeper meanwhile only sets kick_again for it to look once more.
	 * Touched only by the G's own handlers. */
	volatile uintptr_t kick_frame;
	volatile bool kick_again;
	struct gr_lock siglock;

	/* Protected by gr_sched.lock (global run queue) or the stack cache lock (free list). */
	struct gr_g *schedlink;

	uint64_t magic;	   /* GR_G_MAGIC while the G exists; checked by gr_g_from_tcb */

	/* The G's memory (stack.c).  Immutable while the G lives. */
	void *map_base;	   /* mapping holding stack, TLS, TCB and dtv; NULL for a user stack */
	size_t map_size;
	void *stack_lo;	   /* lowest usable stack byte (above the guard) */
	size_t stack_size; /* usable bytes from stack_lo up to the static TLS */
	size_t guard_size;
	bool user_stack;   /* pthread_attr_setstack: the program owns the memory */

	/* Start and result.  Written by the G itself; read by the joiner after EXITED. */
	void *(*start)(void *);
	void *arg;
	void *result;
	bool c11; /* created by thrd_create: the start routine returns int */

	/* Atomic: GR_JOIN_* bits; the G's exit, join and detach race on it. */
	_Atomic unsigned xjoin;

	/* Parking (park.c).  Foreign threads sleep on xwake with a kernel futex. */
	_Atomic uint32_t xwake;

	/* Robust mutexes the G holds, newest first, linked through the mutexes' __list
	 * fields (struct gr_mutex *; mutex.c).  Owned by the G; g_finish hands them to
	 * gr_mutex_robust_exit, which marks them owner-died. */
	void *robust_list;

	/* The G's clear_child_tid (set_tid_address(2), thread.c): when clear_tid_set, the
	 * word its exit zeroes and wakes, as the kernel does for a native thread (NULL:
	 * none); otherwise the default, the tid field of its struct pthread, which green
	 * leaves as it is.  Owned by the G; reset by each thread creation. */
	int *clear_tid;
	bool clear_tid_set;

	/* Attributes reported by pthread_getattr_np and the sched/affinity/name calls.
	 * Written by the G's own calls or by pthread_set* from others: protected by attrlock. */
	struct gr_lock attrlock;
	int sched_policy;
	int sched_priority;
	cpu_set_t *affinity; /* NULL: the process's mask */
	size_t affinity_size;
	char name[16];	     /* "": not set, report the process name */

	/* The program's sigaltstack for this G (altstack.c): what it set, never loaded
	 * into the kernel (its M has green's own).  ss_size 0: none.  altstack_late: set by
	 * a handler that runs on the M's stack only because the G had none when the signal
	 * came (natively it runs on the normal stack, not on the new one).  Owned by the G. */
	stack_t altstack;
	bool altstack_late;
};

#define GR_SYSCALL_BUSY 0x40000000

/*
 * M: an OS thread.  Created with the real pthread_create (so glibc knows it: its own
 * TCB, rseq registration, a place on glibc's thread list); never exits while the process
 * lives, except the M whose main G calls pthread_exit (see thread.c).
 */
struct gr_m {
	/* Owned by this M. */
	struct gr_g *g0;    /* scheduler context: the M's own stack and TCB */
	struct gr_g *curg;  /* the G running on this M, or NULL on g0 */
	struct gr_p *p;	    /* attached P, or NULL */
	struct gr_p *oldp;  /* the P left in GR_P_SYSCALL by gr_entersyscall */
	void *kernel_tcb;   /* the TCB glibc associates with this kernel thread */
	pid_t ktid;	    /* kernel thread id */
	int id;
	bool spinning;	    /* looking for work; counted in gr_sched.xnmspinning */
	uint64_t fastrand;
	/* This thread's kernel signal mask as green last set it.  A load made inside a signal
	 * handler (gr_sig_switch: a kick's delivery, the program's pthread_kill of itself) is
	 * undone by the handler's sigreturn, which this does not see.  Such a load happens
	 * only while the running G's mask is not yet on the M: inside gr_sig_setmask and
	 * gr_sig_suspend, which then load the G's mask whatever this says (signal.c). */
	uint64_t sigmask;
	struct gr_m *alllink; /* gr_sched.xallm list; immutable once linked */
	bool dead;	    /* its OS thread has ended (the main G's pthread_exit) */
	/* Immutable once the M runs: green's alternate signal stack of this thread
	 * (altstack.c), where every SA_ONSTACK handler runs; sigstk_size 0 when it has none. */
	char *sigstk_lo;
	size_t sigstk_size;
	/* Owned by this M: the G whose handler frames are on this M's alternate stack while
	 * the G is off the M (parked or queued).  The M runs no other G until it resumes it,
	 * and blocks every signal meanwhile (proc.c, lock_to_m). */
	struct gr_g *lockedg;

	/* Set by a G right before it switches to g0; consumed by g0 (gr_switch_op), or by
	 * the G it switched to directly (prevg: see proc.c's park_direct). */
	enum gr_switch_op op;
	void (*unlockf)(void *);
	void *unlockarg;
	struct gr_g *prevg;

	/* Protected by gr_sched.lock: the idle-M list, and the P handed over by startm (or,
	 * for an M with a lockedg, by startlockedm, without the lock: written before the
	 * release store of xwake, read after its acquire load). */
	struct gr_m *schedlink;
	struct gr_p *nextp;
	/* Atomic: 0 while parked in stopm or waiting for its lockedg; set to 1 by the M that
	 * wakes it (futex word). */
	_Atomic uint32_t xwake;

	/* Preemption and revocation (preempt.c, sysmon.c).
	 * xpreempt: sysmon's request that the G running on this M yield: the P's schedtick
	 *   sysmon saw, plus one (0: none).  sysmon stores it (release) before tgkill; the
	 *   signal handler exchanges it with 0 on this M, so a SIGURG that finds 0 is the
	 *   program's own.  xpreempt_pless: the same for a G running without a P (1: asked).
	 * xpin: whether sysmon may revoke this M's P (GR_PIN_*).  The M pins its P (CAS
	 *   USER -> PINNED) at every scheduler entry that uses mp->p and unpins it when it
	 *   returns to the program; sysmon CASes USER -> REVOKED when it finds the M asleep
	 *   in the kernel where no hook saw it.  g0 always runs pinned. */
	_Atomic uint32_t xpreempt;
	_Atomic uint32_t xpreempt_pless;
	_Atomic uint32_t xpin;
	/* Signals taken on this M that ran no handler of the program's (sig.h's
	 * gr_sig_quiet): counted by green's handlers, read by this M's own thread. */
	_Atomic uint32_t xquiet_sigs;

	/* P-less runs (proc.c): owned by this M.  pless: its G came back from a call, found
	 * no P and went on running without one (xpin is REVOKED meanwhile, so the next entry
	 * into green that needs a P takes one or queues the G); pless_call: that G is inside
	 * a wrapped call.  xpless_since: when the G last resumed the program without a P
	 * (gr_nanotime), 0 otherwise; sysmon reads it to preempt a G that computes without
	 * a P for GR_PLESS_RUN_NS, asking again PREEMPT_RETRY_NS after a refusal. */
	bool pless, pless_call;
	_Atomic int64_t xpless_since;
	/* The G on this M that has signals pending that no kick delivered (a kick landed
	 * while it was pinned, or it resumed with them), or NULL: sysmon kicks the M once
	 * that G runs the program on it again (signal.c's gr_sig_recheck), comparing
	 * pointers only.  Cleared by sysmon. */
	struct gr_g *_Atomic xsig_recheck;
	int64_t pless_asked; /* sysmon's own: when it last asked such a G to yield */
};

/* How long a G may run the program without a P before sysmon preempts it. */
#define GR_PLESS_RUN_NS 1000000

/* gr_m.xpin states. */
enum { GR_PIN_USER = 0, GR_PIN_PINNED, GR_PIN_REVOKED };

/*
 * P states.
 * GR_P_IDLE: on gr_sched.pidle (or being taken off it under gr_sched.lock); no M.
 * GR_P_RUNNING: owned by pp->m, which runs Gs or looks for work with it.
 * GR_P_SYSCALL: the M that ran the P is in a blocking system call on behalf of its G
 *   and has detached itself (pp->m == NULL, mp->oldp == pp).  Whoever CASes the status
 *   out of SYSCALL owns the P: the M itself when the call returns (one CAS, the fast
 *   path), or sysmon, which hands it to another M (retake); the returning M must then
 *   find another P or queue its G.
 */
enum { GR_P_IDLE = 1, GR_P_RUNNING, GR_P_SYSCALL };

#define GR_RUNQ_SIZE 256

struct gr_timer;

/* P: a logical processor; GREEN_MAXPROCS of them exist for the life of the process. */
struct gr_p {
	int id;
	/* Atomic: GR_P_*; the owner and sysmon race on SYSCALL -> RUNNING/IDLE by CAS. */
	_Atomic int xstatus;
	/* Protected by gr_sched.lock while idle; owned by the M holding it otherwise. */
	struct gr_m *m;
	struct gr_p *link; /* idle list */
	/* Written by the owner with relaxed atomics, read by sysmon: bumped on each new
	 * time slice and each system call, so sysmon can tell a long one from many short. */
	uint32_t syscalltick;
	/* Written by the owner (relaxed) as it enters a system call, read by a G back from its
	 * own call without a P: the TSC (gr_arch_cputicks) at the start of this P's call. */
	_Atomic uint64_t xsyscallwhen;

	/* Owned by the M holding the P. */
	uint32_t schedtick; /* incremented on each new time slice */
	/* Incremented on every G it starts, runnext's included (relaxed; thieves read it to
	 * tell a P that is about to run its runnext from one stuck in a long G). */
	uint32_t nexec;
	/*
	 * Deferred wake-ups (proc.c: wakep_deferred).  xhandoffs: nonzero while the Gs that
	 * parked into runnext ran only briefly, hand-offs (park_direct sets it to
	 * HANDOFF_CREDIT on a hand-off and counts it down on a park after a longer run;
	 * sysmon zeroes it when it had to pay a deferred wake-up).  xwakeowed: a G went
	 * to runnext without waking an M, so sysmon watches the P (set by the owner,
	 * cleared by sysmon once runnext and the queue are empty).  Both relaxed; the
	 * ordering that keeps a wake-up from being lost is described at wakep_deferred.
	 */
	_Atomic uint8_t xhandoffs;
	_Atomic bool xwakeowed;
	struct gr_g *gfree; /* cache of exited Gs for reuse (stack.c) */
	int ngfree;

	/* The local run queue: a ring written only by the owner (tail), consumed by the
	 * owner and by thieves (head, CAS).  Go: runqhead/runqtail/runq/runnext. */
	_Atomic uint32_t xrunqhead;
	_Atomic uint32_t xrunqtail;
	struct gr_g *_Atomic xrunq[GR_RUNQ_SIZE];
	struct gr_g *_Atomic xrunnext; /* readied by the running G; runs next, same slice */

	/* Timers (timer.c): a 4-ary min-heap, protected by timerlock.  xtimer0 is the
	 * earliest deadline (INT64_MAX when empty), readable without the lock. */
	struct gr_lock timerlock;
	struct gr_timer **timers;
	int ntimers, timercap;
	_Atomic int64_t xtimer0;
} __attribute__((aligned(64)));

struct gr_sched {
	struct gr_lock lock;

	/* Protected by lock. */
	struct gr_g *runq_head, *runq_tail; /* global run queue */
	_Atomic int xrunqsize;	/* written under lock; read racily as a hint */
	struct gr_p *pidle;	/* idle Ps */
	_Atomic int xnpidle;	/* written under lock; read racily as a hint */
	struct gr_m *midle;	/* idle Ms */
	int nmidle;
	int mcount;		/* Ms created */
	/* The idle M sleeping until the next timer, if any; read without the lock as a hint
	 * (gr_proc_timer_added), so atomic, relaxed. */
	struct gr_m *_Atomic xtimer_m;
	int64_t timer_m_until;
	/* Gs back from a blocking system call that found no P (gr_exitsyscall, a revoked M):
	 * a FIFO every P takes from before its own queue, as the kernel runs a thread waking
	 * from I/O before the computing ones; sysmon shortens running slices while it is not
	 * empty (proc.c, sysmon.c).  sysret_tailp points at the last G's schedlink (valid
	 * while sysret_head is not NULL).  xnsysret is written under lock, read racily. */
	struct gr_g *sysret_head, **sysret_tailp;
	_Atomic int xnsysret;

	_Atomic int xnmspinning; /* Ms spinning for work */
	_Atomic int xnpless;	 /* Ms running a G without a P (gr_m.pless) */
	struct gr_m *_Atomic xallm; /* every M ever created (signal.c walks it); push only */

	/* Read-only after init. */
	int nprocs;
	struct gr_p *allp;
	int maxthreads;

	/* Atomic: Gs that the program sees as live threads (main included); the process
	 * exits when it reaches zero after main called pthread_exit. */
	_Atomic long xnlive;
	_Atomic bool xmain_exited;
};

extern struct gr_sched gr_sched;

/* The G running on this OS thread, or NULL if green has not seen this thread. */
static inline struct gr_g *gr_getg(void)
{
	struct gr_g *gp;
	__asm__("mov %%fs:%c1, %0" : "=r"(gp) : "i"(GR_TCB_G));
	return gp;
}

/* The running G, adopting the thread as a foreign G if green has not seen it. */
struct gr_g *gr_curg(void);

/* Start-up of the adoption of foreign threads (foreign.c) and of the SIGSETXID wrapper
 * (setxid.c; wraps glibc's handler once glibc has one, and may be called again).
 * gr_setxid_init returns 0 or a negative errno. */
void gr_foreign_init(void);
int gr_setxid_init(void);

/* True when the running G may park cheaply (it is a G on an M with a P). */
static inline bool gr_g_schedulable(const struct gr_g *gp)
{
	return gp && !gp->foreign && !gp->is_g0;
}

#endif
