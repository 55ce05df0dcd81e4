/*
 * thread_api - pthread API semantics and misuse, with glibc's exact return values.
 *
 * Usage: thread_api
 *
 * Prints one `name=value` line per check, in a fixed order, with error numbers by name
 * (strerrorname_np: "EINVAL", "0" for success) and facts as yes/no: never an address, a
 * time or a tid. The preload test compares the whole stdout of a native run with a run
 * under green, so every line states what glibc does natively. Threads that must still be
 * running when a check runs wait on a gate (mutex + condvar) that main opens afterwards;
 * nothing relies on a sleep to order events.
 *
 * The last check is pthread_exit() from main while another thread still runs: that
 * thread joins the main thread, prints `after_main_exit=yes`, then returns, and the
 * process exits 0 when it ends. The final line is `END=ok`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
	if (e == 0)
		return "0";
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static const char *yesno(int b)
{
	return b ? "yes" : "no";
}

#define P(name, fmt, ...) printf("%s=" fmt "\n", name, __VA_ARGS__)
#define PE(name, rc) P(name, "%s", ename(rc))

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timespec in_future(clockid_t clk, long ms)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* A gate: threads wait until main opens it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
	int waiting;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}

static void gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->waiting++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* Waits until n threads wait at the gate. */
static void gate_await(struct gate *g, int n)
{
	pthread_mutex_lock(&g->mu);
	while (g->waiting < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void *wait_gate(void *arg)
{
	gate_wait(arg);
	return (void *)7;
}

/* ---- join and detach misuse ---- */

static void *join_self_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_join(pthread_self(), NULL);
}

static void check_join_detach(void)
{
	PE("join_self_main", pthread_join(pthread_self(), NULL));
	pthread_t t;
	void *ret;
	pthread_create(&t, NULL, join_self_thread, NULL);
	pthread_join(t, &ret);
	PE("join_self_thread", (int)(intptr_t)ret);

	struct gate g = GATE_INIT;
	pthread_create(&t, NULL, wait_gate, &g);
	gate_await(&g, 1);
	PE("tryjoin_running", pthread_tryjoin_np(t, NULL));
	struct timespec ts = in_future(CLOCK_REALTIME, 50);
	double t0 = mono_s();
	PE("timedjoin_running", pthread_timedjoin_np(t, NULL, &ts));
	P("timedjoin_waited_40ms", "%s", yesno(mono_s() - t0 >= 0.040));
	ts = in_future(CLOCK_MONOTONIC, 50);
	t0 = mono_s();
	PE("clockjoin_monotonic_running", pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &ts));
	P("clockjoin_waited_40ms", "%s", yesno(mono_s() - t0 >= 0.040));
	ts = in_future(CLOCK_REALTIME, 50);
	PE("clockjoin_realtime_running", pthread_clockjoin_np(t, NULL, CLOCK_REALTIME, &ts));
	ts = in_future(CLOCK_MONOTONIC, 50);
	PE("clockjoin_bad_clock", pthread_clockjoin_np(t, NULL, CLOCK_PROCESS_CPUTIME_ID, &ts));
	/* (no check of tv_nsec >= 1e9: glibc 2.36 then spins in pthread_timedjoin_np forever) */
	PE("kill0_running", pthread_kill(t, 0));
	gate_open(&g);
	ts = in_future(CLOCK_MONOTONIC, 10000);
	ret = NULL;
	PE("clockjoin_finishing", pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &ts));
	P("clockjoin_value", "%ld", (long)(intptr_t)ret);

	static struct gate g2 = GATE_INIT;	/* static: detached threads outlive this frame */
	pthread_create(&t, NULL, wait_gate, &g2);
	gate_await(&g2, 1);
	PE("detach_running", pthread_detach(t));
	PE("detach_twice", pthread_detach(t));
	PE("join_detached", pthread_join(t, NULL));
	gate_open(&g2);

	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	static struct gate g3 = GATE_INIT;
	pthread_create(&t, &a, wait_gate, &g3);
	gate_await(&g3, 1);
	PE("join_created_detached", pthread_join(t, NULL));
	PE("detach_created_detached", pthread_detach(t));
	pthread_attr_destroy(&a);
	gate_open(&g3);
}

/* ---- attributes ---- */

static void check_attr(void)
{
	pthread_attr_t a;
	int v, rc;
	size_t sz;
	struct sched_param sp;
	PE("attr_init", pthread_attr_init(&a));

	pthread_attr_getdetachstate(&a, &v);
	P("attr_default_detachstate", "%s", v == PTHREAD_CREATE_JOINABLE ? "JOINABLE" : "DETACHED");
	pthread_attr_getguardsize(&a, &sz);
	P("attr_default_guardsize_is_page", "%s", yesno(sz == (size_t)sysconf(_SC_PAGESIZE)));
	pthread_attr_getinheritsched(&a, &v);
	P("attr_default_inheritsched", "%s", v == PTHREAD_INHERIT_SCHED ? "INHERIT" : "EXPLICIT");
	pthread_attr_getschedpolicy(&a, &v);
	P("attr_default_policy", "%d", v);
	pthread_attr_getschedparam(&a, &sp);
	P("attr_default_priority", "%d", sp.sched_priority);
	pthread_attr_getscope(&a, &v);
	P("attr_default_scope", "%s", v == PTHREAD_SCOPE_SYSTEM ? "SYSTEM" : "PROCESS");
	rc = pthread_attr_getstacksize(&a, &sz);
	P("attr_default_stacksize", "%s %zu", ename(rc), sz);

	PE("attr_setdetachstate_detached",
	   pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
	pthread_attr_getdetachstate(&a, &v);
	P("attr_detachstate_roundtrip", "%s", yesno(v == PTHREAD_CREATE_DETACHED));
	PE("attr_setdetachstate_invalid", pthread_attr_setdetachstate(&a, 99));
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE);

	PE("attr_setguardsize_3pages", pthread_attr_setguardsize(&a, 3 * 4096));
	pthread_attr_getguardsize(&a, &sz);
	P("attr_guardsize_roundtrip", "%zu", sz);

	PE("attr_setinheritsched_explicit",
	   pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED));
	pthread_attr_getinheritsched(&a, &v);
	P("attr_inheritsched_roundtrip", "%s", yesno(v == PTHREAD_EXPLICIT_SCHED));
	PE("attr_setinheritsched_invalid", pthread_attr_setinheritsched(&a, 99));
	pthread_attr_setinheritsched(&a, PTHREAD_INHERIT_SCHED);

	PE("attr_setschedpolicy_fifo", pthread_attr_setschedpolicy(&a, SCHED_FIFO));
	pthread_attr_getschedpolicy(&a, &v);
	P("attr_schedpolicy_roundtrip", "%s", yesno(v == SCHED_FIFO));
	PE("attr_setschedpolicy_invalid", pthread_attr_setschedpolicy(&a, 99));
	PE("attr_setschedpolicy_other", pthread_attr_setschedpolicy(&a, SCHED_OTHER));
	sp.sched_priority = 0;
	PE("attr_setschedparam_0", pthread_attr_setschedparam(&a, &sp));
	pthread_attr_getschedparam(&a, &sp);
	P("attr_schedparam_roundtrip", "%d", sp.sched_priority);

	PE("attr_setscope_system", pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM));
	PE("attr_setscope_process", pthread_attr_setscope(&a, PTHREAD_SCOPE_PROCESS));
	PE("attr_setscope_invalid", pthread_attr_setscope(&a, 99));

	PE("attr_setstacksize_below_min", pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1));
	PE("attr_setstacksize_min", pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN));
	PE("attr_setstacksize_1m", pthread_attr_setstacksize(&a, 1 << 20));
	pthread_attr_getstacksize(&a, &sz);
	P("attr_stacksize_roundtrip", "%zu", sz);

	static char stackbuf[256 << 10] __attribute__((aligned(4096)));
	PE("attr_setstack_below_min", pthread_attr_setstack(&a, stackbuf, PTHREAD_STACK_MIN - 1));
	PE("attr_setstack", pthread_attr_setstack(&a, stackbuf, sizeof stackbuf));
	void *addr = NULL;
	pthread_attr_getstack(&a, &addr, &sz);
	P("attr_stack_roundtrip", "%s", yesno(addr == stackbuf && sz == sizeof stackbuf));
	pthread_attr_getstacksize(&a, &sz);
	P("attr_stack_stacksize", "%zu", sz);

	cpu_set_t cs, cs2;
	CPU_ZERO(&cs);
	CPU_SET(0, &cs);
	PE("attr_setaffinity", pthread_attr_setaffinity_np(&a, sizeof cs, &cs));
	CPU_ZERO(&cs2);
	PE("attr_getaffinity", pthread_attr_getaffinity_np(&a, sizeof cs2, &cs2));
	P("attr_affinity_roundtrip", "%s", yesno(CPU_EQUAL(&cs, &cs2)));

	sigset_t ss, ss2;
	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR1);
	PE("attr_setsigmask", pthread_attr_setsigmask_np(&a, &ss));
	sigemptyset(&ss2);
	PE("attr_getsigmask", pthread_attr_getsigmask_np(&a, &ss2));
	P("attr_sigmask_roundtrip", "%s",
	  yesno(sigismember(&ss2, SIGUSR1) && !sigismember(&ss2, SIGUSR2)));
	PE("attr_destroy", pthread_attr_destroy(&a));
}

/* ---- getattr_np, setstack, default attributes ---- */

struct stackinfo {
	int rc;
	int detach;
	int local_inside;
	size_t size;
	void *addr;
	size_t guard;
	struct gate *g;
};

static void fill_stackinfo(struct stackinfo *si, pthread_t t)
{
	pthread_attr_t a;
	int local = 0;
	si->rc = pthread_getattr_np(t, &a);
	if (si->rc)
		return;
	pthread_attr_getstack(&a, &si->addr, &si->size);
	pthread_attr_getdetachstate(&a, &si->detach);
	pthread_attr_getguardsize(&a, &si->guard);
	si->local_inside = (char *)&local >= (char *)si->addr &&
			   (char *)&local < (char *)si->addr + si->size;
	pthread_attr_destroy(&a);
}

static void *stack_thread(void *arg)
{
	struct stackinfo *si = arg;
	fill_stackinfo(si, pthread_self());
	if (si->g)
		gate_wait(si->g);
	return NULL;
}

static void check_stacks(void)
{
	pthread_attr_t a;
	pthread_t t;
	struct stackinfo si = {0};

	fill_stackinfo(&si, pthread_self());
	P("getattr_np_main", "%s", ename(si.rc));
	P("getattr_np_main_local_inside", "%s", yesno(si.local_inside));

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1 << 20);
	pthread_attr_setguardsize(&a, 2 * 4096);
	struct gate g = GATE_INIT;
	si = (struct stackinfo){.g = &g};
	pthread_create(&t, &a, stack_thread, &si);
	gate_await(&g, 1);
	P("getattr_np_self", "%s", ename(si.rc));
	P("getattr_np_self_size_ge_1m", "%s", yesno(si.size >= (1 << 20)));
	P("getattr_np_self_size_le_2m", "%s", yesno(si.size <= (2 << 20)));
	P("getattr_np_self_local_inside", "%s", yesno(si.local_inside));
	P("getattr_np_self_guard", "%zu", si.guard);
	P("getattr_np_self_joinable", "%s", yesno(si.detach == PTHREAD_CREATE_JOINABLE));
	/* the same thread seen from main, while it waits */
	struct stackinfo other = {0};
	fill_stackinfo(&other, t);
	P("getattr_np_other", "%s", ename(other.rc));
	P("getattr_np_other_same_stack", "%s",
	  yesno(other.addr == si.addr && other.size == si.size));
	gate_open(&g);
	pthread_join(t, NULL);

	/* a detached thread reports DETACHED */
	static struct gate gd = GATE_INIT;	/* static: the detached thread outlives us */
	static struct stackinfo sid;
	sid = (struct stackinfo){.g = &gd};
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, stack_thread, &sid);
	gate_await(&gd, 1);
	P("getattr_np_detached", "%s", yesno(sid.rc == 0 && sid.detach == PTHREAD_CREATE_DETACHED));
	gate_open(&gd);
	pthread_attr_destroy(&a);

	/* a user-provided stack: the thread runs on it, and getattr_np reports it exactly */
	size_t ssz = 512 << 10;
	void *buf = mmap(NULL, ssz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_init(&a);
	PE("setstack_user_buffer", pthread_attr_setstack(&a, buf, ssz));
	si = (struct stackinfo){0};
	int rc = pthread_create(&t, &a, stack_thread, &si);
	PE("setstack_create", rc);
	if (rc == 0)
		pthread_join(t, NULL);
	P("setstack_getattr", "%s", ename(si.rc));
	P("setstack_local_in_buffer", "%s",
	  yesno(si.local_inside && (char *)si.addr >= (char *)buf &&
		(char *)si.addr + si.size <= (char *)buf + ssz));
	P("setstack_reported_exactly", "%s", yesno(si.addr == buf && si.size == ssz));
	pthread_attr_destroy(&a);
	/* reuse the same user stack for a second thread once the first was joined */
	pthread_attr_init(&a);
	pthread_attr_setstack(&a, buf, ssz);
	si = (struct stackinfo){0};
	rc = pthread_create(&t, &a, stack_thread, &si);
	if (rc == 0)
		pthread_join(t, NULL);
	P("setstack_reuse", "%s", yesno(rc == 0 && si.local_inside));
	pthread_attr_destroy(&a);
	munmap(buf, ssz);

	/* default attributes */
	pthread_attr_t d0, d1;
	size_t sz0 = 0, sz1 = 0;
	PE("getattr_default_np", pthread_getattr_default_np(&d0));
	pthread_attr_getstacksize(&d0, &sz0);
	P("getattr_default_stacksize_positive", "%s", yesno(sz0 >= (size_t)PTHREAD_STACK_MIN));
	pthread_attr_init(&d1);
	pthread_attr_setstacksize(&d1, 1 << 20);
	PE("setattr_default_np_1m", pthread_setattr_default_np(&d1));
	pthread_attr_t d2;
	pthread_getattr_default_np(&d2);
	pthread_attr_getstacksize(&d2, &sz1);
	P("getattr_default_roundtrip", "%zu", sz1);
	pthread_attr_destroy(&d2);
	si = (struct stackinfo){0};
	pthread_create(&t, NULL, stack_thread, &si);
	pthread_join(t, NULL);
	P("default_1m_applies", "%s",
	  yesno(si.rc == 0 && si.size >= (1 << 20) && si.size < (2 << 20) && si.local_inside));
	static char sb[64 << 10] __attribute__((aligned(4096)));
	pthread_attr_setstack(&d1, sb, sizeof sb);
	PE("setattr_default_np_with_stack", pthread_setattr_default_np(&d1));
	PE("setattr_default_np_restore", pthread_setattr_default_np(&d0));
	pthread_attr_destroy(&d0);
	pthread_attr_destroy(&d1);
}

/* ---- names, cpu clocks, scheduling, affinity ---- */

static void *busy_then_gate(void *arg)
{
	volatile unsigned long x = 0;
	for (int i = 0; i < 2000000; i++)
		x += i;
	gate_wait(arg);
	return NULL;
}

static void check_misc(void)
{
	char name[64];
	pthread_t self = pthread_self();
	struct gate g = GATE_INIT;
	pthread_t t;
	pthread_create(&t, NULL, busy_then_gate, &g);
	gate_await(&g, 1);

	int rc = pthread_getname_np(t, name, sizeof name);
	P("getname_new_thread", "%s %s", ename(rc), rc ? "-" : name);
	PE("setname_other", pthread_setname_np(t, "other-thread"));
	rc = pthread_getname_np(t, name, sizeof name);
	P("getname_other", "%s %s", ename(rc), rc ? "-" : name);
	PE("setname_self", pthread_setname_np(self, "api-main"));
	rc = pthread_getname_np(self, name, sizeof name);
	P("getname_self", "%s %s", ename(rc), rc ? "-" : name);
	PE("setname_15_chars", pthread_setname_np(self, "abcdefghijklmno"));
	rc = pthread_getname_np(self, name, sizeof name);
	P("getname_15_chars", "%s %s", ename(rc), rc ? "-" : name);
	PE("setname_16_chars", pthread_setname_np(self, "abcdefghijklmnop"));
	rc = pthread_getname_np(self, name, sizeof name);
	P("getname_after_too_long", "%s %s", ename(rc), rc ? "-" : name);
	PE("getname_short_buffer", pthread_getname_np(self, name, 8));
	PE("getname_other_short_buffer", pthread_getname_np(t, name, 8));

	clockid_t cid;
	struct timespec ts;
	rc = pthread_getcpuclockid(self, &cid);
	PE("getcpuclockid_self", rc);
	PE("cpuclock_self_gettime", clock_gettime(cid, &ts) == 0 ? 0 : errno);
	rc = pthread_getcpuclockid(t, &cid);
	PE("getcpuclockid_other", rc);
	ts = (struct timespec){0};
	rc = clock_gettime(cid, &ts) == 0 ? 0 : errno;
	PE("cpuclock_other_gettime", rc);
	P("cpuclock_other_positive", "%s", yesno(ts.tv_sec > 0 || ts.tv_nsec > 0));

	int pol = -1;
	struct sched_param sp = {.sched_priority = 0};
	PE("setschedparam_other_0", pthread_setschedparam(self, SCHED_OTHER, &sp));
	sp.sched_priority = 99;
	PE("getschedparam", pthread_getschedparam(self, &pol, &sp));
	P("getschedparam_roundtrip", "%s %d", pol == SCHED_OTHER ? "SCHED_OTHER" : "?",
	  sp.sched_priority);
	sp.sched_priority = 5;
	PE("setschedparam_other_5", pthread_setschedparam(self, SCHED_OTHER, &sp));
	sp.sched_priority = 0;
	PE("setschedparam_thread", pthread_setschedparam(t, SCHED_OTHER, &sp));
	pol = -1;
	PE("getschedparam_thread", pthread_getschedparam(t, &pol, &sp));
	P("getschedparam_thread_policy", "%s", pol == SCHED_OTHER ? "SCHED_OTHER" : "?");
	PE("setschedprio_0", pthread_setschedprio(self, 0));

	cpu_set_t orig, now, one;
	CPU_ZERO(&orig);
	PE("getaffinity", pthread_getaffinity_np(self, sizeof orig, &orig));
	PE("setaffinity_same", pthread_setaffinity_np(self, sizeof orig, &orig));
	CPU_ZERO(&now);
	pthread_getaffinity_np(self, sizeof now, &now);
	P("affinity_roundtrip", "%s", yesno(CPU_EQUAL(&orig, &now)));
	int first = -1;
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &orig))
			first = c;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	PE("setaffinity_one_cpu", pthread_setaffinity_np(t, sizeof one, &one));
	CPU_ZERO(&now);
	PE("getaffinity_other", pthread_getaffinity_np(t, sizeof now, &now));
	P("affinity_one_cpu_roundtrip", "%s", yesno(CPU_EQUAL(&one, &now)));
	CPU_ZERO(&now);
	PE("setaffinity_empty", pthread_setaffinity_np(self, sizeof now, &now));
	PE("setaffinity_restore", pthread_setaffinity_np(t, sizeof orig, &orig));

	P("equal_self", "%d", pthread_equal(self, pthread_self()) != 0);
	P("equal_other", "%d", pthread_equal(self, t) != 0);
	P("getconcurrency_initial", "%d", pthread_getconcurrency());
	PE("setconcurrency_4", pthread_setconcurrency(4));
	P("getconcurrency_after", "%d", pthread_getconcurrency());
	PE("setconcurrency_negative", pthread_setconcurrency(-1));
	PE("setconcurrency_0", pthread_setconcurrency(0));
	PE("kill0_self", pthread_kill(self, 0));
	gate_open(&g);
	PE("join_busy", pthread_join(t, NULL));
}

/* Thread ids are never reused while a program could still hold them (the kernel cycles
 * through pid_max first): threads created one after another, each ended before the next
 * starts, report distinct syscall(SYS_gettid) ids (CPython's threading.get_native_id;
 * green once gave a recycled G's memory its old id). */
static void *report_tid(void *arg)
{
	*(long *)arg = syscall(SYS_gettid);
	return NULL;
}

static void check_thread_ids(void)
{
	enum { N = 8 };
	long ids[N + 1] = {syscall(SYS_gettid)};
	for (int i = 1; i <= N; i++) {
		pthread_t t;
		pthread_create(&t, NULL, report_tid, &ids[i]);
		pthread_join(t, NULL);
	}
	int distinct = 0;
	for (int i = 0; i <= N; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= ids[j] == ids[i];
		distinct += !seen;
	}
	P("distinct_tids_of_sequential_threads", "%d of %d", distinct, N + 1);
}

/* ---- once, exit values, cleanup handlers ---- */

static atomic_int once_calls;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_barrier_t once_bar;

static void once_init(void)
{
	atomic_fetch_add(&once_calls, 1);
	for (int i = 0; i < 5; i++)	/* let the others pile up in pthread_once */
		sched_yield();
}

static void *once_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&once_bar);
	pthread_once(&once, once_init);
	return (void *)(intptr_t)atomic_load(&once_calls);
}

static int cleanup_ran;

static void cleanup(void *arg)
{
	cleanup_ran += (int)(intptr_t)arg;
}

static void deep_exit(int depth);
static void (*volatile deep_exit_next)(int) = deep_exit;	/* hides the recursion from GCC */

static __attribute__((noinline)) void deep_exit(int depth)
{
	if (depth == 0)
		pthread_exit((void *)42);
	deep_exit_next(depth - 1);
	__asm__ volatile("" ::: "memory");
}

static void *exit_thread(void *arg)
{
	(void)arg;
	pthread_cleanup_push(cleanup, (void *)1);
	pthread_cleanup_push(cleanup, (void *)10);
	deep_exit(5);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *pop_thread(void *arg)
{
	(void)arg;
	pthread_cleanup_push(cleanup, (void *)100);
	pthread_cleanup_pop(1);
	return (void *)43;
}

static void check_once_exit(void)
{
	enum { N = 32 };
	pthread_t t[N];
	pthread_barrier_init(&once_bar, NULL, N);
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, once_thread, NULL);
	int all_saw_one = 1;
	for (int i = 0; i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		all_saw_one &= (intptr_t)r == 1;
	}
	pthread_barrier_destroy(&once_bar);
	P("once_calls", "%d", atomic_load(&once_calls));
	P("once_all_returned_after_init", "%s", yesno(all_saw_one));

	void *r = NULL;
	pthread_t x;
	pthread_create(&x, NULL, exit_thread, NULL);
	PE("join_exited", pthread_join(x, &r));
	P("pthread_exit_value", "%ld", (long)(intptr_t)r);
	P("cleanup_on_exit", "%d", cleanup_ran);
	cleanup_ran = 0;
	pthread_create(&x, NULL, pop_thread, NULL);
	pthread_join(x, &r);
	P("return_value", "%ld", (long)(intptr_t)r);
	P("cleanup_pop_execute", "%d", cleanup_ran);
}

/* ---- pthread_exit from main ---- */

static pthread_t main_thread;

static void *outlive_main(void *arg)
{
	(void)arg;
	struct timespec ts = in_future(CLOCK_MONOTONIC, 20000);
	int rc = pthread_clockjoin_np(main_thread, NULL, CLOCK_MONOTONIC, &ts);
	printf("join_main_after_exit=%s\n", ename(rc));
	printf("after_main_exit=yes\n");
	printf("END=ok\n");
	fflush(stdout);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_join_detach();
	check_attr();
	check_stacks();
	check_misc();
	check_thread_ids();
	check_once_exit();

	main_thread = pthread_self();
	pthread_t t;
	PE("create_outliver", pthread_create(&t, NULL, outlive_main, NULL));
	printf("main_exiting=yes\n");
	fflush(stdout);
	pthread_exit(NULL);
}
