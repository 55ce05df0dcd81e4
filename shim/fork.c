/*
 * fork() under green.
 *
 * glibc's fork must run on a TCB glibc knows (the M's kernel TCB): its child-side code
 * walks THREAD_SELF->list and resets the thread list around it, and it crashed on a G's
 * TCB.  So the real fork runs inside gr_tls_on_kernel_tcb.  The fork handlers, though,
 * are the program's code and must run on the calling G (its errno, its __thread
 * variables, and a mutex they lock must see the G as owner): green keeps the atfork list
 * itself (pthread_atfork and __register_atfork are interposed, so glibc's own list stays
 * empty) and runs the handlers on the G around the real fork, in POSIX order (prepare in
 * reverse order of registration, parent and child in order).
 *
 * The child keeps only the calling G.  It runs on the same M (the forking OS thread is the
 * child's only thread), which keeps its g0 and its P; everything else is rebuilt from
 * scratch rather than trusted, since any other M may have been anywhere at the moment of
 * fork, holding any runtime lock: the scheduler (idle lists, run queues, timers, M count:
 * gr_proc_fork_child), the wait queues (gr_park_fork_child: every waiter was another G),
 * the caches of dead Gs, sysmon (started again when needed), and the netpoller (its own
 * hook, when linked in: the epoll instance is shared with the parent).  Mutexes that vanished Gs
 * held stay held, as POSIX says.
 *
 * Rejected: stopping the world around fork (every M parked at a safe point, as Go's
 * forkLock and stop-the-world do): it costs every fork a round trip through all Ms, and
 * the child would still have to rebuild the same structures; nothing the child keeps
 * depends on another M's state.
 *
 * glibc unregisters the handlers of a dlclosed object through a hidden alias of
 * __unregister_atfork that no preload sees: a handler that no longer lies in a loaded
 * object (dladdr) is skipped at fork.  Known gap: a
 * fork from a G other than the main G that runs on M0 runs glibc's fork on the main
 * thread's TCB, which the main G shares (recursive glibc locks such as the stdio list lock
 * see one owner).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fd.h"
#include "fork.h"
#include "glibc.h"
#include "park.h"
#include "proc.h"
#include "real.h"
#include "sig.h"
#include "stack.h"
#include "tls.h"

/* The netpoller's child hook (netpoll_epoll.c), when that module is linked in. */
extern void gr_netpoll_fork_child(void) __attribute__((weak));

struct atfork {
	void (*prepare)(void);
	void (*parent)(void);
	void (*child)(void);
	void *dso;
};

/* Protected by atfork_lock. */
static struct gr_lock atfork_lock = GR_LOCK_INIT;
static struct atfork *handlers;
static int nhandlers, caphandlers;

int gr_atfork_register(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso)
{
	gr_lock(&atfork_lock);
	if (nhandlers == caphandlers) {
		int cap = caphandlers ? 2 * caphandlers : 16;
		struct atfork *h = realloc(handlers, sizeof(*h) * cap);
		if (!h) {
			gr_unlock(&atfork_lock);
			return ENOMEM;
		}
		handlers = h;
		caphandlers = cap;
	}
	handlers[nhandlers++] = (struct atfork){ prepare, parent, child, dso };
	gr_unlock(&atfork_lock);
	return 0;
}

void gr_atfork_unregister(void *dso)
{
	gr_lock(&atfork_lock);
	int j = 0;
	for (int i = 0; i < nhandlers; i++)
		if (handlers[i].dso != dso)
			handlers[j++] = handlers[i];
	nhandlers = j;
	gr_unlock(&atfork_lock);
}

/* True when fn is NULL or still in a loaded object (glibc unregisters the handlers of a
 * dlclosed object through a hidden call green does not see: skip those). */
static bool loaded(void (*fn)(void))
{
	Dl_info info;

	return !fn || dladdr((void *)fn, &info) != 0;
}

/* A copy of the list, so no lock is held while the program's handlers run (they may
 * park, or register more handlers). */
static struct atfork *snapshot(int *n)
{
	struct atfork *copy = NULL;
	int m = 0;

	gr_lock(&atfork_lock);
	if (nhandlers && (copy = malloc(sizeof(*copy) * nhandlers)))
		for (int i = 0; i < nhandlers; i++)
			copy[m++] = handlers[i];
	gr_unlock(&atfork_lock);
	*n = 0;
	for (int i = 0; i < m; i++)
		if (loaded(copy[i].prepare) && loaded(copy[i].parent) && loaded(copy[i].child))
			copy[(*n)++] = copy[i];
	return copy;
}

struct fork_args {
	struct gr_g *gp;
	pid_t pid;
	int err;
};

static void child_reinit(struct gr_g *gp)
{
	gr_proc_fork_child(gp);
	gr_park_fork_child();
	gr_stack_fork_child(gp);
	gr_tls_fork_child();
	gr_fd_fork_child();
	if (gr_netpoll_fork_child)
		gr_netpoll_fork_child();
	gr_sig_fork_child(gp);
	gp->attrlock = (struct gr_lock)GR_LOCK_INIT;
	gp->intr_claim = NULL;
	atomic_store_explicit(&gp->xintr_arg, NULL, memory_order_relaxed);
	atomic_store_explicit(&gp->xsigintr_arg, NULL, memory_order_relaxed);
	gp->sigwaitset = 0;
}

/* On the M's kernel TCB. */
static void do_fork(void *arg)
{
	struct fork_args *a = arg;
	void *tp = gr_arch_tp();

	a->pid = gr_real.fork();
	if (a->pid < 0)
		a->err = GR_PT(tp, gr_glibc.errno_off, int);
	else if (a->pid == 0 && a->gp)
		child_reinit(a->gp);
}

pid_t gr_fork(bool run_handlers)
{
	struct gr_g *gp = gr_getg();
	int n = 0;
	struct atfork *h = run_handlers ? snapshot(&n) : NULL;

	for (int i = n - 1; i >= 0; i--)
		if (h[i].prepare)
			h[i].prepare();
	/* A foreign thread's child gets no rebuilt runtime (documented in ARCHITECTURE.md). */
	struct fork_args a = { gr_g_schedulable(gp) ? gp : NULL, -1, 0 };
	gr_tls_on_kernel_tcb(do_fork, &a);
	for (int i = 0; i < n; i++) {
		void (*fn)(void) = a.pid == 0 ? h[i].child : h[i].parent;
		if (fn)
			fn();
	}
	free(h);
	return a.pid < 0 ? -a.err : a.pid;
}
