/*
 * Thread lifecycle.  A G's first frame (g_main) mirrors glibc's start_thread: it sets up
 * the per-thread libc state, registers a cancellation jump buffer in its struct pthread,
 * and calls the start routine.  pthread_exit in a G calls glibc's own pthread_exit, whose
 * forced unwind runs cleanup handlers and C++ destructors and lands back in g_main via
 * that buffer.  Then the thread-exit work (thread_local and TSD destructors) runs on the
 * G, and the G switches to g0 for the last time; g0 publishes it as exited (waking a
 * joiner) or, if detached, recycles its memory.
 *
 * Join and detach race with exit on one atomic word (GR_JOIN_*): exactly one of the
 * exiting G's g0, the joiner, or the detacher frees the G's memory.
 *
 * The process lives while any thread lives: the main G's pthread_exit hands its P to
 * another M and lets glibc end the OS thread it ran on, as natively; the last G to exit
 * after that calls exit(0), which is what glibc's last thread does.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "arch/x86_64/syscall.h"
#include "glibc.h"
#include "park.h"
#include "preempt.h"
#include "proc.h"
#include "real.h"
#include "sig.h"
#include "stack.h"
#include "sync.h"
#include "sysmon.h"
#include "thread.h"
#include "tls.h"

static size_t default_stack;

size_t gr_thread_default_stack(void)
{
	if (!default_stack) {
		struct rlimit rl;
		size_t size = 8 << 20;
		if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur >= (rlim_t)PTHREAD_STACK_MIN)
			size = rl.rlim_cur;
		default_stack = size;
	}
	return default_stack;
}

void gr_thread_set_default_stack(size_t size)
{
	default_stack = size;
}

void gr_thread_stack(struct gr_g *gp, void **lo, size_t *size)
{
	if (gp->user_stack) {
		*lo = gp->stack_lo;
		*size = gp->map_size;
	} else {
		*lo = (char *)gp->map_base + gp->guard_size;
		*size = gr_stack_block(gp) - gp->guard_size;
	}
}

struct gr_g *gr_thread_g(pthread_t t)
{
	if (!t)
		return NULL;
	struct gr_g *gp = GR_PT((void *)t, GR_TCB_G, struct gr_g *);
	if (!gp || gp->magic != GR_G_MAGIC || (gp->foreign && !gp->is_main) || gp->is_g0 ||
	    gp->tcb != (void *)t)
		return NULL;
	return gp;
}

/* The kernel's exit work on clear_child_tid (kernel/fork.c, mm_release): a zero and a
 * shared wake of one waiter, which wakes FUTEX_WAIT (shared) waiters only, as natively.
 * After the last-thread exit(0) above, which natively clears nothing either. */
static void clear_tid(struct gr_g *gp)
{
	if (!gp->clear_tid_set || !gp->clear_tid)
		return;
	*gp->clear_tid = 0;
	gr_futex((uint32_t *)gp->clear_tid, FUTEX_WAKE, 1, 0, NULL, 0);
}

static void g_finish(struct gr_g *gp)
{
	gr_tls_exit(gp);
	if (gp->robust_list)
		gr_mutex_robust_exit(gp); /* EOWNERDEAD for the next lockers */
	gr_sig_g_exit(gp);
	if (atomic_fetch_sub_explicit(&gr_sched.xnlive, 1, memory_order_acq_rel) == 1 &&
	    atomic_load_explicit(&gr_sched.xmain_exited, memory_order_acquire))
		exit(0);
	clear_tid(gp);
	gr_proc_exit_g();
}

/* The first frame of every G (glibc: start_thread). */
static void g_main(void *arg)
{
	struct gr_g *gp = arg;
	__pthread_unwind_buf_t ub;

	gr_proc_complete_prev();
	gr_tls_start();
	/* With savemask 0, __sigsetjmp writes only the jump buffer and mask_was_saved: the
	 * 72 bytes of __cancel_jmp_buf (glibc's start_thread makes the same cast). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
	int unwound = __sigsetjmp((struct __jmp_buf_tag *)(void *)ub.__cancel_jmp_buf, 0);
#pragma GCC diagnostic pop
	if (!unwound) {
		memset(ub.__pad, 0, sizeof(ub.__pad));
		GR_PT(gp->tcb, GR_PT_CLEANUP_JMP_BUF, void *) = &ub;
		if (gp->c11) {
			int (*start)(void *) = (int (*)(void *))(void *)gp->start;
			gp->result = (void *)(intptr_t)start(gp->arg);
		} else {
			gp->result = gp->start(gp->arg);
		}
	}
	else {
		/* pthread_exit or a cancellation unwound to here; glibc stored the result in
		 * the TCB either way (gr_thread_exit, pthread_testcancel, SIGCANCEL).  An
		 * unwind out of a system call left its bracket open: close it. */
		gp->result = GR_PT(gp->tcb, GR_PT_RESULT, void *);
		gr_proc_fix_syscall(gp);
	}
	g_finish(gp);
}

int gr_thread_create(pthread_t *out, const struct gr_thread_attr *a, void *(*start)(void *),
		     void *arg, bool c11)
{
	struct gr_g *self = gr_curg();
	struct gr_stack_req req = {
		.stack_size = a->stack_size ? a->stack_size : gr_thread_default_stack(),
		.guard_size = a->guard_size,
	};

	if (a->stack_addr) {
		if (a->stack_size < gr_stack_min())
			return EINVAL;
		req.user_addr = a->stack_addr;
		req.user_size = a->stack_size;
		req.guard_size = 0;
	} else if (req.stack_size < gr_stack_min()) {
		req.stack_size = gr_stack_min();
	}
	/* A second thread: sysmon (which starts preemption: its signal now stays open in
	 * the kernel mask of this G's M too), then the unwinder. */
	if (gr_sysmon_ensure() != 0)
		return EAGAIN;
	if (gr_g_schedulable(self))
		gr_sig_switch(self->m, self);
	gr_preempt_prepare();
	bool pinned;
	struct gr_p *pp = gr_g_schedulable(self) ? gr_proc_pin(&pinned) : NULL;
	struct gr_g *gp = gr_stack_alloc_g(pp, &req);
	if (pp)
		gr_proc_unpin(pinned);
	if (!gp)
		return EAGAIN;
	gp->magic = GR_G_MAGIC;
	gp->start = start;
	gp->arg = arg;
	gp->c11 = c11;
	gp->clear_tid_set = false;
	atomic_store_explicit(&gp->xjoin, a->detached ? GR_JOIN_DETACHED : 0, memory_order_relaxed);
	gp->sched_policy = a->explicit_sched ? a->policy : self->sched_policy;
	gp->sched_priority = a->explicit_sched ? a->priority : self->sched_priority;
	if (a->affinity) {
		gp->affinity = malloc(a->affinity_size);
		if (!gp->affinity) {
			gr_stack_free_g(pp, gp);
			return EAGAIN;
		}
		memcpy(gp->affinity, a->affinity, a->affinity_size);
		gp->affinity_size = a->affinity_size;
	}
	gr_ctx_init(&gp->ctx, gp, gp->tcb, g_main, gp);
	gr_sig_g_init(gp, self);
	atomic_fetch_add_explicit(&gr_sched.xnlive, 1, memory_order_relaxed);
	*out = (pthread_t)gp->tcb;
	gr_proc_start_g(gp);
	return 0;
}

static void release_g(struct gr_g *gp)
{
	struct gr_g *self = gr_getg();

	if (gp->is_main) /* the main thread's stack and TCB are glibc's */
		return;
	free(gp->affinity);
	gp->affinity = NULL;
	bool pinned = false;
	struct gr_p *pp =
		gr_g_schedulable(self) || (self && self->is_g0) ? gr_proc_pin(&pinned) : NULL;
	gr_stack_free_g(pp, gp);
	gr_proc_unpin(pinned);
}

void gr_thread_exited(struct gr_g *gp)
{
	/* Acq_rel: publishes gp->result to the joiner; pairs with its acquire load. */
	unsigned old = atomic_fetch_or_explicit(&gp->xjoin, GR_JOIN_EXITED, memory_order_acq_rel);

	if (old & GR_JOIN_DETACHED)
		release_g(gp);
	else if (old & GR_JOIN_JOINING)
		gr_park_wake(&gp->xjoin, INT_MAX, 0);
}

static bool not_exited(const void *addr, void *arg)
{
	(void)arg;
	return !(atomic_load_explicit((_Atomic unsigned *)addr, memory_order_acquire) &
		 GR_JOIN_EXITED);
}

int gr_thread_join(struct gr_g *gp, void **result, int64_t deadline, bool try)
{
	if (gp == gr_getg())
		return EDEADLK;
	unsigned old = atomic_load_explicit(&gp->xjoin, memory_order_acquire);
	do {
		if (old & (GR_JOIN_DETACHED | GR_JOIN_JOINING))
			return EINVAL;
		if (try && !(old & GR_JOIN_EXITED))
			return EBUSY;
	} while (!atomic_compare_exchange_weak_explicit(&gp->xjoin, &old, old | GR_JOIN_JOINING,
						       memory_order_acq_rel, memory_order_acquire));
	while (not_exited(&gp->xjoin, NULL)) {
		/* A cancellation point: an interrupted wait acts on a cancellation request,
		 * leaving the target joinable (POSIX). */
		int r = gr_park_wait_intr(&gp->xjoin, not_exited, NULL, deadline, 0);
		struct gr_g *self = gr_getg();
		if (r == -EINTR && gr_g_schedulable(self) && gr_cancel_due(self)) {
			atomic_fetch_and_explicit(&gp->xjoin, ~GR_JOIN_JOINING,
						  memory_order_acq_rel);
			gr_cancel_point();
		}
		if (r == -ETIMEDOUT && not_exited(&gp->xjoin, NULL)) {
			atomic_fetch_and_explicit(&gp->xjoin, ~GR_JOIN_JOINING,
						  memory_order_acq_rel);
			return ETIMEDOUT;
		}
	}
	if (result)
		*result = gp->result;
	release_g(gp);
	return 0;
}

int gr_thread_detach(struct gr_g *gp)
{
	unsigned old = atomic_load_explicit(&gp->xjoin, memory_order_acquire);

	do {
		if (old & (GR_JOIN_DETACHED | GR_JOIN_JOINING))
			return EINVAL;
	} while (!atomic_compare_exchange_weak_explicit(&gp->xjoin, &old, old | GR_JOIN_DETACHED,
						       memory_order_acq_rel, memory_order_acquire));
	if (old & GR_JOIN_EXITED)
		release_g(gp);
	return 0;
}

void gr_thread_exit(void *result)
{
	struct gr_g *gp = gr_getg();

	if (gp->is_main) {
		/* Joinable like any thread (glibc lets others join main).  Published before
		 * glibc unwinds main's stack: nothing of green's runs after that. */
		gp->result = result;
		gr_thread_exited(gp);
		atomic_store_explicit(&gr_sched.xmain_exited, true, memory_order_release);
		if (atomic_fetch_sub_explicit(&gr_sched.xnlive, 1, memory_order_acq_rel) == 1)
			exit(0);
		/* glibc unwinds main's stack and ends this OS thread; its P goes on. */
		gr_proc_abandon_m();
	} else {
		gp->result = result;
	}
	gr_real.pthread_exit(result);
	__builtin_unreachable();
}

pid_t gr_thread_set_tid_address(int *addr)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp))
		return (pid_t)gr_syscall(SYS_set_tid_address, addr, 0, 0);
	gp->clear_tid = addr;
	gp->clear_tid_set = true;
	return gp->tid;
}

bool gr_thread_tid_address(int **addr)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp))
		return false;
	*addr = gp->clear_tid_set ? gp->clear_tid : &GR_PT(gp->tcb, GR_PT_TID, int);
	return true;
}

pid_t gr_thread_gettid(void)
{
	struct gr_g *gp = gr_getg();

	if (gr_g_schedulable(gp))
		return gp->tid;
	return (pid_t)gr_syscall(SYS_gettid, 0, 0, 0);
}
