/*
 * setid - the set*id family while other threads are blocked and running.
 *
 * Usage: setid [rounds=20]
 *
 * glibc makes setuid() and friends process-wide by signalling every thread it knows
 * (SIGSETXID) and waiting for each to apply the change; a runtime that gets this wrong
 * hangs here. Several threads are parked in pthread_cond_wait, several loop on nanosleep,
 * two lock and unlock a mutex in a loop; meanwhile the main thread, and then a created
 * thread, call every set*id function with the ids the process already has (no-op changes,
 * allowed for root and for ordinary users alike), plus setgroups() with the current list
 * and initgroups() (which calls setgroups inside libc, not through the exported symbol).
 *
 * Prints one `name=value` line per call (the error name, "0" for success: for an
 * ordinary user setgroups and initgroups give EPERM natively), then ids_unchanged=yes,
 * and SETID=ok (exit 0) when every id is unchanged and all threads were joined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stop;
static atomic_int stopping;
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static long busy_count;

static const char *ename(int e)
{
	if (e == 0)
		return "0";
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 2000000};
	while (!atomic_load(&stopping))
		nanosleep(&ts, NULL);
	return NULL;
}

static void *locker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stopping)) {
		pthread_mutex_lock(&busy_mu);
		busy_count++;
		pthread_mutex_unlock(&busy_mu);
	}
	return NULL;
}

struct ids {
	uid_t r, e, s;
	gid_t gr, ge, gs;
	int ngroups;
	gid_t groups[256];
};

static void get_ids(struct ids *x)
{
	getresuid(&x->r, &x->e, &x->s);
	getresgid(&x->gr, &x->ge, &x->gs);
	x->ngroups = getgroups(256, x->groups);
}

static int same_ids(const struct ids *a, const struct ids *b)
{
	return a->r == b->r && a->e == b->e && a->s == b->s && a->gr == b->gr &&
	       a->ge == b->ge && a->gs == b->gs && a->ngroups == b->ngroups &&
	       memcmp(a->groups, b->groups, sizeof(gid_t) * (a->ngroups > 0 ? a->ngroups : 0)) == 0;
}

#define RC(call) ((call) == 0 ? 0 : errno)

/* Runs every call once; prints the results only when print is set (the first round). */
static int run_calls(const struct ids *x, int print, const char *who)
{
	int bad = 0;
	struct {
		const char *name;
		int rc;
	} r[] = {
		{"setuid", RC(setuid(x->e))},
		{"setgid", RC(setgid(x->ge))},
		{"seteuid", RC(seteuid(x->e))},
		{"setegid", RC(setegid(x->ge))},
		{"setreuid", RC(setreuid(x->r, x->e))},
		{"setregid", RC(setregid(x->gr, x->ge))},
		{"setresuid", RC(setresuid(x->r, x->e, x->s))},
		{"setresgid", RC(setresgid(x->gr, x->ge, x->gs))},
		{"setresuid_keep", RC(setresuid(-1, -1, -1))},
		{"setgroups", RC(setgroups(x->ngroups > 0 ? x->ngroups : 0, x->groups))},
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (print)
			printf("%s_%s=%s\n", who, r[i].name, ename(r[i].rc));
		bad |= r[i].rc != 0 && r[i].rc != EPERM;
	}
	struct passwd *pw = getpwuid(x->r);
	if (pw) {
		int rc = RC(initgroups(pw->pw_name, x->gr));
		/* initgroups changed the list to the user's groups: put the original back */
		int rc2 = RC(setgroups(x->ngroups > 0 ? x->ngroups : 0, x->groups));
		if (print) {
			printf("%s_initgroups=%s\n", who, ename(rc));
			printf("%s_setgroups_restore=%s\n", who, ename(rc2));
		}
	} else if (print) {
		printf("%s_initgroups=no-passwd-entry\n", who);
	}
	return bad;
}

struct tharg {
	const struct ids *x;
	int rounds;
	int bad;
};

static void *id_thread(void *arg)
{
	struct tharg *a = arg;
	for (int i = 0; i < a->rounds; i++)
		a->bad |= run_calls(a->x, i == 0, "thread");
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	if (rounds <= 0) {
		fprintf(stderr, "usage: %s [rounds>0]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct ids before, after;
	get_ids(&before);

	enum { NCOND = 6, NSLEEP = 4, NLOCK = 2, NT = NCOND + NSLEEP + NLOCK };
	pthread_t t[NT];
	int n = 0;
	for (int i = 0; i < NCOND; i++)
		pthread_create(&t[n++], NULL, cond_waiter, NULL);
	for (int i = 0; i < NSLEEP; i++)
		pthread_create(&t[n++], NULL, sleeper, NULL);
	for (int i = 0; i < NLOCK; i++)
		pthread_create(&t[n++], NULL, locker, NULL);

	int bad = 0;
	for (int i = 0; i < rounds; i++)
		bad |= run_calls(&before, i == 0, "main");

	struct tharg a = {.x = &before, .rounds = rounds};
	pthread_t it;
	pthread_create(&it, NULL, id_thread, &a);
	pthread_join(it, NULL);
	bad |= a.bad;

	/* and once more with threads being created and exiting at the same time */
	pthread_t extra[8];
	for (int i = 0; i < 8; i++) {
		pthread_create(&extra[i], NULL, cond_waiter, NULL);
		bad |= run_calls(&before, 0, "main");
	}

	atomic_store(&stopping, 1);
	pthread_mutex_lock(&mu);
	stop = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(extra[i], NULL);

	get_ids(&after);
	int same = same_ids(&before, &after);
	printf("ids_unchanged=%s\n", same ? "yes" : "no");
	printf("threads_joined=%d\n", n + 8);
	int ok = same && !bad;
	printf("SETID=%s\n", ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
