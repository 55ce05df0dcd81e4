/*
 * sysmon: one OS thread without a P that watches the Ps (Go: sysmon in proc.go).
 *
 * It sleeps 20us, doubling to 10ms while it finds nothing to do, so an idle process
 * wakes it at most a hundred times a second.  Each round it retakes Ps whose M has been
 * in a system call since its previous look (at least one tick) when someone could use
 * the P: the P's queue has work, or no other P is idle or spinning to pick up new work,
 * or the call has lasted 10ms.  The retaken P goes to another M (gr_handoffp); the M in
 * the call finds out when it returns (gr_exitsyscall).
 *
 * Rejected: handing the P off on every system call (entersyscallblock for all): most calls
 * return in microseconds, and a hand-off costs a futex wake and an OS-thread switch.
 */
#include <stdlib.h>

#include "netpoll.h"
#include "proc.h"
#include "real.h"
#include "runq.h"
#include "stack.h"
#include "sysmon.h"
#include "timer.h"

#define TICK_MIN_NS 20000
#define TICK_MAX_NS 10000000
#define SYSCALL_MAX_NS 10000000
#define IDLE_ROUNDS 50 /* rounds without work before the tick starts doubling */

/* sysmon's last observation of each P.  Owned by the sysmon thread. */
struct p_watch {
	uint32_t syscalltick;
	int64_t syscallwhen;
};

static struct p_watch *watch;

static bool retake_syscall(struct gr_p *pp, struct p_watch *pw, int64_t now)
{
	uint32_t tick = __atomic_load_n(&pp->syscalltick, __ATOMIC_RELAXED);

	if (pw->syscalltick != tick) {
		pw->syscalltick = tick;
		pw->syscallwhen = now;
		return false;
	}
	if (gr_runq_empty(pp) &&
	    atomic_load_explicit(&gr_sched.xnmspinning, memory_order_relaxed) +
			    atomic_load_explicit(&gr_sched.xnpidle, memory_order_relaxed) >
		    0 &&
	    now - pw->syscallwhen < SYSCALL_MAX_NS)
		return false;
	int st = GR_P_SYSCALL;
	if (!atomic_compare_exchange_strong_explicit(&pp->xstatus, &st, GR_P_IDLE,
						     memory_order_acq_rel, memory_order_relaxed))
		return false;
	gr_handoffp(pp);
	return true;
}

static int retake(int64_t now)
{
	int n = 0;

	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		if (atomic_load_explicit(&pp->xstatus, memory_order_acquire) == GR_P_SYSCALL)
			n += retake_syscall(pp, &watch[i], now);
	}
	return n;
}

static void *sysmon_main(void *arg)
{
	_Atomic uint32_t never = 0;
	int64_t delay = TICK_MIN_NS;
	int idle = 0;

	(void)arg;
	for (;;) {
		gr_futex_wait(&never, 0, gr_nanotime() + delay);
		int64_t now = gr_nanotime();
		gr_stack_scavenge(now);
		int n = retake(now);
		n += gr_netpoll_sysmon(now); /* nobody polled for 10 ms */
		if (n) {
			idle = 0;
			delay = TICK_MIN_NS;
		} else if (++idle > IDLE_ROUNDS && delay < TICK_MAX_NS) {
			delay *= 2;
		}
	}
	return NULL;
}

int gr_sysmon_start(void)
{
	pthread_attr_t attr;
	pthread_t t;

	watch = calloc(gr_sched.nprocs, sizeof(*watch));
	if (!watch)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = gr_real.pthread_create(&t, &attr, sysmon_main, NULL);
	pthread_attr_destroy(&attr);
	return r ? -r : 0;
}
