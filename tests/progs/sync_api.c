/*
 * sync_api - semantics and every error code of the pthread and semaphore synchronization
 * families, printed as `name=value` lines in a fixed order (error numbers by name, facts
 * as yes/no, never a time or an address).  tests/preload/sync.c compares the whole
 * stdout of a native run with runs under green: every line states what glibc does.
 *
 * Threads that must be blocked when a check runs are ordered with gates (mutex+condvar)
 * and with the objects' own state; timeouts are short absolute deadlines checked with a
 * generous lower bound.  The last line is END=ok.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
	if (e == 0)
		return "0";
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

#define P(name, fmt, ...) printf("%s=" fmt "\n", name, __VA_ARGS__)
#define PE(name, rc) P(name, "%s", ename(rc))
#define PY(name, b) P(name, "%s", (b) ? "yes" : "no")
/* A call returning -1/errno: prints 0 or the errno name. */
#define PX(name, call) PE(name, (call) == 0 ? 0 : errno)

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

static const struct timespec bad_ts = {0, 1000000000L};
static const struct timespec past_ts = {0, 0};

/* Runs fn(arg) in a thread and returns its int result. */
static int in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, fn, arg);
	pthread_join(t, &r);
	return (int)(intptr_t)r;
}

/* ---- mutexes ---------------------------------------------------------------------- */

static pthread_mutex_t m_other;
static void *lock_other(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_mutex_unlock(&m_other);
}
static void *trylock_other(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_trylock(arg);
}
static void *timedlock_other(void *arg)
{
	struct timespec ts = in_future(CLOCK_REALTIME, 30);
	return (void *)(intptr_t)pthread_mutex_timedlock(arg, &ts);
}
static void *clocklock_mono_other(void *arg)
{
	struct timespec ts = in_future(CLOCK_MONOTONIC, 30);
	return (void *)(intptr_t)pthread_mutex_clocklock(arg, CLOCK_MONOTONIC, &ts);
}
static void *badts_other(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_timedlock(arg, &bad_ts);
}

static void mutex_kind(const char *k, int type)
{
	char n[64];
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	pthread_mutexattr_init(&a);
	if (type >= 0)
		pthread_mutexattr_settype(&a, type);
	pthread_mutex_init(&m, &a);
	pthread_mutexattr_destroy(&a);

#define N(s) (snprintf(n, sizeof n, "mutex_%s_%s", k, s), n)
	PE(N("lock"), pthread_mutex_lock(&m));
	if (type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE)
		PE(N("relock"), pthread_mutex_lock(&m));
	PE(N("trylock_self"), pthread_mutex_trylock(&m));
	struct timespec ts = in_future(CLOCK_REALTIME, 20);
	if (type != PTHREAD_MUTEX_NORMAL && type != PTHREAD_MUTEX_ADAPTIVE_NP && type >= 0) {
		PE(N("timedlock_self"), pthread_mutex_timedlock(&m, &ts));
		PE(N("timedlock_self_badts"), pthread_mutex_timedlock(&m, &bad_ts));
	}
	PE(N("trylock_other"), in_thread(trylock_other, &m));
	double t0 = mono_s();
	PE(N("timedlock_other"), in_thread(timedlock_other, &m));
	PY(N("timedlock_waited"), mono_s() - t0 >= 0.020);
	PE(N("clocklock_mono_other"), in_thread(clocklock_mono_other, &m));
	PE(N("timedlock_badts_busy"), in_thread(badts_other, &m));
	PE(N("destroy_locked"), pthread_mutex_destroy(&m));
	m_other = m;
	if (type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE)
		PE(N("unlock_other"), in_thread(lock_other, NULL));
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK)
		PE(N("unlock1"), pthread_mutex_unlock(&m));
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		PE(N("unlock2"), pthread_mutex_unlock(&m));
		PE(N("unlock3"), pthread_mutex_unlock(&m));
		PE(N("unlock_unlocked"), pthread_mutex_unlock(&m));
	} else if (type == PTHREAD_MUTEX_ERRORCHECK) {
		PE(N("unlock_unlocked"), pthread_mutex_unlock(&m));
	} else {
		PE(N("unlock"), pthread_mutex_unlock(&m));
	}
	PE(N("timedlock_free_badts"), pthread_mutex_timedlock(&m, &bad_ts));
	pthread_mutex_unlock(&m);
	PE(N("clocklock_badclock"), pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &ts));
	PE(N("clocklock_mono"), pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts));
	pthread_mutex_unlock(&m);
	PE(N("destroy"), pthread_mutex_destroy(&m));
#undef N
}

static pthread_mutex_t s_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_err = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_adapt = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t zeroed_mutex; /* all zero: a normal mutex */

static void check_static_mutexes(void)
{
	P("static_normal_kind", "%d", s_normal.__data.__kind);
	P("static_recursive_kind", "%d", s_rec.__data.__kind);
	P("static_errorcheck_kind", "%d", s_err.__data.__kind);
	P("static_adaptive_kind", "%d", s_adapt.__data.__kind);
	PE("static_rec_lock", pthread_mutex_lock(&s_rec));
	PE("static_rec_lock2", pthread_mutex_lock(&s_rec));
	P("static_rec_count", "%u", s_rec.__data.__count);
	PE("static_rec_unlock", pthread_mutex_unlock(&s_rec));
	PE("static_rec_unlock2", pthread_mutex_unlock(&s_rec));
	PE("static_err_lock", pthread_mutex_lock(&s_err));
	PE("static_err_relock", pthread_mutex_lock(&s_err));
	PE("static_err_unlock", pthread_mutex_unlock(&s_err));
	PE("static_err_unlock_again", pthread_mutex_unlock(&s_err));
	PE("static_adapt_lock", pthread_mutex_lock(&s_adapt));
	PE("static_adapt_trylock", pthread_mutex_trylock(&s_adapt));
	PE("static_adapt_unlock", pthread_mutex_unlock(&s_adapt));
	PE("zeroed_lock", pthread_mutex_lock(&zeroed_mutex));
	PE("zeroed_trylock", pthread_mutex_trylock(&zeroed_mutex));
	PE("zeroed_unlock", pthread_mutex_unlock(&zeroed_mutex));
	PE("static_normal_lock", pthread_mutex_lock(&s_normal));
	PE("static_normal_unlock", pthread_mutex_unlock(&s_normal));
	pthread_mutex_t m;
	pthread_mutex_init(&m, NULL);
	P("init_default_kind", "%d", m.__data.__kind);
	pthread_mutex_destroy(&m);
}

/* Robust: the owner ends holding it. */
static pthread_mutex_t robust;
static void *lock_and_die(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_mutex_lock(&robust);
}
static void *lock_and_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust);
	pthread_exit(NULL);
}
static __attribute__((unused)) void *robust_lock_other(void *arg)
{
	(void)arg;
	int r = pthread_mutex_lock(&robust);
	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock(&robust);
	return (void *)(intptr_t)r;
}

static void check_robust(int type, const char *k)
{
	char n[64];
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_settype(&a, type);
	int rb = -1;
	pthread_mutexattr_getrobust(&a, &rb);
	pthread_mutex_init(&robust, &a);
	pthread_mutexattr_destroy(&a);
#define N(s) (snprintf(n, sizeof n, "robust_%s_%s", k, s), n)
	P(N("attr"), "%d", rb);
	PE(N("consistent_unlocked"), pthread_mutex_consistent(&robust));
	PE(N("lock_then_die"), in_thread(lock_and_die, NULL));
	PE(N("lock_after_death"), pthread_mutex_lock(&robust));
	PE(N("consistent"), pthread_mutex_consistent(&robust));
	PE(N("consistent_again"), pthread_mutex_consistent(&robust));
	PE(N("unlock"), pthread_mutex_unlock(&robust));
	PE(N("lock_ok"), pthread_mutex_lock(&robust));
	PE(N("unlock_ok"), pthread_mutex_unlock(&robust));
	PE(N("unlock_unowned"), pthread_mutex_unlock(&robust));
	/* Dies through pthread_exit; nobody makes it consistent. */
	in_thread(lock_and_exit, NULL);
	PE(N("trylock_after_exit"), pthread_mutex_trylock(&robust));
	PE(N("unlock_inconsistent"), pthread_mutex_unlock(&robust));
	PE(N("lock_notrecoverable"), pthread_mutex_lock(&robust));
	PE(N("trylock_notrecoverable"), pthread_mutex_trylock(&robust));
	PE(N("destroy"), pthread_mutex_destroy(&robust));
#undef N
}

static void check_prio(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	int v = -1, old = -1;
	pthread_mutexattr_init(&a);
	PE("prio_setprotocol_protect", pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT));
	PE("prio_setceiling_attr", pthread_mutexattr_setprioceiling(&a, 10));
	pthread_mutexattr_getprotocol(&a, &v);
	P("prio_protocol", "%d", v);
	PE("prio_init", pthread_mutex_init(&m, &a));
	PE("prio_getceiling", pthread_mutex_getprioceiling(&m, &v));
	P("prio_ceiling", "%d", v);
	PE("prio_setceiling", pthread_mutex_setprioceiling(&m, 20, &old));
	P("prio_old_ceiling", "%d", old);
	pthread_mutex_getprioceiling(&m, &v);
	P("prio_new_ceiling", "%d", v);
	PE("prio_setceiling_bad", pthread_mutex_setprioceiling(&m, 1000, &old));
	pthread_mutex_destroy(&m);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&m, &a);
	PE("prio_inherit_lock", pthread_mutex_lock(&m));
	PE("prio_inherit_unlock", pthread_mutex_unlock(&m));
	PE("prio_inherit_getceiling", pthread_mutex_getprioceiling(&m, &v));
	pthread_mutex_destroy(&m);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_NONE);
	pthread_mutex_init(&m, &a);
	PE("prio_none_getceiling", pthread_mutex_getprioceiling(&m, &v));
	pthread_mutex_destroy(&m);
	pthread_mutexattr_destroy(&a);
}

/* ---- condition variables ---------------------------------------------------------- */

static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static int cready, cwoken, cdone;

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cmu);
	cready++;
	pthread_cond_broadcast(&ccv);
	while (cwoken == 0)
		pthread_cond_wait(&ccv, &cmu);
	cwoken--;
	cdone++;
	pthread_cond_broadcast(&ccv);
	pthread_mutex_unlock(&cmu);
	return NULL;
}

static void check_cond(void)
{
	pthread_condattr_t ca;
	pthread_cond_t c;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	clockid_t clk = -1;
	pthread_condattr_init(&ca);
	pthread_condattr_getclock(&ca, &clk);
	P("cond_attr_default_clock", "%d", (int)clk);
	PE("cond_attr_setclock_mono", pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	PE("cond_attr_setclock_cpu", pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID));
	PE("cond_init_mono", pthread_cond_init(&c, &ca));
	pthread_mutex_lock(&m);
	struct timespec ts = in_future(CLOCK_MONOTONIC, 30);
	double t0 = mono_s();
	PE("cond_timedwait_mono", pthread_cond_timedwait(&c, &m, &ts));
	PY("cond_timedwait_mono_waited", mono_s() - t0 >= 0.025);
	ts = in_future(CLOCK_REALTIME, 30);
	t0 = mono_s();
	PE("cond_clockwait_realtime", pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &ts));
	PY("cond_clockwait_waited", mono_s() - t0 >= 0.025);
	PE("cond_clockwait_badclock",
	   pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &ts));
	PE("cond_timedwait_badts", pthread_cond_timedwait(&c, &m, &bad_ts));
	PE("cond_timedwait_past", pthread_cond_timedwait(&c, &m, &past_ts));
	struct timespec neg = {-1, 0};
	PE("cond_timedwait_negative", pthread_cond_timedwait(&c, &m, &neg));
	pthread_mutex_unlock(&m);
	PE("cond_signal_nowaiter", pthread_cond_signal(&c));
	PE("cond_broadcast_nowaiter", pthread_cond_broadcast(&c));
	PE("cond_destroy", pthread_cond_destroy(&c));
	pthread_condattr_destroy(&ca);

	/* Error-checking mutex not held. */
	pthread_mutex_t em = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_cond_t c2 = PTHREAD_COND_INITIALIZER;
	PE("cond_wait_errorcheck_unlocked", pthread_cond_wait(&c2, &em));
	/* Recursive mutex locked twice: the count survives a timed wait. */
	pthread_mutex_t rm = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_lock(&rm);
	ts = in_future(CLOCK_REALTIME, 10);
	PE("cond_timedwait_recursive", pthread_cond_timedwait(&c2, &rm, &ts));
	P("cond_recursive_count", "%u", rm.__data.__count);
	PE("cond_recursive_unlock", pthread_mutex_unlock(&rm));
	PE("cond_recursive_unlock_again", pthread_mutex_unlock(&rm));
	ts = in_future(CLOCK_REALTIME, 10);
	pthread_mutex_lock(&em);
	PE("cond_timedwait_errorcheck", pthread_cond_timedwait(&c2, &em, &ts));
	PE("cond_errorcheck_relock", pthread_mutex_lock(&em));
	PE("cond_errorcheck_unlock", pthread_mutex_unlock(&em));

	/* signal wakes exactly one of three, broadcast the rest. */
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, cond_waiter, NULL);
	pthread_mutex_lock(&cmu);
	while (cready < 3)
		pthread_cond_wait(&ccv, &cmu);
	cwoken = 1;
	pthread_cond_signal(&ccv);
	while (cdone < 1)
		pthread_cond_wait(&ccv, &cmu);
	P("cond_signal_done", "%d", cdone);
	cwoken += 2;
	pthread_cond_broadcast(&ccv);
	pthread_mutex_unlock(&cmu);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	P("cond_waiters_done", "%d/%d", cdone, cwoken);
}

/* ---- read-write locks ------------------------------------------------------------- */

static pthread_rwlock_t rwl;
static void *try_rd(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_rwlock_tryrdlock(&rwl);
}
static void *try_wr(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_rwlock_trywrlock(&rwl);
}
static void *timed_wr(void *arg)
{
	(void)arg;
	struct timespec ts = in_future(CLOCK_REALTIME, 20);
	return (void *)(intptr_t)pthread_rwlock_timedwrlock(&rwl, &ts);
}
static void *timed_rd(void *arg)
{
	(void)arg;
	struct timespec ts = in_future(CLOCK_MONOTONIC, 20);
	return (void *)(intptr_t)pthread_rwlock_clockrdlock(&rwl, CLOCK_MONOTONIC, &ts);
}
static void *wr_unlock(void *arg)
{
	(void)arg;
	int r = pthread_rwlock_wrlock(&rwl);
	if (!r)
		pthread_rwlock_unlock(&rwl);
	return (void *)(intptr_t)r;
}
static void *rd_unlock(void *arg)
{
	(void)arg;
	int r = pthread_rwlock_rdlock(&rwl);
	if (!r)
		pthread_rwlock_unlock(&rwl);
	return (void *)(intptr_t)r;
}

static void check_rwlock(void)
{
	static pthread_rwlock_t s = PTHREAD_RWLOCK_INITIALIZER;
	static pthread_rwlock_t sw = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
	pthread_rwlockattr_t a;
	int v = -1;

	P("rwlock_static_flags", "%u", s.__data.__flags);
	P("rwlock_static_writer_flags", "%u", sw.__data.__flags);
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_getkind_np(&a, &v);
	P("rwlock_attr_default_kind", "%d", v);
	PE("rwlock_attr_setkind_bad", pthread_rwlockattr_setkind_np(&a, 7));
	PE("rwlock_attr_setkind",
	   pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	pthread_rwlockattr_getkind_np(&a, &v);
	P("rwlock_attr_kind", "%d", v);
	PE("rwlock_attr_setpshared_bad", pthread_rwlockattr_setpshared(&a, 7));
	pthread_rwlockattr_getpshared(&a, &v);
	P("rwlock_attr_pshared", "%d", v);

	pthread_rwlock_init(&rwl, NULL);
	PE("rw_rdlock", pthread_rwlock_rdlock(&rwl));
	PE("rw_rdlock_recursive", pthread_rwlock_rdlock(&rwl));
	PE("rw_tryrdlock_other", in_thread(try_rd, NULL));
	PE("rw_unlock_other_reader", pthread_rwlock_unlock(&rwl));
	PE("rw_trywrlock_other", in_thread(try_wr, NULL));
	PE("rw_trywrlock_self_reader", pthread_rwlock_trywrlock(&rwl));
	double t0 = mono_s();
	PE("rw_timedwrlock_other", in_thread(timed_wr, NULL));
	PY("rw_timedwrlock_waited", mono_s() - t0 >= 0.015);
	PE("rw_unlock1", pthread_rwlock_unlock(&rwl));
	PE("rw_unlock2", pthread_rwlock_unlock(&rwl));
	PE("rw_wrlock", pthread_rwlock_wrlock(&rwl));
	PE("rw_wrlock_relock", pthread_rwlock_wrlock(&rwl));
	PE("rw_rdlock_writer", pthread_rwlock_rdlock(&rwl));
	PE("rw_tryrdlock_writer", pthread_rwlock_tryrdlock(&rwl));
	PE("rw_trywrlock_writer", pthread_rwlock_trywrlock(&rwl));
	struct timespec ts = in_future(CLOCK_REALTIME, 10);
	PE("rw_timedwrlock_self", pthread_rwlock_timedwrlock(&rwl, &ts));
	PE("rw_timedrdlock_self", pthread_rwlock_timedrdlock(&rwl, &ts));
	PE("rw_timedrdlock_self_badts", pthread_rwlock_timedrdlock(&rwl, &bad_ts));
	t0 = mono_s();
	PE("rw_clockrdlock_other", in_thread(timed_rd, NULL));
	PY("rw_clockrdlock_waited", mono_s() - t0 >= 0.015);
	PE("rw_tryrdlock_other_w", in_thread(try_rd, NULL)); /* EBUSY: nothing to undo */
	PE("rw_unlock_w", pthread_rwlock_unlock(&rwl));
	PE("rw_timedrdlock_free_badts", pthread_rwlock_timedrdlock(&rwl, &bad_ts));
	PE("rw_clockwrlock_badclock",
	   pthread_rwlock_clockwrlock(&rwl, CLOCK_PROCESS_CPUTIME_ID, &ts));
	PE("rw_clockwrlock_mono", pthread_rwlock_clockwrlock(&rwl, CLOCK_MONOTONIC, &ts));
	PE("rw_unlock_w2", pthread_rwlock_unlock(&rwl));
	PE("rw_destroy", pthread_rwlock_destroy(&rwl));

	/* Writer preference: a waiting writer keeps new readers out. */
	pthread_rwlock_init(&rwl, &a);
	PE("rwp_rdlock", pthread_rwlock_rdlock(&rwl));
	pthread_t w;
	pthread_create(&w, NULL, wr_unlock, NULL);
	int blocked = 0;
	for (int i = 0; i < 20000 && !blocked; i++) {
		/* A reader gets in until the writer queues: poll, no guessed sleep. */
		int r = in_thread(try_rd, NULL);
		if (r == 0)
			pthread_rwlock_unlock(&rwl); /* a reader's unlock; counts are shared */
		else
			blocked = r == EBUSY;
		sched_yield(); /* let the writer run even on one processor */
	}
	PY("rwp_reader_blocked_by_waiting_writer", blocked);
	PE("rwp_unlock", pthread_rwlock_unlock(&rwl));
	void *wr;
	pthread_join(w, &wr);
	PE("rwp_writer", (int)(intptr_t)wr);
	PE("rwp_reader_after", in_thread(rd_unlock, NULL));
	pthread_rwlock_destroy(&rwl);
	pthread_rwlockattr_destroy(&a);
}

/* ---- barriers, spinlocks, once ---------------------------------------------------- */

static pthread_barrier_t bar;
static atomic_int serials;
static void *bar_wait(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serials, 1);
	return NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void once_init(void)
{
	once_runs++;
}
static pthread_once_t once_c = PTHREAD_ONCE_INIT;
static int once_c_runs;
static void once_exit(void)
{
	if (once_c_runs++ == 0)
		pthread_exit(NULL); /* the first run does not complete */
}
static void *once_exit_thread(void *arg)
{
	(void)arg;
	pthread_once(&once_c, once_exit);
	return NULL;
}

static void check_barrier_spin_once(void)
{
	pthread_barrierattr_t ba;
	int v = -1;
	PE("barrier_init_zero", pthread_barrier_init(&bar, NULL, 0));
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_getpshared(&ba, &v);
	P("barrier_attr_pshared", "%d", v);
	PE("barrier_attr_setpshared_bad", pthread_barrierattr_setpshared(&ba, 5));
	PE("barrier_init", pthread_barrier_init(&bar, &ba, 4));
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, bar_wait, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	P("barrier_serials", "%d", atomic_load(&serials));
	PE("barrier_destroy", pthread_barrier_destroy(&bar));
	pthread_barrier_init(&bar, NULL, 1);
	PY("barrier_one_serial", pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD);
	pthread_barrier_destroy(&bar);
	pthread_barrierattr_destroy(&ba);

	pthread_spinlock_t sl;
	PE("spin_init", pthread_spin_init(&sl, PTHREAD_PROCESS_PRIVATE));
	PE("spin_lock", pthread_spin_lock(&sl));
	PE("spin_trylock_held", pthread_spin_trylock(&sl));
	PE("spin_unlock", pthread_spin_unlock(&sl));
	PE("spin_trylock", pthread_spin_trylock(&sl));
	PE("spin_unlock2", pthread_spin_unlock(&sl));
	PE("spin_destroy", pthread_spin_destroy(&sl));

	PE("once1", pthread_once(&once, once_init));
	PE("once2", pthread_once(&once, once_init));
	P("once_runs", "%d", once_runs);
	in_thread(once_exit_thread, NULL);
	PE("once_after_exit", pthread_once(&once_c, once_exit));
	P("once_exit_runs", "%d", once_c_runs);
}

/* ---- semaphores ------------------------------------------------------------------- */

static sem_t sem;
static void *sem_poster(void *arg)
{
	(void)arg;
	sem_post(&sem);
	return NULL;
}

static void check_sem(void)
{
	int v = -1;
	PX("sem_init_toobig", sem_init(&sem, 0, (unsigned)SEM_VALUE_MAX + 1));
	PX("sem_init", sem_init(&sem, 0, 2));
	sem_getvalue(&sem, &v);
	P("sem_value", "%d", v);
	PX("sem_trywait1", sem_trywait(&sem));
	PX("sem_wait2", sem_wait(&sem));
	PX("sem_trywait_empty", sem_trywait(&sem));
	struct timespec ts = in_future(CLOCK_REALTIME, 20);
	double t0 = mono_s();
	PX("sem_timedwait", sem_timedwait(&sem, &ts));
	PY("sem_timedwait_waited", mono_s() - t0 >= 0.015);
	ts = in_future(CLOCK_MONOTONIC, 20);
	PX("sem_clockwait_mono", sem_clockwait(&sem, CLOCK_MONOTONIC, &ts));
	PX("sem_clockwait_badclock", sem_clockwait(&sem, CLOCK_PROCESS_CPUTIME_ID, &ts));
	PX("sem_timedwait_badts", sem_timedwait(&sem, &bad_ts));
	sem_post(&sem);
	PX("sem_timedwait_badts_avail", sem_timedwait(&sem, &bad_ts));
	pthread_t t;
	pthread_create(&t, NULL, sem_poster, NULL);
	PX("sem_wait_posted", sem_wait(&sem));
	pthread_join(t, NULL);
	sem_getvalue(&sem, &v);
	P("sem_value_end", "%d", v);
	sem_destroy(&sem);
	sem_init(&sem, 0, SEM_VALUE_MAX);
	PX("sem_post_overflow", sem_post(&sem));
	sem_destroy(&sem);

	/* Named: glibc's sem_open maps a process-shared semaphore. */
	char name[64];
	snprintf(name, sizeof name, "/green_sync_api_%d", (int)getpid());
	sem_t *ns = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
	PY("sem_open", ns != SEM_FAILED);
	PX("sem_named_wait", sem_wait(ns));
	PX("sem_named_trywait", sem_trywait(ns));
	ts = in_future(CLOCK_REALTIME, 10);
	PX("sem_named_timedwait", sem_timedwait(ns, &ts));
	PX("sem_named_post", sem_post(ns));
	sem_getvalue(ns, &v);
	P("sem_named_value", "%d", v);
	PX("sem_close", sem_close(ns));
	PX("sem_unlink", sem_unlink(name));
	PX("sem_unlink_again", sem_unlink(name));
}

/* ---- process-shared objects within one process (the kernel-futex path) ------------ */

struct shared {
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_rwlock_t rw;
	pthread_barrier_t b;
	sem_t s;
	int flag;
	long counter, counter2;
};
static struct shared *sh;

static void *pshared_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&sh->m);
		sh->counter++;
		pthread_mutex_unlock(&sh->m);
		pthread_rwlock_wrlock(&sh->rw);
		sh->counter2++;
		pthread_rwlock_unlock(&sh->rw);
	}
	pthread_barrier_wait(&sh->b);
	pthread_mutex_lock(&sh->m);
	while (!sh->flag)
		pthread_cond_wait(&sh->c, &sh->m);
	pthread_mutex_unlock(&sh->m);
	sem_post(&sh->s);
	return NULL;
}

static void check_pshared(void)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_rwlockattr_t ra;
	pthread_barrierattr_t ba;
	pthread_mutexattr_init(&ma);
	pthread_condattr_init(&ca);
	pthread_rwlockattr_init(&ra);
	pthread_barrierattr_init(&ba);
	PE("ps_mutexattr", pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
	PE("ps_condattr", pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
	PE("ps_rwlockattr", pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED));
	PE("ps_barrierattr", pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED));
	pthread_mutex_init(&sh->m, &ma);
	pthread_cond_init(&sh->c, &ca);
	pthread_rwlock_init(&sh->rw, &ra);
	pthread_barrier_init(&sh->b, &ba, 5);
	sem_init(&sh->s, 1, 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, pshared_worker, NULL);
	pthread_barrier_wait(&sh->b);
	pthread_mutex_lock(&sh->m);
	sh->flag = 1;
	pthread_cond_broadcast(&sh->c);
	pthread_mutex_unlock(&sh->m);
	for (int i = 0; i < 4; i++)
		sem_wait(&sh->s);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	P("ps_counter", "%ld/%ld", sh->counter, sh->counter2);
	pthread_mutex_lock(&sh->m);
	struct timespec ts = in_future(CLOCK_REALTIME, 20);
	PE("ps_cond_timedwait", pthread_cond_timedwait(&sh->c, &sh->m, &ts));
	pthread_mutex_unlock(&sh->m);
	munmap(sh, sizeof *sh);
}

/* ---- C11 -------------------------------------------------------------------------- */

static mtx_t c11m;
static cnd_t c11c;
static int c11flag;
static int c11_thread(void *arg)
{
	(void)arg;
	mtx_lock(&c11m);
	c11flag = 1;
	cnd_signal(&c11c);
	mtx_unlock(&c11m);
	return 5;
}

static void check_c11(void)
{
	P("c11_mtx_init", "%d", mtx_init(&c11m, mtx_plain | mtx_recursive));
	P("c11_lock", "%d", mtx_lock(&c11m));
	P("c11_relock", "%d", mtx_lock(&c11m));
	P("c11_trylock", "%d", mtx_trylock(&c11m));
	mtx_unlock(&c11m);
	mtx_unlock(&c11m);
	P("c11_unlock", "%d", mtx_unlock(&c11m));
	P("c11_cnd_init", "%d", cnd_init(&c11c));
	thrd_t t;
	mtx_lock(&c11m);
	thrd_create(&t, c11_thread, NULL);
	while (!c11flag)
		cnd_wait(&c11c, &c11m);
	struct timespec ts = in_future(CLOCK_REALTIME, 10);
	P("c11_cnd_timedwait", "%d", cnd_timedwait(&c11c, &c11m, &ts));
	mtx_unlock(&c11m);
	int res = 0;
	thrd_join(t, &res);
	P("c11_result", "%d", res);
	mtx_t tm;
	mtx_init(&tm, mtx_timed);
	mtx_lock(&tm);
	ts = in_future(CLOCK_REALTIME, 10);
	P("c11_timedlock_self", "%d", mtx_timedlock(&tm, &ts)); /* a plain mutex: times out */
	mtx_unlock(&tm);
	mtx_destroy(&tm);
	cnd_destroy(&c11c);
	mtx_destroy(&c11m);
	static once_flag of = ONCE_FLAG_INIT;
	call_once(&of, once_init);
	P("c11_once_runs", "%d", once_runs);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	P("sizes", "%zu/%zu/%zu/%zu/%zu/%zu/%zu", sizeof(pthread_mutex_t),
	  sizeof(pthread_cond_t), sizeof(pthread_rwlock_t), sizeof(pthread_barrier_t),
	  sizeof(pthread_spinlock_t), sizeof(sem_t), sizeof(pthread_once_t));
	mutex_kind("default", -1);
	mutex_kind("normal", PTHREAD_MUTEX_NORMAL);
	mutex_kind("recursive", PTHREAD_MUTEX_RECURSIVE);
	mutex_kind("errorcheck", PTHREAD_MUTEX_ERRORCHECK);
	mutex_kind("adaptive", PTHREAD_MUTEX_ADAPTIVE_NP);
	check_static_mutexes();
	check_robust(PTHREAD_MUTEX_NORMAL, "normal");
	check_robust(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
	check_robust(PTHREAD_MUTEX_RECURSIVE, "recursive");
	check_prio();
	check_cond();
	check_rwlock();
	check_barrier_spin_once();
	check_sem();
	check_pshared();
	check_c11();
	printf("END=ok\n");
	return 0;
}
