/* sysmon (see sysmon.c). */
#ifndef GR_SYSMON_H
#define GR_SYSMON_H

#include <stdatomic.h>
#include <stdint.h>

/* Starts the sysmon thread unless it runs (see sysmon.c): call before a second G or M
 * exists, and before an M sleeps with every signal blocked (a signal that no running G
 * takes is then sysmon's to forward).  Creating it also switches glibc to multi-threaded
 * mode.  Any thread with a G, or on g0.  Returns 0 or a positive errno. */
int gr_sysmon_ensure(void);

/* In a fork child: the child has no sysmon until it needs one. */
void gr_sysmon_fork_child(void);

/* A G back from a blocking system call was queued for a P (proc.c): wakes sysmon when it
 * sleeps longer than its tick for such Gs, so that it shortens a running slice for them.
 * Any thread with a G or on g0. */
void gr_sysmon_sysret(void);

/* Wakes sysmon when it sleeps past now + within (gr_nanotime): something it watches
 * needs a look by then (a P-less run, proc.c; a signal left pending, signal.c).  Any
 * thread, signal handlers included. */
void gr_sysmon_look_within(int64_t now, int64_t within);

/* A P deferred a wake-up (proc.c, wakep_deferred): wakes sysmon if it sleeps longer than
 * its owed-wake-up tick.  Called after the seq_cst store of the P's xwakeowed. */
void gr_sysmon_owed(void);

/* The CPU time a G may run before sysmon preempts it while n Gs wait for a P (a
 * shorter slice while many wait; see sysmon.c).  Requires gr_sched.nprocs. */
int64_t gr_sysmon_slice_ns(int n);

/* How long sysmon may go between looks at a P while Gs wait: a tenth of the slice,
 * doubling with each of turnover consecutive looks that found a new slice there, up to
 * the slice (see sysmon.c). */
int64_t gr_sysmon_look_ns(int64_t slice, int turnover);

/*
 * Counters of the system-call hand-off, sysmon and preemption, for the observability work
 * (GREEN_SCHEDTRACE, `green dump`).  Each is incremented with a relaxed atomic add by
 * whoever does the thing and read racily: they are statistics, not synchronization.
 */
struct gr_sysmon_stats {
	_Atomic uint64_t xsyscalls;	     /* gr_entersyscall by a G holding a P */
	_Atomic uint64_t xsyscall_lost_p;    /* a call returned to find its P retaken */
	_Atomic uint64_t xretakes;	     /* Ps sysmon took from Ms in a system call */
	_Atomic uint64_t xsyscall_takes;     /* ... and Ps that Gs back from calls took */
	_Atomic uint64_t xhandoffs;	     /* Ps given to another M (retakes + revocations) */
	_Atomic uint64_t xrevocations;	     /* Ps taken from Ms asleep where no hook saw */
	_Atomic uint64_t xrevoked_returns;   /* revoked Ms that came back into green */
	_Atomic uint64_t xpless_runs;	     /* Gs back from calls that ran on without a P */
	_Atomic uint64_t xpless_preempts;    /* ... that sysmon preempted for running long */
	_Atomic uint64_t xpreempt_requests;  /* preemption signals sent */
	_Atomic uint64_t xpreemptions;	     /* Gs that yielded through the preemption stub */
	_Atomic uint64_t xpreempt_unsafe;    /* requests refused: not at a safe point */
	_Atomic uint64_t xowed_wakes;	     /* deferred wake-ups that sysmon paid */
	_Atomic uint64_t xlocked_waits;	     /* Gs that left their M inside an SA_ONSTACK
						handler, locked to it (proc.c) */
};

extern struct gr_sysmon_stats gr_sysmon_stats;

static inline void gr_stat_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

#endif
