/* sig_sigqueue_wait: rounds of a thread waiting in sigwaitinfo for SIGRTMIN+1 while main
 * sleeps 1 ms and pthread_sigqueue's it a value.  Each round the waiter must get exactly
 * that signal, value and SI_QUEUE, and main's sleep must end.  Regressions under green:
 * green's preemption signal, asked for just before the waiter's call, ended the wait with
 * EINTR (a few rounds in a thousand at GREEN_MAXPROCS=1); main's sleep never ended when
 * its timer sat on the P of the waiter's call (a hang within 20 rounds at 2).
 * Usage: sig_sigqueue_wait [rounds=300].  Output: SIGQUEUE=ok (or FAIL lines). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int got_sig, got_errno, got_value, got_code;

static void *waiter(void *arg)
{
	sigset_t s;
	siginfo_t si;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	memset(&si, 0, sizeof(si));
	got_sig = sigwaitinfo(&s, &si);
	got_errno = errno;
	got_value = si.si_value.sival_int;
	got_code = si.si_code;
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 300, bad = 0;
	struct timespec ms = {0, 1000000};
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	for (int i = 0; i < rounds; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, waiter, NULL) != 0) {
			printf("FAIL pthread_create\n");
			return 1;
		}
		nanosleep(&ms, NULL); /* in sigwaitinfo by now, or not yet: either way it gets it */
		int rc = pthread_sigqueue(t, SIGRTMIN + 1, (union sigval){.sival_int = i});
		pthread_join(t, NULL);
		if (rc != 0 || got_sig != SIGRTMIN + 1 || got_value != i || got_code != SI_QUEUE) {
			if (bad++ < 10)
				printf("FAIL round %d: rc=%d sig=%d errno=%s value=%d code=%d\n", i, rc,
				       got_sig, strerrorname_np(got_errno), got_value, got_code);
		}
	}
	printf("SIGQUEUE=%s\n", bad ? "FAIL" : "ok");
	printf("rounds=%d\n", rounds);
	return bad != 0;
}
