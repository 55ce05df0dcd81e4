/*
 * proc_signal - signals at thread granularity: pthread_kill of a thread parked in a
 * condition wait, asleep, busy, or blocking the signal; per-thread masks; sigwait with
 * kill(); pthread_sigqueue's value through sigwaitinfo; sigsuspend; raise.
 *
 * Prints one `name=value` line per check (facts only: no times, tids or addresses), so the
 * preload test compares the whole stdout natively and under green.  Ordering uses mutexes,
 * condition variables and pipes; no check relies on a sleep to order events, except that
 * a sleeping thread is the target of a signal (it is woken by the signal, so the sleep is
 * long and never the thing waited for).  Final line: `END=ok`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile pthread_t handler_self;
static volatile sig_atomic_t handler_count;
static atomic_int stage;

static void on_sig(int sig)
{
	(void)sig;
	handler_self = pthread_self();
	handler_count++;
}

static void install(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

static void set_stage(int s)
{
	pthread_mutex_lock(&mu);
	atomic_store(&stage, s);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void wait_stage(int s)
{
	pthread_mutex_lock(&mu);
	while (atomic_load(&stage) < s)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* 1. A thread in pthread_cond_wait runs the handler; the wait returns (spuriously). */
static volatile int cond_woken;
static void *in_cond(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	atomic_store(&stage, 1);
	pthread_cond_broadcast(&cv);
	while (!handler_count)
		pthread_cond_wait(&cv, &mu);
	cond_woken = 1;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* 2. nanosleep is interrupted with EINTR, even under SA_RESTART. */
static int sleep_ret, sleep_errno;
static void *in_sleep(void *a)
{
	(void)a;
	set_stage(1);
	struct timespec ts = {30, 0};
	sleep_ret = nanosleep(&ts, NULL);
	sleep_errno = errno;
	return NULL;
}

/* 3. A busy thread (no blocking call) runs the handler. */
static void *busy(void *a)
{
	(void)a;
	set_stage(1);
	/* Yields now and then only so that main runs when green has one P and no
	 * preemption; with more Ps the signal reaches it while it spins. */
	for (unsigned long i = 1; !handler_count; i++)
		if (i % (1ul << 24) == 0)
			sched_yield();
	return NULL;
}

/* 4. A thread that blocks the signal gets it when it unblocks. */
static int blocked_before, blocked_after;
static void *blocker(void *a)
{
	(void)a;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	set_stage(1);
	wait_stage(2); /* main has sent the signal */
	blocked_before = handler_count;
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	blocked_after = handler_count;
	return NULL;
}

/* 5. All threads block SIGUSR2; one sigwaits; main kill()s the process. */
static int nwaited;
static void *sigwaiter(void *a)
{
	int n = (int)(long)a;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	for (int i = 0; i < n; i++) {
		int sig;
		if (sigwait(&s, &sig) || sig != SIGUSR2)
			break;
		pthread_mutex_lock(&mu);
		nwaited++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* 6. pthread_sigqueue's value reaches sigwaitinfo. */
static int q_sig, q_value, q_code_queue;
static void *qwaiter(void *a)
{
	(void)a;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	set_stage(1);
	siginfo_t si;
	q_sig = sigwaitinfo(&s, &si);
	q_value = si.si_value.sival_int;
	q_code_queue = si.si_code == SI_QUEUE;
	return NULL;
}

/* 7. sigsuspend returns -1/EINTR after the handler ran in this thread. */
static int susp_ret, susp_errno, susp_in_self;
static void *suspender(void *a)
{
	(void)a;
	sigset_t s, empty;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	set_stage(1);
	sigemptyset(&empty);
	susp_ret = sigsuspend(&empty);
	susp_errno = errno;
	susp_in_self = pthread_equal(handler_self, pthread_self());
	return NULL;
}

/* 8. raise() in a thread runs the handler in that thread. */
static int raise_in_self;
static void *raiser(void *a)
{
	(void)a;
	raise(SIGUSR1);
	raise_in_self = handler_count == 1 && pthread_equal(handler_self, pthread_self());
	return NULL;
}

static void *exits_now(void *a)
{
	(void)a;
	set_stage(1);
	return NULL;
}

static void reset(void)
{
	handler_count = 0;
	handler_self = 0;
	atomic_store(&stage, 0);
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	reset();
	pthread_create(&t, NULL, fn, arg);
	wait_stage(1);
	return t;
}

int main(void)
{
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	install(SIGUSR1, SA_RESTART);

	t = start(in_cond, NULL);
	pthread_mutex_lock(&mu); /* the thread is in pthread_cond_wait once we get the lock */
	pthread_mutex_unlock(&mu);
	pthread_kill(t, SIGUSR1);
	/* The handler may restart the wait (glibc's futex wait does): wake it until it has
	 * seen the handler run. */
	for (;;) {
		pthread_mutex_lock(&mu);
		int done = cond_woken;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		if (done)
			break;
		sched_yield();
	}
	pthread_join(t, NULL);
	printf("cond_handler_in_target=%s cond_woken=%d\n",
	       pthread_equal(handler_self, t) ? "yes" : "no", cond_woken);

	t = start(in_sleep, NULL);
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL); /* let it reach nanosleep (the signal ends its sleep anyway) */
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	printf("sleep_handler_in_target=%s sleep_ret=%d sleep_errno=%s\n",
	       pthread_equal(handler_self, t) ? "yes" : "no", sleep_ret, strerrorname_np(sleep_errno));

	t = start(busy, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	printf("busy_handler_in_target=%s\n", pthread_equal(handler_self, t) ? "yes" : "no");

	t = start(blocker, NULL);
	pthread_kill(t, SIGUSR1);
	set_stage(2);
	pthread_join(t, NULL);
	printf("blocked_before=%d blocked_after=%d blocked_in_target=%s\n", blocked_before,
	       blocked_after, pthread_equal(handler_self, t) ? "yes" : "no");

	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	int n = 100;
	reset();
	pthread_create(&t, NULL, sigwaiter, (void *)(long)n);
	for (int i = 0; i < n; i++) {
		kill(getpid(), SIGUSR2);
		pthread_mutex_lock(&mu);
		while (nwaited <= i)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	}
	pthread_join(t, NULL);
	printf("sigwait_received=%d\n", nwaited);

	t = start(qwaiter, NULL);
	nanosleep(&ts, NULL); /* either way the signal is queued: in sigwaitinfo or pending */
	pthread_sigqueue(t, SIGRTMIN + 1, (union sigval){.sival_int = 4242});
	pthread_join(t, NULL);
	printf("sigqueue_sig_ok=%s sigqueue_value=%d sigqueue_code=%s\n",
	       q_sig == SIGRTMIN + 1 ? "yes" : "no", q_value, q_code_queue ? "SI_QUEUE" : "other");

	t = start(suspender, NULL);
	nanosleep(&ts, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	printf("sigsuspend_ret=%d sigsuspend_errno=%s sigsuspend_in_self=%s\n", susp_ret,
	       strerrorname_np(susp_errno), susp_in_self ? "yes" : "no");

	reset();
	pthread_create(&t, NULL, raiser, NULL);
	pthread_join(t, NULL);
	printf("raise_in_self=%s\n", raise_in_self ? "yes" : "no");

	/* An exited thread that is not joined yet takes the signal (glibc 2.34+: 0, not
	 * ESRCH); alive or exited, the answer is the same, so no timing matters. */
	reset();
	pthread_create(&t, NULL, exits_now, NULL);
	wait_stage(1);
	int k0 = pthread_kill(t, 0), k1 = pthread_kill(t, SIGUSR2);
	pthread_join(t, NULL);
	printf("kill_exited=%s,%s kill_badsig=%s\n", strerrorname_np(k0), strerrorname_np(k1),
	       strerrorname_np(pthread_kill(pthread_self(), 99)));

	struct timespec to = {0, 50 * 1000 * 1000};
	int r = sigtimedwait(&s, NULL, &to);
	printf("sigtimedwait_ret=%d errno=%s\n", r, strerrorname_np(errno));
	printf("END=ok\n");
	return 0;
}
