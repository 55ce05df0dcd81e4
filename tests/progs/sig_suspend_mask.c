/*
 * sig_suspend_mask - the thread's mask after sigsuspend ran a handler that signalled its
 * own thread (pthread_kill of pthread_self()).  Under green that handler loaded the
 * suspend mask into the M, the handler's return put the old mask back in the kernel, and
 * green's record of the M's mask still said the suspend mask, so a later pthread_sigmask
 * to that mask left the old one in the kernel:
 *  - opens: the suspend mask blocks less than the mask before (here nothing), and
 *    unblocking the signal afterwards must let pthread_kill of the thread itself run its
 *    handler before returning (under green it stayed pending);
 *  - blocks: the suspend mask blocks SIGUSR2, then the thread blocks SIGUSR2 the same way
 *    and kill()s the process with it, at its default action: it must stay pending until
 *    sigwait takes it (under green it killed the process);
 *  - other_thread: a thread born with the suspend mask, which it never changes, runs
 *    after the sigsuspend (with GREEN_MAXPROCS=1 on the same M) and signals itself with
 *    pthread_kill: its handler must run before pthread_kill returns.
 * No timing.  Prints one line per case, then `SUSPEND=ok`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t nusr1, nother;
static int other_sig;

/* Ends the sigsuspend: signals its own thread, which runs on_other at once. */
static void on_usr1(int sig)
{
	(void)sig;
	if (nusr1++ == 0)
		pthread_kill(pthread_self(), other_sig);
}

static void on_other(int sig)
{
	(void)sig;
	nother++;
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigaction(sig, &sa, NULL);
}

static void set1(sigset_t *s, int sig)
{
	sigemptyset(s);
	if (sig)
		sigaddset(s, sig);
}

/* Blocks SIGUSR1, sends it to this thread (pending), and sigsuspends with suspend_mask:
 * on_usr1 runs in sigsuspend. */
static void suspend_once(const sigset_t *suspend_mask)
{
	sigset_t usr1;

	nusr1 = nother = 0;
	set1(&usr1, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &usr1, NULL);
	pthread_kill(pthread_self(), SIGUSR1);
	sigsuspend(suspend_mask);
}

/* Third case: a thread whose mask is the suspend mask runs after the sigsuspend (with
 * one P, on the same M) and signals itself. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go, self_handled;

static void *same_mask_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	int before = nusr1;
	pthread_kill(pthread_self(), SIGUSR1);
	self_handled = nusr1 == before + 1;
	return NULL;
}

int main(void)
{
	sigset_t none, usr1, usr2;
	pthread_t t;
	int sig = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	other_sig = SIGRTMIN + 2;
	install(SIGUSR1, on_usr1);
	install(other_sig, on_other);
	set1(&none, 0);
	set1(&usr1, SIGUSR1);
	set1(&usr2, SIGUSR2);

	suspend_once(&none);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	pthread_kill(pthread_self(), SIGUSR1);
	printf("opens: in_suspend=%d,%d after_unblock=%d\n", nusr1 >= 1, nother, nusr1);

	suspend_once(&usr2);
	pthread_sigmask(SIG_SETMASK, &usr2, NULL);
	kill(getpid(), SIGUSR2);
	if (sigwait(&usr2, &sig) != 0)
		sig = 0;
	printf("blocks: in_suspend=%d,%d sigwait=%s\n", nusr1, nother,
	       sig ? sigabbrev_np(sig) : "none");

	pthread_sigmask(SIG_SETMASK, &usr2, NULL);
	pthread_create(&t, NULL, same_mask_thread, NULL); /* born with the suspend mask */
	suspend_once(&usr2);
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	printf("other_thread: in_suspend=%d,%d handled_at_once=%d\n", nusr1 >= 1, nother,
	       self_handled);
	printf("SUSPEND=ok\n");
	return 0;
}
