/*
 * The scheduler: Go's proc.go for C threads.
 *
 * Every M runs user Gs from its scheduler context g0.  A G gives up its M by switching to
 * g0 with an operation (park, yield, exit) that g0 completes once the G is off its stack;
 * g0 then looks for the next G (findrunnable) in this order, as Go does:
 *
 *   1. every 61st time slice, one G from the global queue (so it cannot starve);
 *   2. expired timers of any P (idle Ps keep theirs), then runnext and the local queue;
 *   3. the global queue;
 *   4. stealing: half of a random victim's local queue, visiting all Ps in random order,
 *      four rounds; the last round may take a victim's runnext once it has sat there for
 *      a few microseconds;
 *   5. nothing: release the P, and sleep the M on a futex (with the earliest timer of all
 *      Ps as its deadline when it is the one timer M).
 *
 * Spinning Ms.  An M looking for work with a P but without having found any is spinning
 * (gr_sched.xnmspinning).  New work wakes an idle P only if no M spins (wakep), at most
 * half of the busy Ps' count may spin, and a spinner that finds work wakes a replacement
 * (resetspinning).  A spinner that gives up decrements the count and then rechecks every
 * run queue: that ordering is what guarantees no wake-up is lost.  Unlike Go, a spinner
 * keeps looking for SPIN_NS before it gives up its P, the recheck leaves alone a runnext
 * that its owner is about to run (any_work), and a P whose Gs hand it to each other
 * through runnext defers the wake-up of a G readied there until sysmon sees it wait
 * (wakep_deferred): a ping-pong then runs on one M while the others sleep.
 *
 * A park whose successor is the P's runnext skips g0 altogether (park_direct, below).
 *
 * Rejected: switching directly from G to G for exits and yields as well (an exit is rare
 * next to parks, a yield must look at the whole queue); a lock around each P (Go moved to
 * lock-free local queues for good reasons).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "fd.h"
#include "glibc.h"
#include "netpoll.h"
#include "preempt.h"
#include "proc.h"
#include "real.h"
#include "runq.h"
#include "sig.h"
#include "stack.h"
#include "sysmon.h"
#include "timer.h"
#include "tls.h"

#ifndef SPIN_NS
#define SPIN_NS 50000
#endif
#ifndef SPIN_PAUSES
#define SPIN_PAUSES 64
#endif
#define RUNNEXT_GRACE_NS 3000	/* a victim's runnext is left alone this long (Go: 3us) */
#define HANDOFF_TICKS 10000	/* a G that parks this soon after it ran hands off (3-10 us) */
#define HANDOFF_CREDIT 4	/* longer runs in a row that end a P's hand-off mode */
#define M_STACK_SIZE (256 * 1024)
#define SYSCALL_TAKE_NS 20000	/* a P in a call this long may go to a G back from its own */

struct gr_sched gr_sched;

static uint32_t fastrand(struct gr_m *mp)
{
	uint64_t x = mp->fastrand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	mp->fastrand = x;
	return (uint32_t)(x >> 32);
}

/* The P of the calling context, or NULL (foreign thread, idle M). */
static struct gr_p *curp(void)
{
	struct gr_g *gp = gr_getg();

	if (!gp || gp->foreign || !gp->m)
		return NULL;
	return gp->m->p;
}

/* ---- Ps ---------------------------------------------------------------------------- */

static void pidleput_locked(struct gr_p *pp)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	atomic_store_explicit(&pp->xstatus, GR_P_IDLE, memory_order_relaxed);
	pp->m = NULL;
	pp->link = gr_sched.pidle;
	gr_sched.pidle = pp;
	atomic_fetch_add_explicit(&gr_sched.xnpidle, 1, memory_order_seq_cst);
}

static struct gr_p *pidleget_locked(void)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	struct gr_p *pp = gr_sched.pidle;

	if (pp) {
		gr_sched.pidle = pp->link;
		atomic_fetch_sub_explicit(&gr_sched.xnpidle, 1, memory_order_seq_cst);
	}
	return pp;
}

static struct gr_p *pidleget(void)
{
	gr_lock(&gr_sched.lock);
	struct gr_p *pp = pidleget_locked();
	gr_unlock(&gr_sched.lock);
	return pp;
}

static void acquirep(struct gr_m *mp, struct gr_p *pp)
{
	GR_ASSERT(!mp->p && atomic_load_explicit(&pp->xstatus, memory_order_relaxed) == GR_P_IDLE);
	mp->p = pp;
	pp->m = mp;
	atomic_store_explicit(&pp->xstatus, GR_P_RUNNING, memory_order_release);
}

static struct gr_p *releasep(struct gr_m *mp)
{
	struct gr_p *pp = mp->p;

	GR_ASSERT(pp && pp->m == mp);
	mp->p = NULL;
	pp->m = NULL;
	atomic_store_explicit(&pp->xstatus, GR_P_IDLE, memory_order_relaxed);
	return pp;
}

/* ---- Ms ---------------------------------------------------------------------------- */

static void schedule(struct gr_m *mp) __attribute__((noreturn));
static void m_idle(struct gr_m *mp);

static struct gr_m *m_alloc(void)
{
	struct gr_m *mp = calloc(1, sizeof(*mp));

	if (!mp)
		return NULL;
	mp->g0 = calloc(1, sizeof(*mp->g0));
	if (!mp->g0) {
		free(mp);
		return NULL;
	}
	mp->g0->is_g0 = true;
	mp->g0->m = mp;
	mp->g0->magic = GR_G_MAGIC;
	atomic_store_explicit(&mp->g0->xstatus, GR_G_RUNNING, memory_order_relaxed);
	mp->fastrand = (uint64_t)(uintptr_t)mp * 0x9e3779b97f4a7c15ull | 1;
	atomic_store_explicit(&mp->xpin, GR_PIN_PINNED, memory_order_relaxed); /* on g0 */
	mp->alllink = atomic_load_explicit(&gr_sched.xallm, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&gr_sched.xallm, &mp->alllink, mp,
						      memory_order_release, memory_order_relaxed))
		;
	return mp;
}

/* Entry of every M but M0, on its own glibc thread: its g0 is this stack and TCB. */
static void *m_start(void *arg)
{
	struct gr_m *mp = arg;
	void *tcb = gr_arch_tp();

	mp->g0->tcb = tcb;
	mp->g0->ctx.fs = tcb;
	mp->g0->tid = (pid_t)gr_syscall(SYS_gettid, 0, 0, 0);
	mp->kernel_tcb = tcb;
	mp->ktid = mp->g0->tid;
	gr_sig_m_init(mp);
	gr_altstack_m_init(mp, NULL);
	GR_PT(tcb, GR_TCB_G, struct gr_g *) = mp->g0;
	if (mp->nextp) {
		struct gr_p *pp = mp->nextp;
		mp->nextp = NULL;
		acquirep(mp, pp);
	} else {
		m_idle(mp);
	}
	schedule(mp);
}

struct newm_args {
	struct gr_m *mp;
	int rc;
};

static void newm_create(void *arg)
{
	struct newm_args *a = arg;
	pthread_attr_t attr;
	sigset_t all;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, M_STACK_SIZE);
	/* The thread starts with every signal blocked, as an M asleep in stopm; execute
	 * loads its first G's mask.  With the creator's mask (that of the G running there) it
	 * could take a signal that every G blocked after the clone: grow_blocked cannot reach
	 * a thread that has not started (no ktid yet), and glibc's start_thread opened the
	 * old mask before m_start ran.  proc_signal at MAXPROCS=2 died of a kill()ed SIGUSR2
	 * meant for its sigwait, in 1 run of 76 to 200 on a loaded machine
	 * (tests/progs/sig_m_start). */
	sigfillset(&all); /* glibc's leaves out SIGCANCEL and SIGSETXID */
	a->rc = pthread_attr_setsigmask_np(&attr, &all); /* 0 or ENOMEM */
	if (a->rc == 0)
		a->rc = gr_real.pthread_create(&t, &attr, m_start, a->mp);
	pthread_attr_destroy(&attr);
}

/* Starts a new M that will run pp (or go idle when pp is NULL).  Returns false when the
 * M cap is reached or the OS thread cannot be created. */
static bool newm(struct gr_p *pp, bool spinning)
{
	if (gr_sysmon_ensure() != 0)
		return false;
	gr_lock(&gr_sched.lock);
	if (gr_sched.mcount >= gr_sched.maxthreads) {
		gr_unlock(&gr_sched.lock);
		return false;
	}
	int id = gr_sched.mcount++;
	gr_unlock(&gr_sched.lock);

	struct newm_args a = {m_alloc(), 0};
	if (a.mp) {
		a.mp->id = id;
		a.mp->nextp = pp;
		a.mp->spinning = spinning;
		gr_tls_on_m(newm_create, &a);
		if (a.rc == 0)
			return true;
		free(a.mp->g0);
		free(a.mp);
	}
	gr_lock(&gr_sched.lock);
	gr_sched.mcount--;
	gr_unlock(&gr_sched.lock);
	return false;
}

static struct gr_m *timer_m(void)
{
	return atomic_load_explicit(&gr_sched.xtimer_m, memory_order_relaxed);
}

/* Requires gr_sched.lock. */
static void set_timer_m(struct gr_m *mp)
{
	atomic_store_explicit(&gr_sched.xtimer_m, mp, memory_order_relaxed);
}

/* Go: startm.  Runs pp (an idle P if NULL) on an idle or new M.  With spinning, the
 * caller has already counted the M in xnmspinning. */
static void startm(struct gr_p *pp, bool spinning)
{
	gr_lock(&gr_sched.lock);
	if (!pp) {
		pp = pidleget_locked();
		if (!pp) {
			gr_unlock(&gr_sched.lock);
			if (spinning)
				atomic_fetch_sub_explicit(&gr_sched.xnmspinning, 1,
							  memory_order_seq_cst);
			return;
		}
	}
	/* Any idle M but the timer M, which keeps sleeping until the next timer. */
	struct gr_m **l = &gr_sched.midle;
	if (*l && *l == timer_m() && (*l)->schedlink)
		l = &(*l)->schedlink;
	struct gr_m *mp = *l;
	if (mp) {
		*l = mp->schedlink;
		gr_sched.nmidle--;
		if (timer_m() == mp)
			set_timer_m(NULL);
		mp->nextp = pp;
		mp->spinning = spinning;
		mp->schedlink = (struct gr_m *)1; /* off the idle list; see stopm */
		gr_unlock(&gr_sched.lock);
		atomic_store_explicit(&mp->xwake, 1, memory_order_release);
		gr_futex_wake(&mp->xwake, 1);
		return;
	}
	gr_unlock(&gr_sched.lock);
	if (!newm(pp, spinning)) {
		gr_lock(&gr_sched.lock);
		pidleput_locked(pp);
		gr_unlock(&gr_sched.lock);
		if (spinning)
			atomic_fetch_sub_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
	}
}

void gr_wakep(void)
{
	int zero = 0;

	if (atomic_load_explicit(&gr_sched.xnpidle, memory_order_seq_cst) == 0 ||
	    atomic_load_explicit(&gr_sched.xnmspinning, memory_order_seq_cst) != 0)
		return;
	if (!atomic_compare_exchange_strong_explicit(&gr_sched.xnmspinning, &zero, 1,
						     memory_order_seq_cst, memory_order_relaxed))
		return;
	startm(NULL, true);
}

/* An M about to sleep blocks every signal: one that no running G takes is then sysmon's
 * to forward (signal.c), so sysmon must run. */
static void m_sleep(struct gr_m *mp)
{
	(void)gr_sysmon_ensure();
	gr_sig_m_sleep(mp);
}

/* Sleeps an M without a P until startm hands it one (returned), or until deadline
 * (monotonic ns, 0 = none) or gr_proc_timer_added wakes it (NULL returned). */
static struct gr_p *stopm(struct gr_m *mp, int64_t deadline)
{
	GR_ASSERT(!mp->p);
	m_sleep(mp);
	atomic_store_explicit(&mp->xwake, 0, memory_order_relaxed);
	gr_lock(&gr_sched.lock);
	mp->nextp = NULL;
	mp->schedlink = gr_sched.midle;
	gr_sched.midle = mp;
	gr_sched.nmidle++;
	if (deadline) {
		set_timer_m(mp);
		gr_sched.timer_m_until = deadline;
	}
	gr_unlock(&gr_sched.lock);

	while (atomic_load_explicit(&mp->xwake, memory_order_acquire) == 0) {
		if (gr_futex_wait(&mp->xwake, 0, deadline) != -ETIMEDOUT)
			continue;
		gr_lock(&gr_sched.lock);
		bool listed = false;
		for (struct gr_m **l = &gr_sched.midle; *l; l = &(*l)->schedlink) {
			if (*l == mp) {
				*l = mp->schedlink;
				gr_sched.nmidle--;
				listed = true;
				break;
			}
		}
		if (timer_m() == mp)
			set_timer_m(NULL);
		gr_unlock(&gr_sched.lock);
		if (listed)
			return NULL;
		deadline = 0; /* claimed by startm: its wake is on the way */
	}
	struct gr_p *pp = mp->nextp;
	mp->nextp = NULL;
	return pp;
}

void gr_proc_timer_added(int64_t when)
{
	gr_netpoll_timer_added(when); /* the M blocked in epoll may sleep past it */
	if (!timer_m()) /* a hint: the timer M re-reads timers when it wakes */
		return;
	gr_lock(&gr_sched.lock);
	struct gr_m *mp = timer_m();
	if (!mp || gr_sched.timer_m_until <= when) {
		gr_unlock(&gr_sched.lock);
		return;
	}
	for (struct gr_m **l = &gr_sched.midle; *l; l = &(*l)->schedlink) {
		if (*l == mp) {
			*l = mp->schedlink;
			gr_sched.nmidle--;
			break;
		}
	}
	set_timer_m(NULL);
	mp->nextp = NULL;
	gr_unlock(&gr_sched.lock);
	atomic_store_explicit(&mp->xwake, 1, memory_order_release);
	gr_futex_wake(&mp->xwake, 1);
}

static int64_t earliest_timer(void)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < gr_sched.nprocs; i++) {
		int64_t w = atomic_load_explicit(&gr_sched.allp[i].xtimer0, memory_order_acquire);
		if (w < next)
			next = w;
	}
	return next;
}

static bool runnext_stale(struct gr_p *victim);
static void owe_wakeup(struct gr_p *pp);

/* True when some G waits that no running M is about to take: queued globally, back from
 * a call, in a local queue, or in the runnext of a P that has started no G for
 * RUNNEXT_GRACE_NS.  A fresh runnext is its owner's next G, mostly a hand-off: taking
 * a P for it kept an M spinning beside every ping-pong.  That P is marked as owing a
 * wake-up instead, so sysmon pays one if the G then waits (wakep_deferred). */
static bool any_work(void)
{
	if (atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) ||
	    atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed))
		return true;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		/* Length first: runqput fills runnext before it moves the old one to the tail. */
		if (gr_runq_len(pp) != 0)
			return true;
		if (atomic_load_explicit(&pp->xrunnext, memory_order_acquire)) {
			if (runnext_stale(pp))
				return true;
			owe_wakeup(pp);
		}
	}
	return false;
}

/* Readies the Gs of b (or of a non-blocking poll when b is NULL) into mp's P.  As in Go,
 * where findrunnable runs the first G netpoll returns itself and injects the rest: the
 * first wakes no other M (the caller counts as spinning meanwhile, so gr_wakep stays
 * quiet); more than one wakes one.  Returns how many were readied. */
static int netpoll_deliver(struct gr_m *mp, struct gr_np_batch *b)
{
	bool quiet = !mp->spinning && mp->p;

	if (quiet)
		atomic_fetch_add_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
	int n = b ? gr_netpoll_deliver(b) : gr_netpoll_poll();
	if (quiet) {
		atomic_fetch_sub_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
		if (n > 1)
			gr_wakep();
	}
	return n;
}

/* The one M blocked in the netpoller (Go: findrunnable's blocking netpoll), until an
 * event, a break, or the earliest timer.  Events found: takes an idle P first, so the
 * readied Gs go to its run queue (else to the global one).  Returns true holding a P. */
static bool netpoll_idle(struct gr_m *mp)
{
	struct gr_np_batch b;

	/* Timers read after the claim: see gr_netpoll_block_claim.  Every signal blocked
	 * while blocked: one that no running G takes is sysmon's (signal.c). */
	m_sleep(mp);
	gr_netpoll_block(&b, earliest_timer());
	gr_netpoll_block_release();
	if (b.n == 0)
		return false;
	struct gr_p *pp = pidleget();
	if (pp)
		acquirep(mp, pp);
	netpoll_deliver(mp, &b);
	return pp != NULL;
}

/* An M without a P waits for one: returns holding a P. */
static void m_idle(struct gr_m *mp)
{
	for (;;) {
		int64_t next = earliest_timer();
		if (any_work() || next <= gr_nanotime()) {
			struct gr_p *pp = pidleget();
			if (pp) {
				acquirep(mp, pp);
				return;
			}
		}
		if (gr_netpoll_block_claim()) {
			if (netpoll_idle(mp))
				return;
			continue;
		}
		struct gr_p *pp = stopm(mp, next == INT64_MAX ? 0 : next);
		if (pp) {
			acquirep(mp, pp);
			return;
		}
	}
}

/* ---- Gs back from system calls ---------------------------------------------------- */

/* Queues gp, back from a blocking call without a P, for the next P that schedules. */
static void sysret_put(struct gr_g *gp)
{
	gp->schedlink = NULL;
	gr_lock(&gr_sched.lock);
	if (!gr_sched.sysret_head)
		gr_sched.sysret_tailp = &gr_sched.sysret_head;
	*gr_sched.sysret_tailp = gp;
	gr_sched.sysret_tailp = &gp->schedlink;
	atomic_store_explicit(&gr_sched.xnsysret,
			      atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	gr_unlock(&gr_sched.lock);
}

static struct gr_g *sysret_get_locked(void)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	struct gr_g *gp = gr_sched.sysret_head;

	if (gp) {
		gr_sched.sysret_head = gp->schedlink;
		atomic_store_explicit(&gr_sched.xnsysret,
				      atomic_load_explicit(&gr_sched.xnsysret,
							   memory_order_relaxed) - 1,
				      memory_order_relaxed);
	}
	return gp;
}

static struct gr_g *sysret_get(void)
{
	if (!atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed))
		return NULL;
	gr_lock(&gr_sched.lock);
	struct gr_g *gp = sysret_get_locked();
	gr_unlock(&gr_sched.lock);
	return gp;
}

/* ---- finding work ------------------------------------------------------------------ */

/* Runs the expired timers of every P (an idle P keeps its timers; whoever looks for
 * work runs them).  Readied Gs go to the caller's P. */
static void run_due_timers(void)
{
	int64_t next = earliest_timer();

	if (next == INT64_MAX)
		return;
	int64_t now = gr_nanotime();
	if (next > now)
		return;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *p2 = &gr_sched.allp[i];
		if (atomic_load_explicit(&p2->xtimer0, memory_order_acquire) <= now)
			gr_timer_run(p2, now);
	}
}

/* True when victim's runnext has waited long enough that its owner is not about to run it
 * (Go sleeps 3us before stealing a running P's runnext).  The owner started no G in the
 * meantime: counting time slices instead would call a ping-pong through runnext (which
 * inherits the slice) stuck, and steal its Gs back and forth between Ms. */
static bool runnext_stale(struct gr_p *victim)
{
	uint32_t n = __atomic_load_n(&victim->nexec, __ATOMIC_RELAXED);
	int64_t until = gr_nanotime() + RUNNEXT_GRACE_NS;

	while (gr_nanotime() < until)
		gr_arch_pause();
	return __atomic_load_n(&victim->nexec, __ATOMIC_RELAXED) == n;
}

static struct gr_g *steal_work(struct gr_m *mp, bool *inherit)
{
	struct gr_p *pp = mp->p;
	int n = gr_sched.nprocs;

	for (int round = 0; round < 4; round++) {
		bool last = round == 3;
		uint32_t start = fastrand(mp) % n;
		for (int i = 0; i < n; i++) {
			struct gr_p *p2 = &gr_sched.allp[(start + i) % n];
			if (p2 == pp)
				continue;
			if (gr_runq_len(p2) == 0 &&
			    !(last && atomic_load_explicit(&p2->xrunnext, memory_order_relaxed)))
				continue;
			struct gr_g *gp = gr_runq_steal(pp, p2, last && runnext_stale(p2));
			if (gp) {
				*inherit = false;
				return gp;
			}
		}
	}
	return NULL;
}

static struct gr_g *findrunnable(struct gr_m *mp, bool *inherit)
{
	int64_t spin_until = 0;
	struct gr_g *gp;

top:
	if (!mp->p)
		m_idle(mp);
	struct gr_p *pp = mp->p;
	*inherit = false;
	if (pp->schedtick % 61 == 0 &&
	    atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed)) {
		gr_lock(&gr_sched.lock);
		gp = gr_globrunq_get_locked(pp, 1);
		gr_unlock(&gr_sched.lock);
		if (gp)
			return gp;
	}
	run_due_timers();
	if ((gp = sysret_get()))
		return gp;
	if ((gp = gr_runq_get(pp, inherit)))
		return gp;
	if (atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed)) {
		gr_lock(&gr_sched.lock);
		gp = gr_globrunq_get_locked(pp, 0);
		gr_unlock(&gr_sched.lock);
		if (gp)
			return gp;
	}
	/* Go: netpoll(0) before stealing, when some G waits on a descriptor (a spinner only
	 * while no M is blocked in the poller: see gr_netpoll_worth_polling). */
	if (gr_netpoll_worth_polling(mp->spinning) && netpoll_deliver(mp, NULL) > 0 &&
	    (gp = gr_runq_get(pp, inherit)))
		return gp;
	int busy = gr_sched.nprocs - atomic_load_explicit(&gr_sched.xnpidle, memory_order_relaxed);
	if (gr_sched.nprocs > 1 &&
	    (mp->spinning ||
	     2 * atomic_load_explicit(&gr_sched.xnmspinning, memory_order_relaxed) < busy)) {
		if (!mp->spinning) {
			mp->spinning = true;
			atomic_fetch_add_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
		}
		if ((gp = steal_work(mp, inherit)))
			return gp;
		if (!spin_until)
			spin_until = gr_nanotime() + SPIN_NS;
		if (gr_nanotime() < spin_until) {
			for (int i = 0; i < SPIN_PAUSES; i++)
				gr_arch_pause();
			goto top;
		}
	}

	/* Nothing to do: give up the P. */
	gr_lock(&gr_sched.lock);
	if ((gp = sysret_get_locked()) ||
	    (atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) &&
	     (gp = gr_globrunq_get_locked(pp, 0)))) {
		gr_unlock(&gr_sched.lock);
		return gp;
	}
	releasep(mp);
	pidleput_locked(pp);
	gr_unlock(&gr_sched.lock);
	if (mp->spinning) {
		/* Decrement first, then recheck: a G readied after our last look either saw
		 * a spinner (us, and we now look again) or woke a P itself. */
		mp->spinning = false;
		atomic_fetch_sub_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
		if (any_work() && (pp = pidleget())) {
			acquirep(mp, pp);
			mp->spinning = true;
			atomic_fetch_add_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst);
			spin_until = 0;
			goto top;
		}
	}
	m_idle(mp);
	spin_until = 0;
	goto top;
}

/* Go: resetspinning. */
static void resetspinning(struct gr_m *mp)
{
	mp->spinning = false;
	if (atomic_fetch_sub_explicit(&gr_sched.xnmspinning, 1, memory_order_seq_cst) == 1)
		gr_wakep();
}

/* Puts the chain first..last (n Gs, linked by schedlink) at the head of the global queue. */
static void globrunq_push_head_locked(struct gr_g *first, struct gr_g *last, int n)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	last->schedlink = gr_sched.runq_head;
	gr_sched.runq_head = first;
	if (!gr_sched.runq_tail)
		gr_sched.runq_tail = last;
	atomic_store_explicit(&gr_sched.xrunqsize,
			      atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/*
 * A preempted G goes to the tail of the global queue (Go: gopreempt_m).  Unlike Go, the
 * Gs of its P's local queue go back to the head of the global queue first, in order: they
 * came from there (a P takes a batch of size/nprocs + 1 Gs at a time) and are older than
 * anything behind them.  Otherwise a batch sits on one P while the other Ps cycle the rest
 * of the global queue, and the Gs they cycle get several times the CPU of the batch
 * (fairness 64 2 saw a G that never started in 2 s).  Only a G that used a whole slice
 * while others waited gets here, so the lost locality costs little.
 */
static void preempt_requeue(struct gr_p *pp, struct gr_g *gp)
{
	struct gr_g *first = NULL, *last = NULL, *g1;
	bool inherit;
	int n = 0;

	while ((g1 = gr_runq_get(pp, &inherit))) {
		g1->schedlink = NULL;
		if (last)
			last->schedlink = g1;
		else
			first = g1;
		last = g1;
		n++;
	}
	gr_lock(&gr_sched.lock);
	if (n)
		globrunq_push_head_locked(first, last, n);
	gr_globrunq_put_locked(gp);
	gr_unlock(&gr_sched.lock);
}

static void stop_clock(struct gr_g *gp)
{
	if (gp->run_since)
		gp->cputicks += gr_arch_cputicks() - gp->run_since;
	gp->run_since = 0;
}

/* finish_op for every operation but a park. */
static void finish_other_op(struct gr_m *mp, struct gr_g *gp)
{
	stop_clock(gp);
	switch (mp->op) {
	case GR_OP_YIELD:
		atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_relaxed);
		gr_runq_put(mp->p, gp, false);
		break;
	case GR_OP_YIELD_NEXT:
		/* runnext is empty: the G now running took it.  Nobody is woken for gp (a
		 * yield wakes nobody); sysmon watches it as a deferred wake-up. */
		atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_relaxed);
		gr_runq_put(mp->p, gp, true);
		owe_wakeup(mp->p);
		break;
	case GR_OP_EXIT:
		atomic_store_explicit(&gp->xstatus, GR_G_DEAD, memory_order_relaxed);
		gr_thread_exited(gp);
		break;
	case GR_OP_SYSCALL_QUEUE:
		/* Back from a call without a P.  Go queues it globally; green puts it ahead of
		 * every queued G and has sysmon end a running slice early for it (the top of
		 * sysmon.c), so that a G doing short calls between long waits (fsync) runs
		 * within tens of microseconds instead of after every queued compute slice. */
		atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_release);
		sysret_put(gp);
		gr_wakep();
		gr_sysmon_sysret();
		break;
	case GR_OP_PREEMPT:
		atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_release);
		preempt_requeue(mp->p, gp);
		gr_wakep();
		break;
	case GR_OP_PARK:
	case GR_OP_NONE:
		gr_throw("G switched to g0 without an operation");
	}
	mp->op = GR_OP_NONE;
}

/* Completes the operation of the G that just switched away, on g0 or on the next G
 * (park_direct).  A park, by far the most frequent, is done inline. */
static inline __attribute__((always_inline)) void finish_op(struct gr_m *mp, struct gr_g *gp)
{
	if (mp->op != GR_OP_PARK) {
		finish_other_op(mp, gp);
		return;
	}
	stop_clock(gp);
	atomic_store_explicit(&gp->xstatus, GR_G_WAITING, memory_order_release);
	mp->unlockf(mp->unlockarg);
	mp->op = GR_OP_NONE;
}

static void execute(struct gr_m *mp, struct gr_g *gp, bool inherit)
{
	struct gr_p *pp = mp->p;

	if (!inherit)
		__atomic_store_n(&pp->schedtick, pp->schedtick + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&pp->nexec, pp->nexec + 1, __ATOMIC_RELAXED);
	GR_DASSERT(atomic_load_explicit(&gp->xstatus, memory_order_relaxed) == GR_G_RUNNABLE);
	atomic_store_explicit(&gp->xstatus, GR_G_RUNNING, memory_order_relaxed);
	gp->m = mp;
	gr_sig_resumed(mp, gp);
	mp->curg = gp;
	gp->run_since = gr_arch_cputicks();
	/* From here until the G pins again the M does not touch pp: sysmon may revoke it.
	 * Release: pairs with sysmon's CAS, which then reads mp->p. */
	atomic_store_explicit(&mp->xpin, GR_PIN_USER, memory_order_release);
	if (__builtin_expect(gp->lockedm == mp, 0)) {
		/* Our lockedg, back: it loads its mask itself, off g0 (lock_to_m). */
		gp->lockedm = NULL;
		mp->lockedg = NULL;
	} else {
		gr_sig_switch(mp, gp);
	}
	gr_ctx_prefetch(&gp->ctx, gp);
	gr_runq_prefetch_head(pp);
	gr_ctx_switch(&mp->g0->ctx, &gp->ctx);
	/* Back on g0 from mp->curg: gp, or a G that gp (or a successor) parked into. */
	gp = mp->curg;
	/* Seq_cst, then the load of the blocked set in gr_sig_m_idle: pairs with
	 * signal.c's grow_blocked (store the set, then load curg). */
	__atomic_store_n(&mp->curg, NULL, __ATOMIC_SEQ_CST);
	gr_sig_m_idle(mp);
	finish_op(mp, gp);
}

/*
 * Signal handlers that leave their M.  Every M runs SA_ONSTACK handlers on an alternate
 * stack of green's own (altstack.c), one per M, as Go does.  A handler can park its G:
 * green's preemption handler when libunwind's mutex (its memory pool's) is contended, a
 * program's handler on any lock or wait.  If the G then resumed on another M, two
 * threads would run on one stack: the first M reuses it for the next handler of another
 * G (over the parked frames), and the second runs the parked frames there, and its
 * sigreturn even installs the first M's stack as its own (the kernel restores the
 * uc_stack of the frame).  syscall_fsync_mix crashed that way in 10 runs of 55 at
 * GREEN_MAXPROCS=2 (rip 0xffffffff, SIGBUS in libunwind, two Ms' frames interleaved).
 *
 * So a G that leaves its M (park, yield, a call back without its P) while running on the
 * M's alternate stack is locked to the M until it runs again, as Go's LockOSThread locks
 * a G to its M: the M blocks every signal before the switch (one arriving on g0 would be
 * pushed at the top of the stack, over the handler's frames), gives its P away and waits
 * (wait_locked_g); whichever M takes the G from a run queue hands its own P to the locked
 * M and wakes it (startlockedm, Go's name); the locked M resumes the G, which loads its
 * signal mask itself once it is back on its stack.  Natively a handler that blocks blocks
 * its thread; here it blocks its M, and the P goes on with other Gs.
 *
 * Rejected: giving the M a new alternate stack and the old one to the G (the kernel
 * installs the old one on whichever M the handler returns from: two Ms would share it,
 * and the new one would leak); blocking the M with its P kept (a handler waiting for a G
 * queued behind it on the same P would wait for ever at GREEN_MAXPROCS=1).
 */
static void lock_to_m(struct gr_m *mp, struct gr_g *gp)
{
	gr_stat_inc(&gr_sysmon_stats.xlocked_waits);
	m_sleep(mp);
	atomic_store_explicit(&mp->xwake, 0, memory_order_relaxed);
	mp->lockedg = gp;
	gp->lockedm = mp;
}

/* On g0, once the op of mp's lockedg is done: hand the P on, and sleep until the M that
 * takes the G hands one back (startlockedm).  Returns the G to execute. */
static struct gr_g *wait_locked_g(struct gr_m *mp)
{
	if (mp->p)
		gr_handoffp(releasep(mp));
	while (atomic_load_explicit(&mp->xwake, memory_order_acquire) == 0)
		gr_futex_wait(&mp->xwake, 0, 0);
	struct gr_p *pp = mp->nextp;
	mp->nextp = NULL;
	acquirep(mp, pp);
	return mp->lockedg;
}

/* gp, taken from a run queue by mp, is locked to another M: give that M our P and wake
 * it; mp goes on looking for work without a P (Go: startlockedm). */
static void startlockedm(struct gr_m *mp, struct gr_g *gp)
{
	struct gr_m *lm = gp->lockedm;

	lm->nextp = releasep(mp);
	/* Release: pairs with the acquire in wait_locked_g, which then reads nextp. */
	atomic_store_explicit(&lm->xwake, 1, memory_order_release);
	gr_futex_wake(&lm->xwake, 1);
}

static void schedule(struct gr_m *mp)
{
	for (;;) {
		if (mp->lockedg) {
			execute(mp, wait_locked_g(mp), false);
			continue;
		}
		bool inherit;
		struct gr_g *gp = findrunnable(mp, &inherit);
		if (mp->spinning)
			resetspinning(mp);
		if (gp->lockedm) {
			startlockedm(mp, gp);
			continue;
		}
		execute(mp, gp, inherit);
	}
}

/* ---- the G side -------------------------------------------------------------------- */

/*
 * Revocation (sysmon.c: an M asleep in the kernel where no hook saw it loses its P).
 * A G pins its M's P (mp->xpin USER -> PINNED) before any use of mp->p and unpins it
 * before it goes back to the program; execute unpins for the G it starts.  A pin that
 * finds REVOKED means sysmon gave the P to another M: the G then takes an idle P or
 * queues itself and idles the M, exactly as gr_exitsyscall does when its P was retaken.
 * g0 always runs pinned, as does an M in a wrapped system call (retake's business).
 */
/*
 * Parking straight into the next G.  When the G that the scheduler would pick next is
 * the P's runnext (no global-queue turn due, no expired timer) and it runs with the same
 * signal mask, the parking G switches to it directly instead of through g0: one context
 * switch instead of two, and no trip through findrunnable.  What g0 would have done
 * first (finish_op: mark the G waiting, run its unlockf) the next G does as soon as it
 * runs (complete_prev), still pinned, before returning to its own code.  Every place a
 * G resumes calls complete_prev: the return from switch_to_g0_pinned, and g_main for a
 * G that runs for the first time.  The parked G is off its stack by then, which is all
 * that finish_op needs; its unlockf just runs on another G's stack instead of g0's.
 */
static inline __attribute__((always_inline)) struct gr_g *direct_next(struct gr_m *mp)
{
	struct gr_p *pp = mp->p;

	if (pp->schedtick % 61 == 0 &&
	    atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed))
		return NULL;
	int64_t t = earliest_timer();
	if (t != INT64_MAX && t <= gr_nanotime())
		return NULL;
	struct gr_g *next = atomic_load_explicit(&pp->xrunnext, memory_order_relaxed);
	if (!next || next->lockedm || gr_sig_want(next) != mp->sigmask)
		return NULL;
	return gr_runq_take_runnext(pp);
}

static inline __attribute__((always_inline)) void park_direct(struct gr_m *mp, struct gr_g *gp,
								struct gr_g *next)
{
	struct gr_p *pp = mp->p;
	uint64_t now = gr_arch_cputicks();

	GR_DASSERT(atomic_load_explicit(&next->xstatus, memory_order_relaxed) == GR_G_RUNNABLE);
	/* A hand-off: the G readied its successor and parked soon after it began to run. */
	bool handoff = gp->run_since && now - gp->run_since < HANDOFF_TICKS;
	if (gp->run_since)
		gp->cputicks += now - gp->run_since;
	gp->run_since = 0;
	__atomic_store_n(&pp->nexec, pp->nexec + 1, __ATOMIC_RELAXED);
	uint8_t credit = atomic_load_explicit(&pp->xhandoffs, memory_order_relaxed);
	uint8_t left = handoff ? HANDOFF_CREDIT : credit ? credit - 1 : 0;
	if (left != credit)
		atomic_store_explicit(&pp->xhandoffs, left, memory_order_relaxed);
	atomic_store_explicit(&next->xstatus, GR_G_RUNNING, memory_order_relaxed);
	next->m = mp;
	gr_sig_resumed(mp, next);
	next->run_since = now;
	mp->curg = next;
	mp->prevg = gp;
	gr_ctx_switch(&gp->ctx, &next->ctx);
}

void gr_proc_complete_prev(void)
{
	struct gr_g *gp = gr_getg();
	struct gr_m *mp = gp->m;
	struct gr_g *prev = mp->prevg;

	if (!prev)
		return;
	mp->prevg = NULL;
	finish_op(mp, prev);
	/* Unpinned, as execute leaves the G it starts. */
	atomic_store_explicit(&mp->xpin, GR_PIN_USER, memory_order_release);
}

static void switch_to_g0_pinned(struct gr_g *gp, enum gr_switch_op op)
{
	struct gr_m *mp = gp->m;
	struct gr_g *next;

	mp->op = op;
	if (op != GR_OP_EXIT && gr_altstack_running(mp)) {
		lock_to_m(mp, gp);
		gr_ctx_switch(&gp->ctx, &mp->g0->ctx);
		gr_sig_switch(gp->m, gp); /* back on the same M, every signal blocked */
	} else if (op == GR_OP_PARK && (next = direct_next(mp))) {
		park_direct(mp, gp, next);
	} else {
		gr_ctx_switch(&gp->ctx, &mp->g0->ctx);
	}
	gr_proc_complete_prev();
}

static void pless_end(struct gr_m *mp);
static void pless_call_close(struct gr_g *gp);

/* The running M lost its P to sysmon, or runs its G without one (a P-less run).  Returns
 * holding a P, pinned, maybe on another M. */
static void revoked_return(struct gr_g *gp)
{
	struct gr_m *mp = gp->m;
	struct gr_p *pp;

	if (mp->pless) {
		if (mp->pless_call) /* a cancellation unwound out of the call */
			pless_call_close(gp);
		pless_end(mp);
	} else {
		gr_stat_inc(&gr_sysmon_stats.xrevoked_returns);
	}
	mp->p = NULL; /* sysmon handed it over; pp->m is no longer us */
	atomic_store_explicit(&mp->xpin, GR_PIN_PINNED, memory_order_relaxed);
	if ((pp = pidleget())) {
		acquirep(mp, pp);
		return;
	}
	switch_to_g0_pinned(gp, GR_OP_SYSCALL_QUEUE);
	/* Resumed by execute (unpinned): pin again. */
	uint32_t st = GR_PIN_USER;
	if (!atomic_compare_exchange_strong_explicit(&gp->m->xpin, &st, GR_PIN_PINNED,
						     memory_order_acquire, memory_order_relaxed))
		revoked_return(gp);
}

/* Pins the running G's P.  Returns true when this call pinned it (then unpin), false when
 * the G is not schedulable or an outer entry holds the pin.  Inlined: every park, wake-up
 * and wrapped call pins, and the common case is one compare-and-swap. */
static inline __attribute__((always_inline)) bool pin(struct gr_g *gp)
{
	if (!gr_g_schedulable(gp))
		return false;
	/* Only this M's Gs move xpin away from PINNED: no locked instruction to learn it. */
	if (atomic_load_explicit(&gp->m->xpin, memory_order_relaxed) == GR_PIN_PINNED)
		return false;
	uint32_t st = GR_PIN_USER;
	/* Acquire: pairs with nothing of sysmon's but orders our later reads of mp->p. */
	if (atomic_compare_exchange_strong_explicit(&gp->m->xpin, &st, GR_PIN_PINNED,
						    memory_order_acquire, memory_order_relaxed))
		return true;
	if (st == GR_PIN_PINNED)
		return false;
	revoked_return(gp);
	return true;
}

static void unpin(struct gr_g *gp, bool pinned)
{
	if (pinned)
		atomic_store_explicit(&gp->m->xpin, GR_PIN_USER, memory_order_release);
}

struct gr_p *gr_proc_pin_slow(bool *pinned)
{
	struct gr_g *gp = gr_getg();

	*pinned = pin(gp);
	if (gp && gp->is_g0)
		return gp->m->p;
	return gr_g_schedulable(gp) ? gp->m->p : NULL;
}

void gr_proc_unpin(bool pinned)
{
	unpin(gr_getg(), pinned);
}

/* Every G-to-g0 switch: pin first (the g0 side uses the P), then switch.  The G resumes
 * unpinned (execute). */
static void switch_to_g0(struct gr_g *gp, enum gr_switch_op op)
{
	pin(gp);
	switch_to_g0_pinned(gp, op);
}

void gr_park(void (*unlockf)(void *), void *arg)
{
	struct gr_g *gp = gr_getg();

	gr_proc_fix_syscall(gp);
	GR_DASSERT(gr_g_schedulable(gp));
	pin(gp); /* may move the G to another M: set unlockf on the final one */
	gp->m->unlockf = unlockf;
	gp->m->unlockarg = arg;
	switch_to_g0_pinned(gp, GR_OP_PARK);
}

/* Pins the running G's P like pin(), but never moves the G: callers hold runtime locks
 * (a signal sender readies the G it interrupts under that G's siglock), and a G queued
 * with one held would stop every M that waits for it.  Returns the P the caller may use
 * (NULL: none, or revoked, which the G's next pin() deals with); *pinned as pin(). */
static struct gr_p *pin_in_place(struct gr_g *gp, bool *pinned)
{
	*pinned = false;
	if (!gr_g_schedulable(gp))
		return curp();
	uint32_t st = GR_PIN_USER;
	if (atomic_compare_exchange_strong_explicit(&gp->m->xpin, &st, GR_PIN_PINNED,
						    memory_order_acquire, memory_order_relaxed))
		*pinned = true;
	else if (st == GR_PIN_REVOKED)
		return NULL;
	return gp->m->p;
}

/*
 * Deferred wake-ups.  Go wakes an M (wakep) for every G readied while a P is idle and no
 * M spins.  When the G goes to runnext its readier often parks right after (a cond
 * signal and wait, an unlock and lock, a create and join), and the G runs next on this P
 * through park_direct: the woken M finds nothing, and with two Ps a ping-pong kept one
 * spinning and stealing its Gs back and forth.  So while the latest G that parked into
 * runnext did so within HANDOFF_TICKS of starting to run (xhandoffs), the wake-up of a G
 * readied into an otherwise empty queue is deferred and marked owed (xwakeowed).  Gs
 * that ran longer first (a create, some work, a join) clear xhandoffs, HANDOFF_CREDIT
 * of them in a row: on a loaded machine the kernel deschedules an M now and then, and
 * the G it ran then looks like a long run; when one such G ended the mode, each of the
 * next readies woke the other M, whose spinning stole the pair apart (mutex_pingpong
 * at GREEN_MAXPROCS=2 ran 1.3 to 2 times slower than at 1, with ~3,000 M wake-ups a
 * second).  sysmon, which
 * looks every OWED_TICK_NS while a wake-up is owed, pays it (wakep) when the G has
 * waited a whole tick while the P started no G, and clears xhandoffs too.
 *
 * No owed wake-up goes unseen: the owner exchanges runnext (a locked instruction, a full
 * barrier) before it loads xwakeowed, and sysmon clears xwakeowed (seq_cst) before it
 * loads the queue; one of the two sees the other's store.  The same pairing with
 * sysmon's xsleep_until keeps sysmon from sleeping long past an owed wake-up
 * (gr_sysmon_owed).
 */
static void owe_wakeup(struct gr_p *pp)
{
	if (!atomic_load_explicit(&pp->xwakeowed, memory_order_relaxed)) {
		atomic_store_explicit(&pp->xwakeowed, true, memory_order_seq_cst);
		gr_sysmon_owed();
	}
}

static bool wakep_deferred(struct gr_p *pp, bool next)
{
	if (!next || !atomic_load_explicit(&pp->xhandoffs, memory_order_relaxed) ||
	    gr_runq_len(pp) != 0)
		return false;
	owe_wakeup(pp);
	return true;
}

/* Queues gp (RUNNABLE) on the caller's P, runnext when next, and wakes an M for it. */
static void runq_put_wake(struct gr_g *gp, bool next)
{
	struct gr_g *self = gr_getg();
	bool pinned;
	struct gr_p *pp = pin_in_place(self, &pinned);
	bool deferred = false;

	if (pp) {
		gr_runq_put(pp, gp, next);
		deferred = wakep_deferred(pp, next);
	} else {
		gr_globrunq_put(gp);
	}
	unpin(self, pinned);
	if (!deferred)
		gr_wakep();
}

static void ready(struct gr_g *gp, bool next)
{
	/* The caller claimed the G's wake-up exclusively (a waiter's xstate, a netpoll
	 * slot), so a plain store suffices; the check catches a wake-up readied twice. */
	if (atomic_load_explicit(&gp->xstatus, memory_order_acquire) != GR_G_WAITING)
		gr_throw("gr_ready of a G that is not waiting");
	atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_relaxed);
	runq_put_wake(gp, next);
}

void gr_ready(struct gr_g *gp)
{
	ready(gp, true);
}

void gr_ready_tail(struct gr_g *gp)
{
	ready(gp, false);
}

void gr_proc_start_g(struct gr_g *gp)
{
	atomic_store_explicit(&gp->xstatus, GR_G_RUNNABLE, memory_order_release);
	runq_put_wake(gp, true);
}

int64_t gr_g_cputime_ns(struct gr_g *gp)
{
	uint64_t ticks = __atomic_load_n(&gp->cputicks, __ATOMIC_RELAXED);
	uint64_t since = __atomic_load_n(&gp->run_since, __ATOMIC_RELAXED);

	if (since) {
		uint64_t now = gr_arch_cputicks();
		if (now > since)
			ticks += now - since;
	}
	return gr_cputicks_to_ns(ticks);
}

void gr_yield(void)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp)) {
		gr_real.sched_yield();
		return;
	}
	gr_proc_fix_syscall(gp);
	switch_to_g0(gp, GR_OP_YIELD);
	gr_sig_resume(gp);
}

bool gr_yield_to_runnext(void)
{
	struct gr_g *gp = gr_getg();
	struct gr_g *next;

	if (!gr_g_schedulable(gp))
		return false;
	gr_proc_fix_syscall(gp);
	if (!pin(gp))
		return false; /* an outer entry holds the pin: not a place to switch */
	struct gr_m *mp = gp->m; /* after pin, which may have moved the G */
	if (gr_altstack_running(mp) || !(next = direct_next(mp))) {
		unpin(gp, true);
		return false;
	}
	mp->op = GR_OP_YIELD_NEXT;
	park_direct(mp, gp, next);
	gr_proc_complete_prev();
	gr_sig_resume(gp);
	return true;
}

void gr_proc_preempt(void)
{
	struct gr_g *gp = gr_getg();

	GR_DASSERT(gr_g_schedulable(gp));
	switch_to_g0(gp, GR_OP_PREEMPT); /* pins: a revoked M queues the G instead */
}

void gr_proc_exit_g(void)
{
	switch_to_g0(gr_getg(), GR_OP_EXIT);
	gr_throw("an exited G was resumed");
}

void gr_proc_abandon_m(void)
{
	struct gr_g *gp = gr_getg();
	pin(gp);
	struct gr_m *mp = gp->m;
	struct gr_p *pp = releasep(mp);

	/* startm and pidleput take an idle P (issue 6: main's pthread_exit tripped the
	 * assertion in acquirep). */
	atomic_store_explicit(&pp->xstatus, GR_P_IDLE, memory_order_relaxed);
	gp->foreign = true; /* from here on it blocks its OS thread, like a foreign thread */
	mp->curg = NULL;
	mp->dead = true;
	gr_lock(&gr_sched.lock);
	gr_sched.mcount--;
	gr_unlock(&gr_sched.lock);
	if (!gr_runq_empty(pp) || atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) ||
	    atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed) ||
	    atomic_load_explicit(&pp->xtimer0, memory_order_relaxed) != INT64_MAX) {
		startm(pp, false);
	} else {
		gr_lock(&gr_sched.lock);
		pidleput_locked(pp);
		gr_unlock(&gr_sched.lock);
	}
}

/* ---- system calls ------------------------------------------------------------------- */

void gr_handoffp(struct gr_p *pp)
{
	/* Go: handoffp.  Work waiting: an M runs it.  No M looking for work anywhere: start
	 * a spinning one, so the P's timers and newly readied Gs have an owner. */
	if (!gr_runq_empty(pp) || atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) ||
	    atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed)) {
		startm(pp, false);
		return;
	}
	int zero = 0;
	if (atomic_load_explicit(&gr_sched.xnmspinning, memory_order_seq_cst) +
			    atomic_load_explicit(&gr_sched.xnpidle, memory_order_seq_cst) ==
		    0 &&
	    atomic_compare_exchange_strong_explicit(&gr_sched.xnmspinning, &zero, 1,
						    memory_order_seq_cst, memory_order_relaxed)) {
		startm(pp, true);
		return;
	}
	/* Timers and no M waiting for any: an M runs the P, takes its due timers and then
	 * sleeps as the timer M.  Idle, the P's timers had no owner: an M already asleep
	 * without a deadline never looked at them (a nanosleep next to a G in a long system
	 * call never ended). */
	int64_t when = atomic_load_explicit(&pp->xtimer0, memory_order_acquire);
	if (when != INT64_MAX && !timer_m()) {
		startm(pp, false);
		return;
	}
	gr_lock(&gr_sched.lock);
	pidleput_locked(pp);
	gr_unlock(&gr_sched.lock);
	if (when != INT64_MAX)
		gr_proc_timer_added(when);
}

/*
 * A G back from a call without a P, none idle, takes a P whose M has been in a system call
 * for SYSCALL_TAKE_NS, as sysmon's retake would one tick later (and at once: sysmon would
 * hand it to another M, which the kernel must wake and run before the G can).  The M in
 * that call finds out when it returns, as after a retake.  Without this, 8 fsync writers
 * and 8 compute threads on 2 Ps spent most of their waits with both Ps in a writer's fsync.
 * Returns the P, IDLE and owned by the caller, or NULL.
 */
static struct gr_p *syscall_p_take(struct gr_m *mp)
{
	uint64_t now = gr_arch_cputicks();
	int n = gr_sched.nprocs;
	uint32_t start = fastrand(mp) % n;

	for (int i = 0; i < n; i++) {
		struct gr_p *pp = &gr_sched.allp[(start + i) % n];
		if (atomic_load_explicit(&pp->xstatus, memory_order_relaxed) != GR_P_SYSCALL)
			continue;
		uint64_t when = atomic_load_explicit(&pp->xsyscallwhen, memory_order_relaxed);
		if (when > now || gr_cputicks_to_ns(now - when) < SYSCALL_TAKE_NS)
			continue;
		int st = GR_P_SYSCALL;
		if (atomic_compare_exchange_strong_explicit(&pp->xstatus, &st, GR_P_IDLE,
							    memory_order_acq_rel,
							    memory_order_relaxed)) {
			gr_stat_inc(&gr_sysmon_stats.xsyscall_takes);
			return pp;
		}
	}
	return NULL;
}

/*
 * P-less runs (*differs from Go*).  A G back from a call that finds no P, instead of
 * queueing and waiting for a P, goes on running the program on its own M without one, as
 * the kernel runs a native thread back from I/O at once; its M's xpin reads REVOKED, as
 * after a revocation, so the next entry into green that needs a P takes an idle one or
 * queues the G.  Wrapped calls need no P: one made meanwhile runs as a bracket of its
 * own (xsyscall set, so signals reach the M as in any call) and takes an idle P on the
 * way out if there is one.  So a G that alternates short stretches of the program with
 * blocking calls (8 fsync writers beside 8 compute threads) never waits for a P, and the
 * computing Gs keep theirs: each fsync had cost a P hand-off and a second kernel wake-up.
 * GREEN_MAXPROCS then bounds the Gs running with a P; a G running without one for
 * GR_PLESS_RUN_NS is preempted by sysmon (the preemption signal) and waits for a P.  With
 * preemption off (GREEN_PREEMPT=0) nothing could bound such a run: the G queues instead.
 */
static void pless_begin(struct gr_m *mp)
{
	gr_stat_inc(&gr_sysmon_stats.xpless_runs);
	mp->pless = true;
	atomic_fetch_add_explicit(&gr_sched.xnpless, 1, memory_order_relaxed);
	int64_t now = gr_nanotime();
	atomic_store_explicit(&mp->xpless_since, now, memory_order_relaxed);
	/* Release: the G's later pins see the state above. */
	atomic_store_explicit(&mp->xpin, GR_PIN_REVOKED, memory_order_release);
	gr_sysmon_look_within(now, GR_PLESS_RUN_NS);
}

static void pless_end(struct gr_m *mp)
{
	mp->pless = false;
	atomic_store_explicit(&mp->xpless_since, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&gr_sched.xnpless, 1, memory_order_relaxed);
}

static void pless_call_enter(struct gr_g *gp)
{
	struct gr_m *mp = gp->m;

	stop_clock(gp);
	mp->pless_call = true;
	atomic_store_explicit(&mp->xpless_since, 0, memory_order_relaxed);
	/* Seq_cst: a pthread_kill sender reads it to signal this M (signal.c). */
	atomic_store_explicit(&gp->xsyscall, mp->ktid, memory_order_seq_cst);
}

static void pless_call_close(struct gr_g *gp)
{
	gr_sig_syscall_leave(gp);
	gp->m->pless_call = false;
}

static void pless_call_leave(struct gr_g *gp)
{
	struct gr_m *mp = gp->m;
	struct gr_p *pp;

	pless_call_close(gp);
	gp->run_since = gr_arch_cputicks();
	if (atomic_load_explicit(&gr_sched.xnpidle, memory_order_relaxed) && (pp = pidleget())) {
		pless_end(mp);
		acquirep(mp, pp);
		/* Release: sysmon may revoke the P once it sees USER. */
		atomic_store_explicit(&mp->xpin, GR_PIN_USER, memory_order_release);
		return;
	}
	atomic_store_explicit(&mp->xpless_since, gr_nanotime(), memory_order_relaxed);
}

void gr_entersyscall(void)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp))
		return;
	if (gp->m->pless &&
	    atomic_load_explicit(&gp->m->xpin, memory_order_relaxed) == GR_PIN_REVOKED) {
		pless_call_enter(gp);
		return;
	}
	/* Pinned until gr_exitsyscall: an M in a wrapped call is retake's, not revocation's.
	 * Already pinned (the preemption handler, whose unwinder calls write): a plain call. */
	if (!pin(gp))
		return;
	gr_stat_inc(&gr_sysmon_stats.xsyscalls);
	struct gr_m *mp = gp->m;
	struct gr_p *pp = mp->p;
	__atomic_store_n(&pp->syscalltick, pp->syscalltick + 1, __ATOMIC_RELAXED);
	atomic_store_explicit(&pp->xsyscallwhen, gr_arch_cputicks(), memory_order_relaxed);
	/* While in the call the P belongs to nobody: whoever CASes it out of SYSCALL owns
	 * it (this M on return, or sysmon handing it over), as in Go. */
	stop_clock(gp);
	mp->oldp = pp;
	mp->p = NULL;
	pp->m = NULL;
	/* Seq_cst: a pthread_kill sender reads it to signal this M (signal.c). */
	atomic_store_explicit(&gp->xsyscall, mp->ktid, memory_order_seq_cst);
	/* Release: sysmon may hand the P over as soon as it sees SYSCALL. */
	atomic_store_explicit(&pp->xstatus, GR_P_SYSCALL, memory_order_release);
}

void gr_entersyscallblock(void)
{
	gr_entersyscall();
	struct gr_g *gp = gr_getg();
	if (!gr_g_schedulable(gp) || !gp->m->oldp)
		return;
	/* Go: entersyscallblock.  Hand the P off now rather than after a sysmon tick. */
	struct gr_p *pp = gp->m->oldp;
	int st = GR_P_SYSCALL;
	if (atomic_compare_exchange_strong_explicit(&pp->xstatus, &st, GR_P_IDLE,
						    memory_order_acq_rel, memory_order_relaxed)) {
		gr_stat_inc(&gr_sysmon_stats.xhandoffs);
		gr_handoffp(pp);
	}
}

/* deliver: run the handlers of signals sent while the G waited for a P (nobody kicked a
 * G that was not running), as it returns to the program; false where the caller is in
 * the middle of green's own work (gr_proc_fix_syscall). */
static void exitsyscall(struct gr_g *gp, bool deliver)
{
	struct gr_m *mp = gp->m;
	struct gr_p *pp = mp->oldp;
	int st = GR_P_SYSCALL;
	if (!pp) { /* not in a call: found pinned, or a cancellation unwound out of it */
		if (mp->pless_call)
			pless_call_leave(gp);
		return;
	}
	gr_sig_syscall_leave(gp);
	mp->oldp = NULL;
	gp->run_since = gr_arch_cputicks();
	if (atomic_compare_exchange_strong_explicit(&pp->xstatus, &st, GR_P_RUNNING,
						    memory_order_acq_rel, memory_order_relaxed)) {
		mp->p = pp;
		pp->m = mp;
		unpin(gp, true);
		return;
	}
	/* sysmon gave our P away: take an idle one, or one that another M left in a long call,
	 * or queue the G and idle the M. */
	gr_stat_inc(&gr_sysmon_stats.xsyscall_lost_p);
	if ((pp = pidleget()) || (pp = syscall_p_take(mp))) {
		acquirep(mp, pp);
		unpin(gp, true);
		return;
	}
	if (deliver && gr_preempt_enabled()) { /* sysmon can bound the run */
		pless_begin(mp);
		return;
	}
	switch_to_g0_pinned(gp, GR_OP_SYSCALL_QUEUE); /* resumes unpinned */
	if (deliver && atomic_load_explicit(&gp->xsigpend, memory_order_relaxed)) {
		int e = errno; /* the call's: a handler must not change what it reports */
		gr_sig_resume(gp);
		errno = e;
	}
}

void gr_exitsyscall(void)
{
	struct gr_g *gp = gr_getg();

	if (gr_g_schedulable(gp))
		exitsyscall(gp, true);
}

void gr_proc_fix_syscall(struct gr_g *gp)
{
	if (__builtin_expect(gp->m && (gp->m->oldp != NULL || gp->m->pless_call) &&
				     gp->m->curg == gp,
			     0))
		exitsyscall(gp, false);
}

/* ---- start-up ---------------------------------------------------------------------- */

/* M0's scheduler context, on a stack of its own: the main thread's stack and TCB belong
 * to the main G, which may run on any M. */
static void m0_g0_main(void *arg)
{
	struct gr_m *mp = arg;
	struct gr_g *gp = mp->curg;

	/* The main G was never started by execute: complete its first switch here, as
	 * execute does after one.  Without gr_sig_m_idle M0 looked for work with the main
	 * G's mask, open to a signal that another G had blocked already (no growth of the
	 * blocked set, so no grow_blocked) and that the main G blocked meanwhile on another
	 * M. */
	__atomic_store_n(&mp->curg, NULL, __ATOMIC_SEQ_CST); /* see execute */
	gr_sig_m_idle(mp);
	finish_op(mp, gp);
	schedule(mp);
}

int gr_proc_init(int nprocs, int maxthreads)
{
	gr_sched.nprocs = nprocs;
	gr_sched.maxthreads = maxthreads;
	gr_sched.allp = aligned_alloc(64, sizeof(struct gr_p) * nprocs);
	if (!gr_sched.allp)
		return -ENOMEM;
	memset(gr_sched.allp, 0, sizeof(struct gr_p) * nprocs);
	for (int i = nprocs - 1; i >= 0; i--) {
		struct gr_p *pp = &gr_sched.allp[i];
		pp->id = i;
		atomic_store_explicit(&pp->xtimer0, INT64_MAX, memory_order_relaxed);
		if (i > 0) {
			gr_lock(&gr_sched.lock);
			pidleput_locked(pp);
			gr_unlock(&gr_sched.lock);
		}
	}

	/* The main G keeps the main thread's TCB and stack. */
	static struct gr_g main_g;
	void *tcb = gr_arch_tp();
	main_g.magic = GR_G_MAGIC;
	main_g.tcb = tcb;
	main_g.ctx.fs = tcb;
	gr_stack_adopt_tid(&main_g, getpid()); /* the main thread's tid, as natively */
	main_g.is_main = true;
	main_g.run_since = gr_arch_cputicks();
	atomic_store_explicit(&main_g.xstatus, GR_G_RUNNING, memory_order_relaxed);

	struct gr_m *m0 = m_alloc();
	if (!m0)
		return -ENOMEM;
	struct gr_stack_req req = {.stack_size = M_STACK_SIZE, .guard_size = gr_stack_page()};
	struct gr_g *g0 = gr_stack_alloc_g(NULL, &req);
	if (!g0)
		return -ENOMEM;
	free(m0->g0);
	m0->g0 = g0;
	g0->is_g0 = true;
	g0->m = m0;
	g0->magic = GR_G_MAGIC;
	atomic_store_explicit(&g0->xstatus, GR_G_RUNNING, memory_order_relaxed);
	gr_ctx_init(&g0->ctx, g0, g0->tcb, m0_g0_main, m0);
	m0->kernel_tcb = tcb;
	m0->ktid = GR_PT(tcb, GR_PT_TID, pid_t);
	gr_altstack_m_init(m0, &main_g.altstack); /* the program's, if it set one already */
	gr_sched.mcount = 1;
	/* P0 is never listed idle: M0 takes it at once. */
	atomic_store_explicit(&gr_sched.allp[0].xstatus, GR_P_IDLE, memory_order_relaxed);
	acquirep(m0, &gr_sched.allp[0]);
	main_g.m = m0;
	m0->curg = &main_g;
	atomic_store_explicit(&m0->xpin, GR_PIN_USER, memory_order_relaxed); /* main G runs */
	atomic_store_explicit(&gr_sched.xnlive, 1, memory_order_relaxed);

	/* sysmon comes later, when needed (gr_sysmon_ensure). */
	gr_fd_reserve(); /* still one thread: see fd.c */
	GR_PT(tcb, GR_TCB_G, struct gr_g *) = &main_g;
	return 0;
}

/* ---- fork --------------------------------------------------------------------------- */

void gr_proc_fork_child(struct gr_g *gp)
{
	struct gr_m *mp = gp->m;
	struct gr_p *mine = mp->p;

	/* Every other M is gone and may have held any lock: start from scratch. */
	gr_sched.lock = (struct gr_lock)GR_LOCK_INIT;
	gr_sched.runq_head = gr_sched.runq_tail = NULL;
	atomic_store_explicit(&gr_sched.xrunqsize, 0, memory_order_relaxed);
	gr_sched.sysret_head = NULL;
	atomic_store_explicit(&gr_sched.xnsysret, 0, memory_order_relaxed);
	atomic_store_explicit(&gr_sched.xnpless, 0, memory_order_relaxed);
	gr_sched.pidle = NULL;
	atomic_store_explicit(&gr_sched.xnpidle, 0, memory_order_relaxed);
	gr_sched.midle = NULL;
	gr_sched.nmidle = 0;
	gr_sched.mcount = 1;
	set_timer_m(NULL);
	gr_sched.timer_m_until = 0;
	atomic_store_explicit(&gr_sched.xnmspinning, 0, memory_order_relaxed);
	atomic_store_explicit(&gr_sched.xnlive, 1, memory_order_relaxed);
	/* The child ends when its one thread does (exit(0) from g_finish if it returns). */
	atomic_store_explicit(&gr_sched.xmain_exited, !gp->is_main, memory_order_relaxed);
	gr_lock(&gr_sched.lock);
	for (int i = gr_sched.nprocs - 1; i >= 0; i--) {
		struct gr_p *pp = &gr_sched.allp[i];
		atomic_store_explicit(&pp->xrunqhead, 0, memory_order_relaxed);
		atomic_store_explicit(&pp->xrunqtail, 0, memory_order_relaxed);
		atomic_store_explicit(&pp->xrunnext, NULL, memory_order_relaxed);
		pp->timerlock = (struct gr_lock)GR_LOCK_INIT;
		pp->ntimers = 0; /* the timers were the other Gs' (gp runs: it has none) */
		atomic_store_explicit(&pp->xtimer0, INT64_MAX, memory_order_relaxed);
		pp->gfree = NULL; /* possibly mid-update by another M: dropped (leaked) */
		pp->ngfree = 0;
		if (pp != mine)
			pidleput_locked(pp);
	}
	gr_unlock(&gr_sched.lock);
	mp->alllink = NULL;
	atomic_store_explicit(&gr_sched.xallm, mp, memory_order_relaxed);
	mp->id = 0;
	mp->spinning = false;
	mp->oldp = NULL;
	mp->nextp = NULL;
	mp->schedlink = NULL;
	mp->pless = mp->pless_call = false;
	atomic_store_explicit(&mp->xpless_since, 0, memory_order_relaxed);
	mp->ktid = (pid_t)gr_syscall(SYS_gettid, 0, 0, 0);
	if (mp->g0->tcb == mp->kernel_tcb)
		mp->g0->tid = mp->ktid;
	gr_sysmon_fork_child();
}
