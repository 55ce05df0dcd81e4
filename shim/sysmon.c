/*
 * sysmon: one OS thread without a P that watches the Ps (Go: sysmon in proc.go).
 *
 * It sleeps 20us, doubling to 10ms while it finds nothing to do, so an idle process
 * wakes it at most a hundred times a second.  Each round it retakes Ps whose M has been
 * in a system call since its previous look (at least one tick) when someone could use
 * the P: the P's queue has work, or no other P is idle or spinning to pick up new work,
 * or the call has lasted 10ms.  The retaken P goes to another M (gr_handoffp); the M in
 * the call finds out when it returns (gr_exitsyscall).  While a P is in a call and Gs
 * wait, sysmon looks every 50us whatever its back-off says.
 *
 * Preemption (preempt_check): a P whose time slice (schedtick) has had 10 ms of its M's
 * CPU time (or 20 ms of wall time) while other work waits (a queued G, a due timer) gets
 * a preemption request for its M (preempt.c); a request the G refused (not at a safe
 * point) is repeated 1 ms later.  While more than 4 Gs per P wait, the slice shrinks
 * towards 2 ms (gr_sysmon_slice_ns).  While Gs wait sysmon looks 10 times per slice.  As
 * in Go, a G taken from runnext inherits its predecessor's slice (schedtick unchanged),
 * so two Gs that hand the P back and forth share one slice.
 *
 * Gs back from a call without a P (gr_sysmon_sysret, preempt_for_sysret): the G's own M
 * asks the oldest slice sysmon first saw at least 250 us ago to end at once; failing one,
 * sysmon looks every 50 us while such Gs wait and does the same for each of them
 * (gr_sysmon_sysret wakes it when it sleeps longer).  A native thread
 * waking from I/O runs almost at once; without this such a G waited for a 10 ms slice.
 *
 * P-less runs (pless_check): a G that came back from a call without a P and runs on
 * without one (proc.c) gets a preemption request once it has computed for 1 ms.
 *
 * Revocation (revoke_check): a RUNNING P whose M sleeps in the kernel where no hook saw it
 * (glibc's internal locks, raw syscalls) is taken from it; see the comment there.
 *
 * Counters of all of this are in gr_sysmon_stats (sysmon.h); GREEN_SYSMON_STATS=1 prints
 * them at exit until the observability work reads them.
 *
 * Rejected: handing the P off on every system call (entersyscallblock for all): most calls
 * return in microseconds, and a hand-off costs a futex wake and an OS-thread switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "arch/x86_64/syscall.h"

#include "glibc.h"
#include "netpoll.h"
#include "preempt.h"
#include "proc.h"
#include "sig.h"
#include "real.h"
#include "runq.h"
#include "stack.h"
#include "sysmon.h"
#include "timer.h"
#include "tls.h"

#define TICK_MIN_NS 20000
#define TICK_MAX_NS 10000000
#define SYSCALL_MAX_NS 10000000
#define IDLE_ROUNDS 50 /* rounds without work before the tick starts doubling */
#define FORCE_PREEMPT_NS 10000000 /* Go: forcePreemptNS; the longest slice */
#define SLICE_MIN_NS 2000000	   /* the shortest, when many Gs wait */
#define ROUND_NS 40000000	   /* the CPU time a waiting G should wait for its turn */
#define SLICE_LOOKS 10		   /* sysmon looks this often per slice while Gs wait */
#define PREEMPT_RETRY_NS 1000000  /* a refused request is repeated this much later */
#define WALL_SLICE_NS 20000000 /* a slice never lasts longer than this in wall time */
#define SYSCALL_WATCH_NS 50000 /* sysmon's tick while a P is in a call and Gs wait */
#define REVOKE_NS 1000000 /* a slice asleep in the kernel this long loses its P */
#define SYSRET_SLICE_NS 250000 /* a slice this old (wall) ends early for a G back from a call */
#define SYSRET_RETRY_NS 250000 /* ... and is asked again this much later if it goes on */
#define SYSRET_TICK_NS 50000	/* sysmon's tick while such Gs wait (as SYSCALL_WATCH_NS) */
#define OWED_TICK_NS 200000	/* sysmon's tick while a P owes a wake-up (proc.c) */

struct gr_sysmon_stats gr_sysmon_stats;

/* sysmon's last observation of each P.  Owned by the sysmon thread; schedtick, seen and
 * schedm are also read by gr_sysmon_sysret (relaxed atomics; a torn view costs at most
 * one early preemption). */
struct p_watch {
	uint32_t syscalltick;
	int64_t syscallwhen;
	uint32_t schedtick;  /* the time slice seen last ... */
	int64_t schedwhen;   /* ... and when it began (see observe) */
	int64_t seen;	     /* when sysmon first saw it (a G back from a call, which may
			      * follow a request, must not look old: see sysret_victim) */
	struct gr_m *schedm; /* the M running it */
	int64_t schedcpu;    /* that M's CPU time at schedwhen (-1: unknown) */
	int64_t cpu;	     /* that M's CPU time at the latest look (-1: unknown) */
	bool stalled;	     /* the M has not run since the previous look (same slice) */
	int turnover;	     /* consecutive looks that each found a new slice (see
			      * gr_sysmon_look_ns) */
	int64_t probed;	     /* when the M's state was last read from /proc (0: never) */
	int64_t ran;	     /* how long the slice has run (see observe) */
	int64_t asked;	     /* when its preemption was last requested (0: not yet) ... */
	int64_t askedcpu;    /* ... and the M's CPU time then */
	bool running;	     /* RUNNING at the latest look, and still its M's */
	uint32_t nexec;	     /* the P's count of Gs started, at the latest look ... */
	int64_t nexecwhen;   /* ... and when sysmon first saw that count */
};

static struct p_watch *watch;

/* sysmon sleeps on xkick until xsleep_until; gr_sysmon_sysret wakes it early. */
static _Atomic uint32_t xkick;
static _Atomic int64_t xsleep_until;

/* True when some G waits for a P: back from a system call, queued locally or globally, or
 * behind a due timer. */
static bool work_waiting(int64_t now)
{
	if (atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) ||
	    atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed))
		return true;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		if (!gr_runq_empty(pp) ||
		    atomic_load_explicit(&pp->xtimer0, memory_order_relaxed) <= now)
			return true;
	}
	return false;
}

/* CPU time the kernel thread tid has consumed (ns), or -1.  Linux encodes a thread's
 * CPU clock as MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) = ~tid << 3 | 4 | 2. */
/* How many Gs wait for a P: back from a call, queued globally or locally (runnext too). */
static int queued(void)
{
	int n = atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) +
		atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed);

	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		n += (int)gr_runq_len(pp) +
		     (atomic_load_explicit(&pp->xrunnext, memory_order_relaxed) != NULL);
	}
	return n;
}

/*
 * The slice: Go's 10 ms, shortened while so many Gs wait that
 * each would wait more than ROUND_NS of CPU time for its turn (the kernel's scheduling
 * latency works the same way), down to SLICE_MIN_NS.  With 64 spinners on 2 Ps, 10 ms
 * slices gave each G about 6 slices in 2 s, so one slice more or less moved a G's share
 * by 15%; 2 ms slices give it about 30 (fairness 64 2: 0.42 before, 0.6-0.8 after).  It
 * is shortened only beyond 4 waiting Gs per P, so a CPU-bound program with a thread or
 * two per P keeps 10 ms slices.
 */
int64_t gr_sysmon_slice_ns(int n)
{
	int64_t s = n > 0 ? ROUND_NS * gr_sched.nprocs / n : FORCE_PREEMPT_NS;

	return s < SLICE_MIN_NS ? SLICE_MIN_NS : s > FORCE_PREEMPT_NS ? FORCE_PREEMPT_NS : s;
}

static int64_t thread_cputime(pid_t tid)
{
	struct timespec ts;
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);

	if (gr_syscall(SYS_clock_gettime, clk, &ts, 0) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Looks at the slice running on pp (RUNNING): notes a new one, how long it has run and
 * whether its M ran since the previous look.
 *
 * Unlike Go, a slice is 10 ms of the M's CPU time, not of wall time: on a machine with
 * more runnable threads than CPUs an M gets a fraction of each wall-clock slice, and
 * counting wall time would give the Gs whose slices the kernel happened to favour several
 * times the CPU of the others (fairness 64 2 on a loaded 2-CPU machine: 0.2 instead of
 * the kernel's own 0.5).  Where the thread CPU clock cannot be read, wall time is used.
 * A slice also ends after WALL_SLICE_NS of wall time, on a machine so loaded that the CPU
 * share would leave most Gs unstarted for seconds. */
static void observe(struct gr_p *pp, struct p_watch *pw, int64_t now)
{
	uint32_t tick = __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED);
	struct gr_m *mp = __atomic_load_n(&pp->m, __ATOMIC_RELAXED);
	int64_t cpu = mp ? thread_cputime(mp->ktid) : -1;

	pw->stalled = false;
	if (pw->schedtick != tick || pw->schedm != mp) {
		/* A slice that follows one sysmon ended began when the M took the request: its
		 * CPU time has hardly moved since (it yields at once, or does not run at all).
		 * Counting from the request, not from this look, keeps a look made late on a
		 * loaded machine from lengthening the slice by the CPU time it missed. */
		bool followed = pw->asked && pw->schedm == mp && pw->askedcpu >= 0 && cpu >= 0;
		__atomic_store_n(&pw->schedtick, tick, __ATOMIC_RELAXED);
		__atomic_store_n(&pw->schedm, mp, __ATOMIC_RELAXED);
		pw->schedwhen = followed ? pw->asked : now;
		__atomic_store_n(&pw->seen, now, __ATOMIC_RELAXED);
		pw->schedcpu = followed ? pw->askedcpu : cpu;
		pw->asked = 0;
		if (pw->turnover < 32)
			pw->turnover++;
	} else {
		pw->stalled = cpu >= 0 && cpu == pw->cpu;
		pw->turnover = 0;
	}
	pw->cpu = cpu;
	int64_t wall = now - pw->schedwhen;
	pw->ran = cpu >= 0 && pw->schedcpu >= 0 ? cpu - pw->schedcpu : wall;
	if (wall >= WALL_SLICE_NS && pw->ran < FORCE_PREEMPT_NS)
		pw->ran = FORCE_PREEMPT_NS; /* past any slice */
}

static void ask(struct p_watch *pw, int64_t now)
{
	pw->asked = now;
	pw->askedcpu = pw->cpu;
	gr_preempt_refresh();
	gr_preempt_request(pw->schedm, pw->schedtick);
}

/*
 * How long sysmon may go before its next look at a P while Gs wait, given the slice and
 * how many looks in a row have each found a new slice there.  sysmon learns that a slice
 * began only when it looks, so it looks SLICE_LOOKS times a slice; but where every look
 * finds a new slice, the P's Gs run for less than a look's interval (a server's Gs run
 * microseconds between parks), and the interval doubles with each such look, up to the
 * slice.  A look that finds the same slice again starts over.  A G that begins computing
 * just after a long interval thus runs for at most one slice unseen, once, before the
 * looks come at the short interval again.  Looking every 200 us (2 ms slices while
 * hundreds of Gs wait) cost an echo server with 1,000 connections about 4% of its CPU
 * time: a futex wake-up and a clock read per P each time.
 */
int64_t gr_sysmon_look_ns(int64_t slice, int turnover)
{
	int64_t look = slice / SLICE_LOOKS;

	for (int i = 0; i < turnover && look < slice; i++)
		look *= 2;
	return look < slice ? look : slice;
}

/* Go: retake's preemption half, after observe, with the slice of gr_sysmon_slice_ns.
 * Returns when the slice may be due for preemption next (INT64_MAX: nothing to watch).
 * A request the G refused (not at a safe point) or that is still on its way is repeated
 * PREEMPT_RETRY_NS later. */
static int64_t preempt_check(struct p_watch *pw, int64_t now, int64_t slice)
{
	if (!gr_preempt_enabled() || !pw->schedm)
		return INT64_MAX;
	/* sysmon learns that a slice began only when it looks: while Gs wait, look
	 * SLICE_LOOKS times a slice so that slices last about the slice, not the slice plus
	 * a sysmon tick. */
	if (pw->ran < slice) {
		int64_t due = now + slice - pw->ran;
		int64_t look = gr_sysmon_look_ns(slice, pw->turnover);
		if (due > now + look && work_waiting(now))
			due = now + look;
		return due;
	}
	if (!work_waiting(now))
		return INT64_MAX;
	if (pw->asked && now - pw->asked < PREEMPT_RETRY_NS)
		return pw->asked + PREEMPT_RETRY_NS;
	ask(pw, now);
	return now + PREEMPT_RETRY_NS;
}

/*
 * Gs back from a blocking call without a P (gr_sched.sysret_head) wait for a slice to end.
 * The kernel runs a thread waking from I/O almost at once, ahead of the threads that
 * compute; green does the same: for each such G, the oldest slice that sysmon first saw at
 * least SYSRET_SLICE_NS ago is asked to end now (and again every SYSRET_RETRY_NS while it
 * goes on).  The G then runs next on that P (proc.c takes these Gs first).  The floor bounds
 * the preemptions a compute slice suffers however many calls return; it counts wall time,
 * unlike the 10 ms slice, because it bounds a rate and a latency, both of wall time (a
 * floor of M CPU time let a writer wait for 4 ms behind an M the kernel had descheduled).
 */
static void preempt_for_sysret(int64_t now)
{
	int want = atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed);

	if (!gr_preempt_enabled())
		return;
	while (want-- > 0) {
		struct p_watch *best = NULL;
		for (int i = 0; i < gr_sched.nprocs; i++) {
			struct p_watch *pw = &watch[i];
			if (pw->running && pw->schedm && now - pw->seen >= SYSRET_SLICE_NS &&
			    (!pw->asked || now - pw->asked >= SYSRET_RETRY_NS) &&
			    (!best || pw->seen < best->seen))
				best = pw;
		}
		if (!best)
			return;
		ask(best, now);
	}
}

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
	gr_stat_inc(&gr_sysmon_stats.xretakes);
	gr_stat_inc(&gr_sysmon_stats.xhandoffs);
	gr_handoffp(pp);
	return true;
}

/*
 * Revocation (Go has no counterpart: its runtime sees every system call).  glibc's
 * internal locks (stdio, malloc arenas, the loader) and raw `syscall` instructions block
 * an M in the kernel without a hook.  A P that is RUNNING, whose slice has not changed
 * for REVOKE_NS while work waits, and whose M is unpinned (running the program, not green)
 * and asleep in the kernel (state S or D in /proc/self/task/TID/stat) is revoked: CAS
 * mp->xpin USER -> REVOKED, then handed to another M like a retaken P.  The sleeping M
 * notices at its next entry into green (proc.c: pin) and gives way.
 *
 * A stalled CPU clock also means an M the kernel has descheduled, which a loaded machine
 * does for milliseconds at a time; the /proc read then finds it runnable (state R).  Such
 * a read is not repeated on the same P for REVOKE_NS: at sysmon's 200 us looks, reading
 * at each one cost an echo server with 1,000 connections on a loaded 2-CPU machine 5.7%
 * of its CPU time (the open, the read and the close of /proc).  An M that goes to sleep
 * just after a read is thus revoked after up to twice REVOKE_NS.
 */
static bool task_sleeping(pid_t tid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	long fd = gr_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	long n = gr_syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	gr_syscall(SYS_close, fd, 0, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold anything */
	return p && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

/* After observe.  The /proc read happens only for an M whose CPU clock has not moved since
 * sysmon's previous look (or cannot be read): a computing M costs one clock read. */
static bool revoke_check(struct gr_p *pp, struct p_watch *pw, int64_t now)
{
	if (now - pw->seen < REVOKE_NS || (pw->cpu >= 0 && !pw->stalled) ||
	    !work_waiting(now))
		return false;
	struct gr_m *mp = pw->schedm;
	if (!mp || atomic_load_explicit(&mp->xpin, memory_order_relaxed) != GR_PIN_USER ||
	    (pw->probed && now - pw->probed < REVOKE_NS))
		return false;
	pw->probed = now;
	if (!task_sleeping(mp->ktid))
		return false;
	uint32_t st = GR_PIN_USER;
	/* Acquire: pairs with execute's release, so mp->p below is the P the M runs with. */
	if (!atomic_compare_exchange_strong_explicit(&mp->xpin, &st, GR_PIN_REVOKED,
						    memory_order_acquire, memory_order_relaxed))
		return false;
	if (mp->p != pp) { /* pp->m was stale: not ours to take */
		atomic_store_explicit(&mp->xpin, GR_PIN_USER, memory_order_release);
		return false;
	}
	/* The M cannot touch pp again without seeing REVOKED: detach it and hand it over. */
	pp->m = NULL;
	atomic_store_explicit(&pp->xstatus, GR_P_IDLE, memory_order_release);
	gr_stat_inc(&gr_sysmon_stats.xrevocations);
	gr_stat_inc(&gr_sysmon_stats.xhandoffs);
	gr_handoffp(pp);
	return true;
}

/*
 * A wake-up the P deferred (proc.c, wakep_deferred).  Paid when the P has started no G
 * for OWED_TICK_NS while a G waits in its queue: the readier went on running instead of
 * parking.  Cleared, seq_cst and then a look at the queue, once nothing waits there.
 * Returns true while the P still owes one (sysmon then looks every OWED_TICK_NS).
 */
static bool owed_wake_check(struct gr_p *pp, struct p_watch *pw, bool running, int64_t now)
{
	uint32_t nexec = __atomic_load_n(&pp->nexec, __ATOMIC_RELAXED);

	if (nexec != pw->nexec) {
		pw->nexec = nexec;
		pw->nexecwhen = now;
	}
	bool started = now - pw->nexecwhen < OWED_TICK_NS;
	if (!atomic_load_explicit(&pp->xwakeowed, memory_order_relaxed))
		return false;
	if (gr_runq_empty(pp)) {
		atomic_store_explicit(&pp->xwakeowed, false, memory_order_seq_cst);
		if (gr_runq_empty(pp))
			return false;
		atomic_store_explicit(&pp->xwakeowed, true, memory_order_relaxed);
		return true;
	}
	if (running && started)
		return true;
	atomic_store_explicit(&pp->xhandoffs, false, memory_order_relaxed);
	atomic_store_explicit(&pp->xwakeowed, false, memory_order_relaxed);
	gr_stat_inc(&gr_sysmon_stats.xowed_wakes);
	gr_wakep();
	return false;
}

/* Checks every P's owed wake-up; true while one is still owed. */
static bool owed_wakes_check(int64_t now)
{
	bool owed = false;

	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		bool running = atomic_load_explicit(&pp->xstatus, memory_order_relaxed) ==
			       GR_P_RUNNING;
		owed |= owed_wake_check(pp, &watch[i], running, now);
	}
	return owed;
}

/* True when some P owes a wake-up (see owed_wake_check). */
static bool wake_owed(void)
{
	for (int i = 0; i < gr_sched.nprocs; i++)
		if (atomic_load_explicit(&gr_sched.allp[i].xwakeowed, memory_order_relaxed))
			return true;
	return false;
}

void gr_sysmon_owed(void)
{
	/* The caller's seq_cst store of xwakeowed pairs with sysmon's fence between its
	 * store of xsleep_until and wake_owed(): one of the two sees the other. */
	if (atomic_load_explicit(&xsleep_until, memory_order_relaxed) <=
	    gr_nanotime() + OWED_TICK_NS)
		return;
	atomic_store_explicit(&xkick, 1, memory_order_relaxed);
	gr_futex_wake(&xkick, 1);
}

/* Gs running without a P (proc.c's P-less runs) for GR_PLESS_RUN_NS get a preemption
 * request; *next is lowered to when the next one will have run that long. */
static void pless_check(int64_t now, int64_t *next)
{
	if (!atomic_load_explicit(&gr_sched.xnpless, memory_order_relaxed))
		return;
	for (struct gr_m *mp = atomic_load_explicit(&gr_sched.xallm, memory_order_acquire); mp;
	     mp = mp->alllink) {
		int64_t since = atomic_load_explicit(&mp->xpless_since, memory_order_relaxed);
		if (!since)
			continue;
		if (now - since < GR_PLESS_RUN_NS) {
			if (since + GR_PLESS_RUN_NS < *next)
				*next = since + GR_PLESS_RUN_NS;
			continue;
		}
		int64_t again = mp->pless_asked + PREEMPT_RETRY_NS;
		if (mp->pless_asked < since || now >= again) {
			gr_stat_inc(&gr_sysmon_stats.xpless_preempts);
			gr_preempt_request_pless(mp);
			mp->pless_asked = now;
			again = now + PREEMPT_RETRY_NS;
		}
		if (again < *next)
			*next = again;
	}
}

void gr_sysmon_look_within(int64_t now, int64_t within)
{
	if (atomic_load_explicit(&xsleep_until, memory_order_relaxed) <= now + within)
		return;
	atomic_store_explicit(&xkick, 1, memory_order_relaxed);
	gr_futex_wake(&xkick, 1);
}

/* Returns the number of Ps retaken; *next is lowered to when sysmon should look again
 * (the next preemption deadline, or soon while a P is in a call and Gs wait). */
static int retake(int64_t now, int64_t *next)
{
	int64_t slice = gr_sysmon_slice_ns(queued());
	int n = 0;

	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		int st = atomic_load_explicit(&pp->xstatus, memory_order_acquire);
		watch[i].running = false;
		if (st == GR_P_SYSCALL) {
			if (retake_syscall(pp, &watch[i], now))
				n++;
			else if (*next > now + SYSCALL_WATCH_NS && work_waiting(now))
				/* A P in a call while Gs wait: look again soon, whatever the
				 * idle back-off says (Go's sysmon stays at 20 us for the same
				 * reason: it keeps retaking). */
				*next = now + SYSCALL_WATCH_NS;
		} else if (st == GR_P_RUNNING) {
			observe(pp, &watch[i], now);
			if (revoke_check(pp, &watch[i], now)) {
				n++;
				continue;
			}
			int64_t due = preempt_check(&watch[i], now, slice);
			if (due < *next)
				*next = due;
			watch[i].running = true;
		}
	}
	pless_check(now, next);
	gr_sig_recheck(now, next);
	if (atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed)) {
		preempt_for_sysret(now);
		if (*next > now + SYSRET_TICK_NS)
			*next = now + SYSRET_TICK_NS;
	}
	return n;
}

/* The oldest slice that sysmon first saw SYSRET_SLICE_NS ago and that still runs: sets
 * *mpp and *tickp to its M and tick and returns true, or returns false.  Counted from
 * sysmon's first look, not from a request it may follow: the slice of a G just back from
 * a call follows one, and preempting that G would send it to the back of the global
 * queue.  Every field is read once: sysmon may be rewriting them. */
static bool sysret_victim(int64_t now, struct gr_m **mpp, uint32_t *tickp)
{
	int64_t bestwhen = INT64_MAX;

	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *pp = &gr_sched.allp[i];
		struct p_watch *pw = &watch[i];
		int64_t when = __atomic_load_n(&pw->seen, __ATOMIC_RELAXED);
		uint32_t tick = __atomic_load_n(&pw->schedtick, __ATOMIC_RELAXED);
		struct gr_m *mp = __atomic_load_n(&pw->schedm, __ATOMIC_RELAXED);
		/* pp->m is NULL for a moment while its M enters a call: no victim then. */
		if (!mp || atomic_load_explicit(&pp->xstatus, memory_order_relaxed) != GR_P_RUNNING ||
		    __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED) != tick ||
		    __atomic_load_n(&pp->m, __ATOMIC_RELAXED) != mp ||
		    now - when < SYSRET_SLICE_NS || when >= bestwhen)
			continue;
		*mpp = mp;
		*tickp = tick;
		bestwhen = when;
	}
	return bestwhen != INT64_MAX;
}

void gr_sysmon_sysret(void)
{
	int64_t now = gr_nanotime();
	struct gr_m *mp;
	uint32_t tick;

	/* The G's own M asks for the slice to end: going through sysmon would add its
	 * wake-up to the G's wait. */
	if (gr_preempt_enabled() && sysret_victim(now, &mp, &tick)) {
		gr_preempt_request(mp, tick);
		return;
	}
	/* Seq_cst fence: the caller queued the G (xnsysret) before; sysmon stores
	 * xsleep_until before it reads xnsysret.  One of the two sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&xsleep_until, memory_order_relaxed) <= now + SYSRET_TICK_NS)
		return;
	atomic_store_explicit(&xkick, 1, memory_order_relaxed);
	gr_futex_wake(&xkick, 1);
}

/*
 * sysmon starts when the program first needs it (gr_sysmon_ensure), not with green: a
 * program that never makes a thread and never waits in green stays single-threaded, as
 * natively.  unshare(CLONE_NEWUSER) and setns into a user namespace fail with EINVAL in a
 * multi-threaded process (`unshare -U` did under green), and a fork child that execs at
 * once needs no second thread either.
 *
 * Protected by start_lock: starting it.  xrunning is also read without the lock (acquire,
 * paired with the release that publishes a started sysmon).
 */
static struct gr_lock start_lock = GR_LOCK_INIT;
static _Atomic bool xrunning;
/* Atomic futex word: 0 until its creator let sysmon go (start_locked). */
static _Atomic uint32_t xgo;

/*
 * The loop.  A full round (retake and the rest) is due after the back-off delay or at the
 * next slice end; while a P owes a wake-up sysmon also wakes every OWED_TICK_NS, and
 * those ticks check owed wake-ups only (the full round reads each M's CPU clock).
 */
static void *sysmon_main(void *arg)
{
	int64_t delay = TICK_MIN_NS;
	int64_t next_preempt = INT64_MAX;
	int64_t round_due = 0; /* 0: compute at the top */
	bool owed = false;
	int idle = 0;

	(void)arg;
	while (!atomic_load_explicit(&xgo, memory_order_acquire))
		gr_futex_wait(&xgo, 0, 0);
	for (;;) {
		int64_t now = gr_nanotime();
		if (!round_due) {
			round_due = now + delay;
			/* A time slice that ends before the next tick: wake for it (slices of
			 * 10 ms, not 10 to 20 ms; with 64 Gs on 2 Ps that keeps them even). */
			if (next_preempt < round_due)
				round_due = next_preempt > now ? next_preempt : now;
		}
		int64_t wake = round_due;
		if (owed && wake > now + OWED_TICK_NS)
			wake = now + OWED_TICK_NS;
		atomic_store_explicit(&xsleep_until, wake, memory_order_relaxed);
		/* Pairs with the fence of gr_sysmon_sysret and with gr_sysmon_owed's caller. */
		atomic_thread_fence(memory_order_seq_cst);
		/* Work that appeared meanwhile and wants a shorter tick: look again now. */
		int64_t limit = INT64_MAX;
		if (atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed))
			limit = now + SYSRET_TICK_NS;
		if (wake_owed() && limit > now + OWED_TICK_NS)
			limit = now + OWED_TICK_NS;
		if (wake <= limit)
			gr_futex_wait(&xkick, 0, wake);
		bool kicked = atomic_exchange_explicit(&xkick, 0, memory_order_relaxed);
		now = gr_nanotime();
		owed = owed_wakes_check(now);
		if (!kicked && now < round_due &&
		    !atomic_load_explicit(&gr_sched.xnsysret, memory_order_relaxed))
			continue;
		round_due = 0;
		next_preempt = INT64_MAX;
		gr_stack_scavenge(now);
		int n = retake(now, &next_preempt);
		/* Nobody polled for 10 ms.  As in Go, what the poll finds does not reset the
		 * back-off (only retakes do): it did, and a server whose Ps rarely ran dry had
		 * sysmon's 20 us tick back after each of these polls (with the thinner looks
		 * below, an echo server's sysmon went from about 2,300 rounds a second to
		 * about 1,400, each a futex wake-up). */
		gr_netpoll_sysmon(now);
		gr_sig_sysmon(now); /* signals that every M off its G left pending */
		if (n) {
			idle = 0;
			delay = TICK_MIN_NS;
		} else if (++idle > IDLE_ROUNDS && delay < TICK_MAX_NS) {
			delay *= 2;
		}
	}
	return NULL;
}

/* On the M's own TCB (gr_tls_on_m), like an M's creation: the creating G's signal mask
 * and sched parameters are not glibc's to copy.  Every signal blocked from birth: sysmon
 * never runs a program's handler. */
static void create_on_m(void *arg)
{
	int *rc = arg;
	pthread_attr_t attr;
	sigset_t all;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	sigfillset(&all);
	*rc = pthread_attr_setsigmask_np(&attr, &all);
	if (*rc == 0)
		*rc = gr_real.pthread_create(&t, &attr, sysmon_main, NULL);
	pthread_attr_destroy(&attr);
}

static int start_locked(void)
{
	free(watch); /* a fork child's copy of its parent's */
	watch = calloc(gr_sched.nprocs, sizeof(*watch));
	if (!watch)
		return ENOMEM;
	if (gr_preempt_init() != 0)
		gr_real_msg("green: cannot install the preemption signal handler; ",
			    "preemption is off", "\n");
	/* glibc's pthread_create switches libc to multi-threaded mode (stdio locks,
	 * __libc_single_threaded) and marks its caller's TCB, here the M's: the main G's TCB
	 * is marked here.  Every other G's TCB is green's and marked from birth (tls.c). */
	GR_PT(gr_glibc.main_tcb, GR_PT_MULTIPLE_THREADS, int) = 1;
	int rc;
	atomic_store_explicit(&xgo, 0, memory_order_relaxed);
	gr_tls_on_m(create_on_m, &rc);
	if (rc)
		return rc;
	/* That was the process's first pthread_create, whose deferred initialisation in glibc
	 * installed glibc's handlers over green's; sysmon, which may kick, waits for them. */
	if (gr_sig_handlers_install() != 0)
		gr_real_msg("green: cannot install the SIGCANCEL handler", "", "\n");
	atomic_store_explicit(&xgo, 1, memory_order_release);
	gr_futex_wake(&xgo, 1);
	return 0;
}

int gr_sysmon_ensure(void)
{
	if (atomic_load_explicit(&xrunning, memory_order_acquire))
		return 0;
	gr_lock(&start_lock);
	int rc = 0;
	if (!atomic_load_explicit(&xrunning, memory_order_relaxed)) {
		rc = start_locked();
		if (rc == 0)
			atomic_store_explicit(&xrunning, true, memory_order_release);
	}
	gr_unlock(&start_lock);
	return rc;
}

void gr_sysmon_fork_child(void)
{
	start_lock = (struct gr_lock)GR_LOCK_INIT;
	atomic_store_explicit(&xrunning, false, memory_order_relaxed);
}

/* GREEN_SYSMON_STATS=1: print the counters at exit (a stopgap until GREEN_SCHEDTRACE). */
__attribute__((destructor)) static void sysmon_stats_dump(void)
{
	char buf[512];
	struct gr_sysmon_stats *s = &gr_sysmon_stats;

	if (!getenv("GREEN_SYSMON_STATS"))
		return;
	snprintf(buf, sizeof(buf),
		 "green: sysmon: syscalls=%lu lost_p=%lu retakes=%lu syscall_takes=%lu handoffs=%lu "
		 "revocations=%lu revoked_returns=%lu pless_runs=%lu pless_preempts=%lu "
		 "preempt_requests=%lu preemptions=%lu preempt_unsafe=%lu owed_wakes=%lu "
		 "locked_waits=%lu\n",
		 (unsigned long)s->xsyscalls, (unsigned long)s->xsyscall_lost_p,
		 (unsigned long)s->xretakes, (unsigned long)s->xsyscall_takes,
		 (unsigned long)s->xhandoffs,
		 (unsigned long)s->xrevocations, (unsigned long)s->xrevoked_returns,
		 (unsigned long)s->xpless_runs, (unsigned long)s->xpless_preempts,
		 (unsigned long)s->xpreempt_requests, (unsigned long)s->xpreemptions,
		 (unsigned long)s->xpreempt_unsafe, (unsigned long)s->xowed_wakes,
		 (unsigned long)s->xlocked_waits);
	gr_real_msg(buf, NULL, NULL);
}
