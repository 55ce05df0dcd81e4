/*
 * c11_threads - the ISO C11 <threads.h> API (glibc implements it on top of pthreads, at
 * symbol versions GLIBC_2.28 and GLIBC_2.34).
 *
 * Usage: c11_threads
 *
 * Prints one deterministic `name=value` line per check (thrd_* result codes by name),
 * then C11=ok or C11=FAIL; exit 0 only if every check passed. Covered: thrd_create,
 * thrd_join with the result, thrd_exit, thrd_detach, thrd_sleep, thrd_yield,
 * thrd_current/thrd_equal, tss_create with a destructor (run at thread exit with the
 * thread's own value), tss_get/tss_set, call_once from many threads, mtx_init for plain,
 * timed and recursive mutexes, mtx_trylock (thrd_busy), mtx_timedlock (thrd_timedout),
 * cnd_signal/cnd_broadcast/cnd_wait and cnd_timedwait (thrd_timedout).
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

static int failed;

static const char *rname(int r)
{
	switch (r) {
	case thrd_success:
		return "thrd_success";
	case thrd_busy:
		return "thrd_busy";
	case thrd_error:
		return "thrd_error";
	case thrd_nomem:
		return "thrd_nomem";
	case thrd_timedout:
		return "thrd_timedout";
	}
	return "?";
}

/* Prints name=value and records a failure when value differs from want. */
static void expect_str(const char *name, const char *value, const char *want)
{
	printf("%s=%s\n", name, value);
	if (strcmp(value, want) != 0) {
		printf("FAIL %s: want %s\n", name, want);
		failed = 1;
	}
}

static void expect_rc(const char *name, int rc, int want)
{
	expect_str(name, rname(rc), rname(want));
}

static void expect_long(const char *name, long v, long want)
{
	char a[32], b[32];
	snprintf(a, sizeof a, "%ld", v);
	snprintf(b, sizeof b, "%ld", want);
	expect_str(name, a, b);
}

static struct timespec in_future(long ms)
{
	struct timespec ts;
	timespec_get(&ts, TIME_UTC);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* ---- threads, tss ---- */

static tss_t key;
static atomic_int dtor_calls, dtor_sum, dtor_bad;
static _Thread_local int my_id;

static void key_dtor(void *v)
{
	atomic_fetch_add(&dtor_calls, 1);
	atomic_fetch_add(&dtor_sum, (int)(long)v);
	if ((long)v != my_id + 1000)
		atomic_fetch_add(&dtor_bad, 1);
}

struct targ {
	int id;
	thrd_t seen_self;
};

static int worker(void *arg)
{
	struct targ *a = arg;
	my_id = a->id;
	a->seen_self = thrd_current();
	tss_set(key, (void *)(long)(a->id + 1000));
	thrd_yield();
	struct timespec d = {0, 1000000};
	if (thrd_sleep(&d, NULL) != 0)
		return -1;
	if (tss_get(key) != (void *)(long)(a->id + 1000))
		return -2;
	if (a->id % 2)
		thrd_exit(a->id * 3);
	return a->id * 3;
}

static mtx_t det_mu;
static cnd_t det_cv;
static int det_done;

static int detached(void *arg)
{
	(void)arg;
	mtx_lock(&det_mu);
	det_done = 1;
	cnd_signal(&det_cv);
	mtx_unlock(&det_mu);
	return 0;
}

static atomic_int once_calls;
static once_flag flag = ONCE_FLAG_INIT;

static void once_fn(void)
{
	atomic_fetch_add(&once_calls, 1);
	for (int i = 0; i < 5; i++)
		thrd_yield();
}

static int once_worker(void *arg)
{
	(void)arg;
	call_once(&flag, once_fn);
	return atomic_load(&once_calls);
}

/* ---- mutex / condvar ---- */

static mtx_t mu, tmu, rmu;
static cnd_t cv;
static int counter, turn;

static int adder(void *arg)
{
	int id = (int)(long)arg;
	for (int i = 0; i < 1000; i++) {
		mtx_lock(&mu);
		while (turn % 4 != id)	/* strict rotation over 4 threads via cnd_wait */
			cnd_wait(&cv, &mu);
		counter++;
		turn++;
		cnd_broadcast(&cv);
		mtx_unlock(&mu);
	}
	return 0;
}

static int try_locked(void *arg)
{
	(void)arg;
	int r1 = mtx_trylock(&tmu);
	struct timespec ts = in_future(50);
	int r2 = mtx_timedlock(&tmu, &ts);
	return r1 * 10 + r2;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	expect_rc("tss_create", tss_create(&key, key_dtor), thrd_success);

	enum { N = 16 };
	thrd_t t[N];
	struct targ args[N];
	int all_created = 1;
	for (int i = 0; i < N; i++) {
		args[i].id = i;
		all_created &= thrd_create(&t[i], worker, &args[i]) == thrd_success;
	}
	expect_str("thrd_create_all", all_created ? "yes" : "no", "yes");
	int sum = 0, joins_ok = 1, self_ok = 1;
	for (int i = 0; i < N; i++) {
		int res = 0;
		joins_ok &= thrd_join(t[i], &res) == thrd_success;
		sum += res;
		self_ok &= thrd_equal(t[i], args[i].seen_self) != 0;
	}
	expect_str("thrd_join_all", joins_ok ? "yes" : "no", "yes");
	expect_long("thrd_results_sum", sum, 3L * N * (N - 1) / 2);
	expect_str("thrd_current_matches_create", self_ok ? "yes" : "no", "yes");
	expect_str("thrd_equal_self", thrd_equal(thrd_current(), thrd_current()) ? "yes" : "no",
		   "yes");
	expect_str("thrd_equal_other", thrd_equal(thrd_current(), t[0]) ? "yes" : "no", "no");
	expect_long("tss_dtor_calls", atomic_load(&dtor_calls), N);
	expect_long("tss_dtor_sum", atomic_load(&dtor_sum), 1000L * N + (long)N * (N - 1) / 2);
	expect_long("tss_dtor_own_value", atomic_load(&dtor_bad), 0);
	tss_set(key, (void *)5);
	expect_long("tss_main_value", (long)tss_get(key), 5);
	tss_set(key, NULL);

	mtx_init(&det_mu, mtx_plain);
	cnd_init(&det_cv);
	thrd_t d;
	expect_rc("thrd_create_detached", thrd_create(&d, detached, NULL), thrd_success);
	expect_rc("thrd_detach", thrd_detach(d), thrd_success);
	mtx_lock(&det_mu);
	while (!det_done)
		cnd_wait(&det_cv, &det_mu);
	mtx_unlock(&det_mu);
	expect_long("detached_ran", det_done, 1);

	struct timespec d1 = {0, 20000000}, rem = {1, 1};
	expect_long("thrd_sleep", thrd_sleep(&d1, &rem), 0);

	thrd_t o[N];
	for (int i = 0; i < N; i++)
		thrd_create(&o[i], once_worker, NULL);
	int once_seen = 1;
	for (int i = 0; i < N; i++) {
		int r = 0;
		thrd_join(o[i], &r);
		once_seen &= r == 1;
	}
	expect_long("call_once_calls", atomic_load(&once_calls), 1);
	expect_str("call_once_all_saw_init", once_seen ? "yes" : "no", "yes");

	expect_rc("mtx_init_plain", mtx_init(&mu, mtx_plain), thrd_success);
	expect_rc("mtx_init_timed", mtx_init(&tmu, mtx_timed), thrd_success);
	expect_rc("mtx_init_recursive", mtx_init(&rmu, mtx_plain | mtx_recursive), thrd_success);
	expect_rc("cnd_init", cnd_init(&cv), thrd_success);

	thrd_t a[4];
	for (long i = 0; i < 4; i++)
		thrd_create(&a[i], adder, (void *)i);
	for (int i = 0; i < 4; i++)
		thrd_join(a[i], NULL);
	expect_long("cnd_rotation_counter", counter, 4000);

	expect_rc("mtx_lock_timed", mtx_lock(&tmu), thrd_success);
	thrd_t tl;
	int tr = -1;
	thrd_create(&tl, try_locked, NULL);
	thrd_join(tl, &tr);
	expect_rc("mtx_trylock_held", tr / 10, thrd_busy);
	expect_rc("mtx_timedlock_held", tr % 10, thrd_timedout);
	expect_rc("mtx_unlock_timed", mtx_unlock(&tmu), thrd_success);
	struct timespec ts = in_future(1000);
	expect_rc("mtx_timedlock_free", mtx_timedlock(&tmu, &ts), thrd_success);
	mtx_unlock(&tmu);

	expect_rc("mtx_recursive_1", mtx_lock(&rmu), thrd_success);
	expect_rc("mtx_recursive_2", mtx_lock(&rmu), thrd_success);
	expect_rc("mtx_recursive_try", mtx_trylock(&rmu), thrd_success);
	mtx_unlock(&rmu);
	mtx_unlock(&rmu);
	expect_rc("mtx_recursive_unlock", mtx_unlock(&rmu), thrd_success);

	mtx_lock(&mu);
	ts = in_future(50);
	expect_rc("cnd_timedwait_timeout", cnd_timedwait(&cv, &mu, &ts), thrd_timedout);
	mtx_unlock(&mu);

	cnd_destroy(&cv);
	mtx_destroy(&mu);
	mtx_destroy(&tmu);
	mtx_destroy(&rmu);
	cnd_destroy(&det_cv);
	mtx_destroy(&det_mu);
	tss_delete(key);
	printf("C11=%s\n", failed ? "FAIL" : "ok");
	return failed;
}
