/*
 * Asynchronous preemption (Go: preemptM, doSigPreempt, isAsyncSafePoint, asyncPreempt).
 *
 * A G that computes without calling into green would keep its P forever.  sysmon notices
 * a P whose time slice (schedtick) has lasted 10 ms while other work waits, records the
 * request in the M (mp->xpreempt = tick + 1) and sends the M's kernel thread the
 * preemption signal (SIGURG, as Go; GREEN_PREEMPT_SIGNAL overrides, GREEN_PREEMPT=0
 * turns preemption off).  The handler runs on the interrupted G's TCB, on the M's
 * alternate signal stack (SA_ONSTACK; altstack.c).  It does not yield there: a handler
 * that switched stacks would leave the kernel's signal frame and the signal mask behind.
 * Like Go, it checks that the G stopped at a safe point and then rewrites the signal
 * context so that sigreturn "calls" the assembly stub
 * (arch/x86_64/preempt.S), which saves every register and the full xsave state, yields
 * through gr_preempt_yield, and on resumption restores everything and jumps back.
 *
 * Safe point: the interrupted PC and every frame above it belong to the program.  Code in
 * libc (malloc, stdio: their locks are glibc's own, invisible to green), ld.so (the loader
 * lock), green itself (scheduler state) or the unwinder is never preempted.  The PC is
 * checked first against a table of the executable ranges of those objects, which sysmon
 * keeps up to date with dl_iterate_phdr (the handler itself calls nothing that takes the
 * loader lock); then libunwind walks the frames from the signal context.  Two tails of
 * the chain are allowed because every G has them: a green G starts in g_main and
 * gr_ctx_entry (green), the main G in __libc_start_call_main and __libc_start_main (libc)
 * called from _start.  A rejected request is simply retried by sysmon 1 ms later.
 *
 * The program's own handler for the signal keeps working: sigaction on that signal is
 * routed here (gr_preempt_sigaction), which records the program's handler while green's
 * stays installed; a signal that green did not request (mp->xpreempt was 0) is passed to
 * the program's handler, or dropped when that is SIG_DFL or SIG_IGN (SIGURG's default
 * action is to ignore it).  Limitation: a program SIGURG that the kernel merges with a
 * pending preemption signal is lost (Go's programs see the opposite: spurious SIGURGs).
 *
 * Rejected: yielding inside the handler (the kernel's signal frame and the blocked mask
 * would travel with the G; a nested signal on the next G's stack would unwind wrongly);
 * preempting only at interposed calls (CPU-bound loops never make one); a timer signal per
 * M (setitimer/timer_create with SIGEV_THREAD_ID): sysmon already watches every P and
 * signals only the Ms whose slice is over, as Go does.
 */
#define UNW_LOCAL_ONLY
#include <cpuid.h>
#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "fd.h"
#include "preempt.h"
#include "proc.h"
#include "real.h"
#include "runtime.h"
#include "sig.h"
#include "sysmon.h"
#include "tls.h"

#define RED_ZONE 128
#define MAX_FRAMES 256
/* Room for the handler's unwinding: the handler runs on the M's alternate stack
 * (altstack.c), or on the G's below its sp where the M could not get one; the G's stack
 * also holds the stub's save area. */
#define STACK_NEEDED (32 * 1024)
_Static_assert(GR_ALTSTACK_SIZE >= 2 * STACK_NEEDED, "the handler and its signal frame fit");

uint32_t gr_preempt_xsave_size;
bool gr_preempt_use_xsave;

static int preempt_sig;	 /* 0: preemption off */
/* The unwinder's state (see gr_preempt_prepare): READY once it may be used. */
enum { UNWINDER_NONE, UNWINDER_PREPARING, UNWINDER_READY, UNWINDER_LOST };
static _Atomic int xunwinder;
static pid_t self_pid;

/* The program's disposition of preempt_sig.  Written by gr_preempt_sigaction under
 * proglock; read by the handler without it (a handler racing a sigaction call may see
 * either disposition, as natively). */
static struct sigaction prog_act;
static struct gr_lock proglock;

/* Code ranges that are never preempted.  Published by sysmon (release), read by the
 * handler (acquire).  An old table is never freed: a handler may still be reading it. */
struct range {
	uintptr_t lo, hi;
	unsigned char class;
};
struct rangeset {
	unsigned long long adds, subs;
	int n;
	struct range r[];
};
enum { CODE_PROGRAM, CODE_GREEN, CODE_SYSTEM };
static struct rangeset *_Atomic xranges;

/* ---- configuration ----------------------------------------------------------------- */

static int parse_int(const char *s, int lo, int hi, int def, const char *name)
{
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi) {
		gr_real_msg("green: bad ", name, " value; using the default\n");
		return def;
	}
	return (int)v;
}

bool gr_preempt_enabled(void)
{
	return preempt_sig != 0;
}

int gr_preempt_signal(void)
{
	return preempt_sig;
}

static void xsave_measure(void)
{
	unsigned a, b, c, d;

	gr_preempt_use_xsave = false;
	gr_preempt_xsave_size = 512;
	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE) || __get_cpuid_max(0, NULL) < 0xd)
		return;
	__cpuid_count(0xd, 0, a, b, c, d);
	if (b < 576)
		return;
	gr_preempt_use_xsave = true;
	gr_preempt_xsave_size = (b + 63) & ~63u;
}

/* ---- the table of code that is never preempted -------------------------------------- */

static bool name_is(const char *path, const char *prefix)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, prefix, strlen(prefix)) == 0;
}

static unsigned char classify_object(const struct dl_phdr_info *info)
{
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	uintptr_t self = (uintptr_t)(void *)gr_preempt_stub;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
			return CODE_GREEN;
	}
	/* The unwinder (libunwind, libgcc_s), the loader, libc and the vDSO: their code runs
	 * under locks green cannot see, or is the code doing the check. */
	static const char *const system[] = {"libc.so", "ld-linux", "libunwind", "libgcc_s",
					     "linux-vdso", "libpthread.so", "libdl.so",
					     "librt.so"};
	for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (name_is(name, system[i]))
			return CODE_SYSTEM;
	return CODE_PROGRAM;
}

struct build {
	struct rangeset *rs;
	int cap;
	bool stale;
};

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build *b = arg;
	struct rangeset *cur = atomic_load_explicit(&xranges, memory_order_relaxed);

	(void)size;
	if (!b->stale) {
		/* The first object carries the load/unload counts: stop when unchanged. */
		b->stale = !cur || cur->adds != info->dlpi_adds || cur->subs != info->dlpi_subs;
		if (!b->stale)
			return 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			b->cap++;
	return 0;
}

static int fill_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build *b = arg;
	unsigned char cls = classify_object(info);

	(void)size;
	b->rs->adds = info->dlpi_adds;
	b->rs->subs = info->dlpi_subs;
	if (cls == CODE_PROGRAM)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && b->rs->n < b->cap; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		struct range *r = &b->rs->r[b->rs->n++];
		r->lo = info->dlpi_addr + ph->p_vaddr;
		r->hi = r->lo + ph->p_memsz;
		r->class = cls;
	}
	return 0;
}

void gr_preempt_refresh(void)
{
	struct build b = {0};

	dl_iterate_phdr(count_cb, &b);
	if (!b.stale)
		return;
	b.rs = calloc(1, sizeof(*b.rs) + (size_t)b.cap * sizeof(struct range));
	if (!b.rs)
		return;
	dl_iterate_phdr(fill_cb, &b);
	atomic_store_explicit(&xranges, b.rs, memory_order_release);
}

/* Async-signal-safe: reads only the published table. */
static unsigned char classify_pc(const struct rangeset *rs, uintptr_t pc)
{
	for (int i = 0; i < rs->n; i++)
		if (pc >= rs->r[i].lo && pc < rs->r[i].hi)
			return rs->r[i].class;
	return CODE_PROGRAM;
}

/* Classifies the frames of the interrupted context uc into cls, innermost first.
 * Returns their count, or 0 when the walk failed. */
static int classify_frames(ucontext_t *uc, const struct rangeset *rs, unsigned char *cls)
{
	unw_cursor_t cur;
	int n = 0;

	if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return 0;
	cls[n++] = CODE_PROGRAM;
	for (;;) {
		int r = unw_step(&cur);
		if (r == 0)
			return n;
		if (r < 0 || n == MAX_FRAMES)
			return 0;
		unw_word_t ip;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0)
			return 0;
		if (ip == 0)
			return n;
		/* A return address: the call is the byte before it. */
		cls[n++] = classify_pc(rs, (uintptr_t)ip - 1);
	}
}

/* True when the G interrupted with context uc may yield there (Go: isAsyncSafePoint,
 * extended to the whole stack because C libraries hold locks green cannot see).
 *
 * The walk runs as the G, on its TCB: the unwinder takes the loader's lock
 * (dl_iterate_phdr), which the interrupted G may hold (Boehm GC computes in a
 * dl_iterate_phdr callback, the program's code), and that lock is recursive for its holder
 * only; walked on the M's TCB, it waited for the G it had interrupted.  libunwind blocks
 * every signal around its own locks with sigprocmask, which changes the G's mask; restoring
 * it ran the program's handlers for the G's pending signals here, on the M's alternate
 * stack (Boehm GC's stop handler recorded that stack as the thread's and scanned from it),
 * until gp->unwinding made gr_sig_deliver leave them pending. */
static bool safe_point(struct gr_g *gp, ucontext_t *uc)
{
	const struct rangeset *rs = atomic_load_explicit(&xranges, memory_order_acquire);
	unsigned char cls[MAX_FRAMES];

	if (!rs || atomic_load_explicit(&xunwinder, memory_order_acquire) != UNWINDER_READY)
		return false;
	if (classify_pc(rs, (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]) != CODE_PROGRAM)
		return false;
	/* The unwinder and then the stub's save area need room on the G's stack (a program
	 * may give a thread as little as PTHREAD_STACK_MIN). */
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	if (gp->stack_lo && sp - (uintptr_t)gp->stack_lo < STACK_NEEDED + gr_preempt_xsave_size)
		return false;
	gp->unwinding = true;
	int n = classify_frames(uc, rs, cls);
	gp->unwinding = false;
	if (!n)
		return false;
	/* The tails every G has (see the top of the file). */
	if (gp->is_main) {
		if (n > 1 && cls[n - 1] == CODE_PROGRAM)
			n--; /* _start */
		for (int k = 0; k < 2 && n > 1 && cls[n - 1] == CODE_SYSTEM; k++)
			n--;
	} else {
		for (int k = 0; k < 2 && n > 1 && cls[n - 1] == CODE_GREEN; k++)
			n--;
	}
	for (int i = 0; i < n; i++)
		if (cls[i] != CODE_PROGRAM)
			return false;
	return true;
}

/*
 * libunwind's caches are guarded by a pthread mutex, which green interposes: a contended
 * one would park the G inside the signal handler, with libunwind's all-signals mask still
 * set, and leave that mask on whichever M ran next (seen here: an M that never took
 * SIGURG again, one G spinning 2 s unpreempted).  So: no cache, and its one-time
 * initialisation (also locked) done in gr_preempt_prepare, outside any handler.  One
 * mutex remains: libunwind's memory pool, taken at every step.  When two handlers meet
 * there (once in a few runs of syscall_fsync_mix), one parks inside its handler, on its
 * M's alternate stack: the G is then locked to that M until it runs again (proc.c,
 * lock_to_m), and the all-signals mask is the G's own (gr_sig_setmask), so it travels
 * with the G.  That initialisation opens a pipe (libunwind checks addresses by
 * writing them to it), which becomes a runtime descriptor (fd.h); it is made only when
 * the program makes its first thread, since a single G is never preempted.  Should the
 * program dup2 onto one of its numbers, the unwinder is given up (it would write to the
 * program's file) and preemption with it.  It runs on the M's own TCB (gr_tls_on_m):
 * libunwind blocks every signal around its locks with sigprocmask, which on the G would
 * be the program's mask changing (and would widen every idle M's mask for good: a
 * sigprocmask system call at every switch after), and it sets errno.
 */
static void unwinder_claimed(int fd)
{
	(void)fd;
	atomic_store_explicit(&xunwinder, UNWINDER_LOST, memory_order_relaxed);
}

static void unwinder_init_on_m(void *arg)
{
	unw_context_t uc;
	unw_cursor_t cur;

	(void)arg;
	gr_fd_capture_begin(unwinder_claimed);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_NONE);
	if (unw_getcontext(&uc) == 0 && unw_init_local(&cur, &uc) == 0)
		unw_step(&cur);
	gr_fd_capture_end();
}

void gr_preempt_prepare(void)
{
	int st = UNWINDER_NONE;

	if (!preempt_sig || atomic_load_explicit(&xunwinder, memory_order_relaxed) != st ||
	    !atomic_compare_exchange_strong_explicit(&xunwinder, &st, UNWINDER_PREPARING,
						     memory_order_relaxed, memory_order_relaxed))
		return;
	gr_tls_on_m(unwinder_init_on_m, NULL);
	st = UNWINDER_PREPARING;
	/* Release: the unwinder's initialisation is complete before a handler uses it;
	 * pairs with the acquire in safe_point. */
	atomic_compare_exchange_strong_explicit(&xunwinder, &st, UNWINDER_READY,
						memory_order_release, memory_order_relaxed);
}

/* Makes sigreturn enter gr_preempt_stub, which returns to the interrupted PC and stack
 * (the layout is documented in preempt.S). */
static void redirect(ucontext_t *uc)
{
	greg_t *r = uc->uc_mcontext.gregs;
	uintptr_t sp = ((uintptr_t)r[REG_RSP] - RED_ZONE) & ~(uintptr_t)15;

	sp -= 16;
	((uint64_t *)sp)[0] = (uint64_t)r[REG_RIP];
	((uint64_t *)sp)[1] = (uint64_t)r[REG_RSP];
	r[REG_RSP] = (greg_t)sp;
	r[REG_RIP] = (greg_t)(uintptr_t)gr_preempt_stub;
}

/* Runs the program's handler for a signal green did not send.  Returns false when there
 * is none, and the signal is dropped. */
static bool chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction act = prog_act;

	if (act.sa_flags & SA_SIGINFO) {
		if (!act.sa_sigaction)
			return false;
		act.sa_sigaction(sig, si, uc);
		return true;
	}
	if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN)
		return false; /* SIGURG's default is to ignore; other signals: see gr_preempt_init */
	if (act.sa_flags & SA_RESETHAND)
		prog_act.sa_handler = SIG_DFL;
	act.sa_handler(sig);
	return true;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	/* errno is the interrupted G's (per-G TLS); libunwind may set it. */
	int saved_errno = errno;
	struct gr_g *gp = gr_getg();
	struct gr_m *mp = gp && gp->magic == GR_G_MAGIC && !gp->foreign ? gp->m : NULL;
	uint32_t want = mp ? atomic_exchange_explicit(&mp->xpreempt, 0, memory_order_acquire) : 0;
	uint32_t pless =
		mp ? atomic_exchange_explicit(&mp->xpreempt_pless, 0, memory_order_acquire) : 0;

	if (!want && !pless) {
		if (!chain(sig, si, ucv) && mp)
			gr_sig_quiet(mp);
		errno = saved_errno;
		return;
	}
	gr_sig_quiet(mp);
	struct gr_p *pp = mp->p;
	uint32_t from = pless ? GR_PIN_REVOKED : GR_PIN_USER;
	/* Pinned while the handler runs: no revocation under it, and the interposed calls the
	 * unwinder makes (write, to probe memory) neither hand the P off nor end a P-less
	 * run (gr_entersyscall). */
	if (gr_g_schedulable(gp) && mp->curg == gp &&
	    (pless ? mp->pless && !mp->pless_call : pp && pp->schedtick + 1 == want) &&
	    atomic_compare_exchange_strong_explicit(&mp->xpin, &from, GR_PIN_PINNED,
						    memory_order_acquire, memory_order_relaxed)) {
		if (safe_point(gp, ucv)) {
			redirect(ucv);
		} else {
			gr_stat_inc(&gr_sysmon_stats.xpreempt_unsafe);
			gp->preempt_deferred = true;
		}
		atomic_store_explicit(&mp->xpin, pless ? GR_PIN_REVOKED : GR_PIN_USER,
				      memory_order_release);
	}
	errno = saved_errno;
}

/* ---- requests (sysmon) ------------------------------------------------------------- */

/* Release: pairs with the handler's acquire exchange.  A request still unconsumed means a
 * signal is on its way (or pending while the M blocks it): that signal will find this
 * request, and a second one would reach the program's own handler. */
static void request(struct gr_m *mp, _Atomic uint32_t *slot, uint32_t val)
{
	if (atomic_exchange_explicit(slot, val, memory_order_acq_rel) != 0)
		return;
	gr_stat_inc(&gr_sysmon_stats.xpreempt_requests);
	gr_syscall(SYS_tgkill, self_pid, mp->ktid, preempt_sig);
}

void gr_preempt_request(struct gr_m *mp, uint32_t tick)
{
	if (preempt_sig && tick + 1 != 0)
		request(mp, &mp->xpreempt, tick + 1);
}

void gr_preempt_request_pless(struct gr_m *mp)
{
	if (preempt_sig)
		request(mp, &mp->xpreempt_pless, 1);
}

bool gr_preempt_absorb(struct gr_m *mp)
{
	uint32_t slice = atomic_exchange_explicit(&mp->xpreempt, 0, memory_order_acquire);
	uint32_t pless = atomic_exchange_explicit(&mp->xpreempt_pless, 0, memory_order_acquire);

	return slice || pless;
}

/* A G that waited in a run queue may have been sent signals meanwhile: nobody kicked it
 * (it was not running), so it runs their handlers as it resumes, as gr_yield does.  A
 * thread spinning on a flag its handler sets hung at GREEN_MAXPROCS=1 without this: the
 * sender only ever ran while the spinner was preempted. */
void gr_preempt_yield(void)
{
	struct gr_g *gp = gr_getg();

	gr_stat_inc(&gr_sysmon_stats.xpreemptions);
	gp->preempt_deferred = false;
	gr_proc_preempt();
	gr_sig_resume(gp);
}

void gr_preempt_deferred(struct gr_g *gp)
{
	gp->preempt_deferred = false;
	if (!gr_g_schedulable(gp) || gp->m->xpin != GR_PIN_USER)
		return;
	gr_stat_inc(&gr_sysmon_stats.xpreemptions);
	gr_proc_preempt();
	gr_sig_resume(gp);
}

/* ---- the program's handler --------------------------------------------------------- */

bool gr_preempt_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!preempt_sig || sig != preempt_sig)
		return false;
	gr_lock(&proglock);
	if (old)
		*old = prog_act;
	if (act)
		prog_act = *act;
	gr_unlock(&proglock);
	return true;
}

/* Requires proglock. */
static bool program_handles_locked(void)
{
	if (prog_act.sa_flags & SA_SIGINFO)
		return prog_act.sa_sigaction != NULL;
	return prog_act.sa_handler != SIG_DFL && prog_act.sa_handler != SIG_IGN;
}

uint64_t gr_preempt_blockable(void)
{
	if (!preempt_sig)
		return 0;
	gr_lock(&proglock);
	bool handles = program_handles_locked();
	gr_unlock(&proglock);
	return handles ? 0 : GR_SIGBIT(preempt_sig);
}

/* The signal GREEN_PREEMPT and GREEN_PREEMPT_SIGNAL ask for (0: preemption off).  Written
 * once, at start-up. */
static int configured_sig;

void gr_preempt_configure(void)
{
	configured_sig = 0;
	if (parse_int(getenv("GREEN_PREEMPT"), 0, 1, 1, "GREEN_PREEMPT") == 0)
		return;
	int sig = parse_int(getenv("GREEN_PREEMPT_SIGNAL"), 1, SIGRTMAX, SIGURG,
			    "GREEN_PREEMPT_SIGNAL");
	if (sig == SIGKILL || sig == SIGSTOP || (sig >= 32 && sig < SIGRTMIN)) {
		gr_real_msg("green: bad GREEN_PREEMPT_SIGNAL value; using the default\n", NULL,
			    NULL);
		sig = SIGURG;
	}
	configured_sig = sig;
}

int gr_preempt_init(void)
{
	struct sigaction sa;
	int sig = configured_sig;

	self_pid = getpid();
	if (!sig)
		return 0;
	xsave_measure();
	gr_preempt_refresh();
	/* A fork child whose parent was preparing the unwinder in another thread. */
	int st = UNWINDER_PREPARING;
	atomic_compare_exchange_strong_explicit(&xunwinder, &st, UNWINDER_NONE,
						memory_order_relaxed, memory_order_relaxed);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	struct sigaction old;
	if (gr_real_sys()->sigaction(sig, &sa, &old) != 0)
		return -EINVAL;
	/* Every other signal waits until the handler returns: one nested in it would run on
	 * the M's alternate stack, and so would the program's handler that green delivers
	 * from there (SIGCANCEL's kick).  Boehm GC's suspend handler records the thread's
	 * stack pointer: it recorded one on that stack, and the collector scanned from there
	 * to the G's stack and into a guard page (gc_boehm crashed in about 1 run of 150 at
	 * GREEN_MAXPROCS=2). */
	if (gr_sig_handler_blocks_all(sig) != 0)
		return -EINVAL;
	if (old.sa_sigaction != handler) /* else started again (a fork child): keep prog_act */
		prog_act = old;
	preempt_sig = sig;
	gr_sig_reserve(sig); /* a G that blocks every signal must not block preemption */
	return 0;
}
