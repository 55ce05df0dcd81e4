/*
 * thread_tid - thread ids as programs use them: gettid(), syscall(SYS_gettid), tgkill and
 * tkill by those ids, and the ids in a forked child.
 *
 * Prints one KEY=ok|FAIL line per check, then TID=ok when all passed:
 *   MAIN      main's gettid() and syscall(SYS_gettid) are the pid
 *   THREADS   4 live threads: ids that are not the pid, the same from both calls, distinct
 *   SELFKILL  tgkill(pid, own id), syscall(SYS_tgkill) and syscall(SYS_tkill) run the
 *             SIGUSR1 handler in the calling thread (the handler sees the caller's id)
 *   OTHERKILL tgkill of another thread's id wakes its sigwait for SIGUSR2; so does
 *             tgkill of main's id (the pid) for main's sigwait
 *   PENDING   a blocked signal sent to main by id shows in main's sigpending, not in
 *             another thread's, and no longer once sigwait took it
 *   BADKILL   tgkill of an ended thread's id fails with ESRCH
 *   FORK      in a child forked by a thread, gettid() and syscall(SYS_gettid) are the
 *             child's pid
 *   TIDADDR   in a thread, set_tid_address(2) returns the thread's own id (stress-ng's
 *             pthread stressor checks it), prctl(PR_GET_TID_ADDRESS) reports what the
 *             thread set (NULL, then a word of its own), and when the thread ends the
 *             word is zeroed and a FUTEX_WAIT on it is woken, as the kernel does
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 4

static int fails;
static _Atomic pid_t handled_in;
static pthread_barrier_t bar;
static pid_t ids[NT];
static _Atomic pid_t waiter_id;

static void report(const char *key, int ok)
{
	printf("%s=%s\n", key, ok ? "ok" : "FAIL");
	fails += !ok;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handled_in, gettid());
}

static int self_kill(void)
{
	pid_t me = gettid();
	int ok = 1;

	atomic_store(&handled_in, 0);
	ok &= tgkill(getpid(), me, SIGUSR1) == 0 && atomic_load(&handled_in) == me;
	atomic_store(&handled_in, 0);
	ok &= syscall(SYS_tgkill, getpid(), me, SIGUSR1) == 0 && atomic_load(&handled_in) == me;
	atomic_store(&handled_in, 0);
	ok &= syscall(SYS_tkill, me, SIGUSR1) == 0 && atomic_load(&handled_in) == me;
	return ok;
}

static void *idler(void *arg)
{
	long i = (long)arg;
	ids[i] = gettid();
	if (ids[i] != (pid_t)syscall(SYS_gettid))
		ids[i] = -1;
	pthread_barrier_wait(&bar); /* all live at once */
	pthread_barrier_wait(&bar);
	return NULL;
}

static void *self_killer(void *arg)
{
	return (void *)(long)self_kill() + (long)arg * 0;
}

static void *sigwaiter(void *arg)
{
	sigset_t set;
	int sig = 0;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	atomic_store(&waiter_id, gettid());
	sigwait(&set, &sig);
	return (void *)(long)(sig == SIGUSR2);
}

static void *forker(void *arg)
{
	(void)arg;
	pid_t child = fork();
	if (child == 0)
		_exit(gettid() == getpid() && syscall(SYS_gettid) == getpid() ? 0 : 1);
	int st = 0;
	if (child < 0 || waitpid(child, &st, 0) != child)
		return (void *)0L;
	return (void *)(long)(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int usr2_pending(void)
{
	sigset_t p;
	sigpending(&p);
	return sigismember(&p, SIGUSR2);
}

static void *pending_here(void *arg)
{
	(void)arg;
	return (void *)(long)usr2_pending();
}

static _Atomic int tid_word = 1; /* zeroed by the kernel (or green) as tid_setter ends */
static _Atomic int tid_setter_ok;

/* Detached: a native thread whose clear_child_tid no longer points at its own tid field
 * cannot be joined (glibc's join waits for that field to be cleared). */
static void *tid_setter(void *arg)
{
	unsigned long dflt = 0, now = 1, mine = 0;
	int ok = prctl(PR_GET_TID_ADDRESS, &dflt) == 0 && dflt != 0;
	ok &= syscall(SYS_set_tid_address, NULL) == gettid();
	ok &= prctl(PR_GET_TID_ADDRESS, &now) == 0 && now == 0;
	ok &= syscall(SYS_set_tid_address, (int *)&tid_word) == gettid();
	ok &= syscall(SYS_prctl, PR_GET_TID_ADDRESS, &mine, 0, 0, 0) == 0 &&
	      mine == (unsigned long)&tid_word;
	atomic_store(&tid_setter_ok, ok);
	return arg;
}

/* Waits (up to about 10 s) for tid_setter to end and clear tid_word. */
static int tid_address(void)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, tid_setter, NULL))
		return 0;
	for (int i = 0; i < 100 && atomic_load(&tid_word) != 0; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		/* Shared, as the kernel's wake of a clear_child_tid word is. */
		syscall(SYS_futex, &tid_word, FUTEX_WAIT, 1, &ts, NULL, 0);
	}
	return atomic_load(&tid_word) == 0 && atomic_load(&tid_setter_ok);
}

static long run(void *(*fn)(void *))
{
	pthread_t t;
	void *r = NULL;
	if (pthread_create(&t, NULL, fn, NULL) || pthread_join(t, &r))
		return 0;
	return (long)r;
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* inherited: only sigwait takes it */

	report("MAIN", gettid() == getpid() && syscall(SYS_gettid) == getpid());

	pthread_t t[NT];
	pthread_barrier_init(&bar, NULL, NT + 1);
	for (long i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, idler, (void *)i);
	pthread_barrier_wait(&bar);
	int ok = 1;
	for (int i = 0; i < NT; i++) {
		ok &= ids[i] > 0 && ids[i] != getpid();
		for (int j = 0; j < i; j++)
			ok &= ids[i] != ids[j];
	}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	report("THREADS", ok);

	report("SELFKILL", self_kill() && run(self_killer));

	pthread_t w;
	pthread_create(&w, NULL, sigwaiter, NULL);
	while (!atomic_load(&waiter_id))
		sched_yield();
	/* The id is published just before sigwait: a signal sent earlier stays pending
	 * (SIGUSR2 is blocked) and sigwait takes it all the same. */
	ok = tgkill(getpid(), atomic_load(&waiter_id), SIGUSR2) == 0;
	void *r = NULL;
	pthread_join(w, &r);
	ok &= r != NULL;
	int sig = 0;
	ok &= tgkill(getpid(), getpid(), SIGUSR2) == 0 && sigwait(&usr2, &sig) == 0 &&
	      sig == SIGUSR2;
	report("OTHERKILL", ok);

	ok = tgkill(getpid(), gettid(), SIGUSR2) == 0 && usr2_pending() && !run(pending_here);
	ok &= sigwait(&usr2, &sig) == 0 && sig == SIGUSR2 && !usr2_pending();
	report("PENDING", ok);

	pid_t ended = ids[0];
	report("BADKILL", tgkill(getpid(), ended, 0) == -1 && errno == ESRCH);

	report("FORK", run(forker));
	report("TIDADDR", tid_address());
	printf("TID=%s\n", fails ? "FAIL" : "ok");
	return fails != 0;
}
