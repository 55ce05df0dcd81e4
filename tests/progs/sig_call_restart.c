/* sig_call_restart: a thread waits in a call that the kernel never restarts once a handler
 * has run (msgrcv, semop, semtimedop, sigsuspend, pause) while main sends it SIGURG.
 *  - ignored: SIGURG at its default action (ignore), sent three times; then main ends the
 *    wait (a message, a semaphore post, SIGUSR1).  Natively an ignored signal interrupts
 *    nothing: each wait must end only with main's event.
 *  - handled: main sends SIGUSR2, which has a handler, every millisecond until the wait
 *    ends, which it must do with EINTR (sigsuspend, pause: after that handler).
 * Regression under green, whose preemption signal is SIGURG: its handler ran for the
 * ignored SIGURG and every one of those calls ended early with EINTR (sigsuspend and pause
 * as if the program's handler had run), which green's own preemption requests also did
 * when they raced the call's entry.  The handled case checks that the fix still lets a
 * handler of the program's end the call.  (Not SIGURG there: the kernel merges a
 * program's SIGURG with green's preemption signal when both are pending, a known gap.)
 * Usage: sig_call_restart [rounds=20].  Output: one line per call and case, then
 * RESTART=ok. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

enum call { MSGRCV, SEMOP, SEMTIMEDOP, SIGSUSPEND, PAUSE, NCALLS };
static const char *const names[NCALLS] = {"msgrcv", "semop", "semtimedop", "sigsuspend",
					  "pause"};

struct msg {
	long type;
	int value;
};

static int queue, sem;
static enum call call;
static volatile sig_atomic_t handled; /* the signal whose handler ran last */
static int result, result_errno;
static _Atomic int done;

static void on_signal(int sig)
{
	handled = sig;
}

static void *waiter(void *arg)
{
	struct sembuf down = {0, -1, 0};
	struct timespec ten_s = {10, 0};
	struct msg m;
	sigset_t none;

	(void)arg;
	sigemptyset(&none);
	switch (call) {
	case MSGRCV:
		result = msgrcv(queue, &m, sizeof(m.value), 1, 0) == sizeof(m.value) ? 0 : -1;
		break;
	case SEMOP:
		result = semop(sem, &down, 1);
		break;
	case SEMTIMEDOP:
		result = semtimedop(sem, &down, 1, &ten_s);
		break;
	case SIGSUSPEND:
		sigsuspend(&none);
		result = handled ? 0 : -1;
		break;
	case PAUSE:
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		pause();
		result = handled ? 0 : -1;
		break;
	default:
		break;
	}
	result_errno = errno;
	done = 1;
	return NULL;
}

static void end_wait(pthread_t t)
{
	struct sembuf up = {0, 1, 0};
	struct msg m = {1, 42};

	switch (call) {
	case MSGRCV:
		msgsnd(queue, &m, sizeof(m.value), 0);
		break;
	case SEMOP:
	case SEMTIMEDOP:
		semop(sem, &up, 1);
		break;
	default:
		pthread_kill(t, SIGUSR1);
		break;
	}
}

/* Takes back what a wait that ended early left behind. */
static void drain(void)
{
	struct sembuf down = {0, -1, IPC_NOWAIT};
	struct msg m;

	msgrcv(queue, &m, sizeof(m.value), 1, IPC_NOWAIT);
	semop(sem, &down, 1);
}

/* The ignored case: returns the rounds that went wrong. */
static int run_ignored(int rounds)
{
	struct timespec ms = {0, 1000000}, tenth = {0, 100000};
	int bad = 0;

	for (int i = 0; i < rounds; i++) {
		pthread_t t;
		handled = 0;
		result = -2;
		if (pthread_create(&t, NULL, waiter, NULL) != 0)
			return rounds;
		nanosleep(&ms, NULL); /* in its wait by now, or not yet: either is fine */
		for (int k = 0; k < 3; k++) {
			pthread_kill(t, SIGURG);
			nanosleep(&tenth, NULL);
		}
		end_wait(t);
		pthread_join(t, NULL);
		if (result != 0 || handled != (call >= SIGSUSPEND ? SIGUSR1 : 0)) {
			if (bad++ < 3)
				printf("FAIL ignored %s round %d: %s\n", names[call], i,
				       strerrorname_np(result_errno));
			drain();
		}
	}
	return bad;
}

/* The handled case: returns the rounds that went wrong. */
static int run_handled(int rounds)
{
	struct timespec ms = {0, 1000000};
	int bad = 0;

	for (int i = 0; i < rounds; i++) {
		pthread_t t;
		handled = 0;
		result = -2;
		done = 0;
		if (pthread_create(&t, NULL, waiter, NULL) != 0)
			return rounds;
		for (int k = 0; k < 5000 && !done; k++) {
			pthread_kill(t, SIGUSR2);
			nanosleep(&ms, NULL);
		}
		bool ended = done;
		if (!ended)
			end_wait(t);
		pthread_join(t, NULL);
		bool ok = ended && handled == SIGUSR2 &&
			  (call >= SIGSUSPEND || (result == -1 && result_errno == EINTR));
		if (!ok) {
			if (bad++ < 3)
				printf("FAIL handled %s round %d: ended=%d handled=%d %s\n",
				       names[call], i, ended, (int)handled,
				       strerrorname_np(result_errno));
			drain();
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20, bad_total = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t usr1;

	sigaction(SIGUSR1, &sa, NULL);
	/* SIGUSR1 reaches the waiter only inside sigsuspend or pause. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	queue = msgget(IPC_PRIVATE, 0600);
	sem = semget(IPC_PRIVATE, 1, 0600);
	if (queue < 0 || sem < 0) {
		printf("FAIL msgget/semget: %s\n", strerror(errno));
		return 1;
	}
	for (call = 0; call < NCALLS; call++) {
		int bad = run_ignored(rounds);
		printf("ignored %s=%s\n", names[call], bad ? "FAIL" : "ok");
		bad_total += bad;
	}
	sigaction(SIGUSR2, &sa, NULL);
	for (call = 0; call < NCALLS; call++) {
		int bad = run_handled(rounds);
		printf("handled %s=%s\n", names[call], bad ? "FAIL" : "ok");
		bad_total += bad;
	}
	msgctl(queue, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	printf("RESTART=%s\n", bad_total ? "FAIL" : "ok");
	return bad_total != 0;
}
