/*
 * sig_m_start [trials] - a process-directed signal that every thread blocks, sent while
 * green starts a new M.  Each trial runs in a fork child, whose first pthread_create makes
 * green start an M for its second P; the child then blocks SIGUSR2, kill()s itself with
 * it (no thread takes it: it stays pending for the process), waits until every other
 * thread has started, and collects it with sigwait.  SIGUSR2 is at its default action, so
 * a thread that takes it ends the child.
 *
 * The new M's thread must not start before the child has blocked SIGUSR2, so the process
 * runs on one CPU, under SCHED_BATCH: a thread just cloned waits for the CPU while the
 * child, which does not sleep in the kernel until the kill, goes on.  Under green before
 * the fix, that thread inherited the mask of the G that ran on the M which cloned it
 * (SIGUSR2 open), and took the signal as glibc's start_thread set that mask.
 *
 * Prints `KILLED_BY_SIGUSR2=<trials that died of it> OTHER_FAILURES=<n>`, then `START=ok`
 * when both are 0 (20 trials by default).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *noop(void *arg)
{
	return arg;
}

/* Puts the calling thread, and so every thread it creates, on one CPU it may use, under
 * SCHED_BATCH, whose threads never preempt the running one when they wake: a thread just
 * cloned waits for the CPU until the creator sleeps or its time slice ends. */
static void one_cpu(void)
{
	struct sched_param sp = {0};
	cpu_set_t set;

	sched_setscheduler(0, SCHED_BATCH, &sp);

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set)) {
			CPU_ZERO(&set);
			CPU_SET(c, &set);
			sched_setaffinity(0, sizeof(set), &set);
			return;
		}
	}
}

/* True when thread tid of this process has gone to sleep at least once of its own accord:
 * a new M has then run past glibc's start_thread (an idle M sleeps in a futex wait). */
static int started(const char *tid)
{
	char path[320], line[256];
	unsigned long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	if (!(f = fopen(path, "r")))
		return 1; /* gone */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lu", &n) == 1)
			break;
	fclose(f);
	return n > 0;
}

/* Waits until every thread but the caller has started (the new M).  Each look sleeps a
 * millisecond first, which lets the other threads run on the one CPU. */
static void wait_others_started(void)
{
	for (int tries = 0; tries < 5000; tries++) {
		struct timespec ms = {0, 1000 * 1000};
		nanosleep(&ms, NULL);
		/* The OS thread that runs this look: under green, not the one gettid names. */
		char link[64] = "", *self;
		if (readlink("/proc/thread-self", link, sizeof(link) - 1) < 0 ||
		    !(self = strrchr(link, '/')))
			return;
		self++;
		DIR *d = opendir("/proc/self/task");
		if (!d)
			return;
		int all = 1;
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0 &&
			    !started(e->d_name))
				all = 0;
		closedir(d);
		if (all)
			return;
	}
}

/* One trial, in a child of its own, so that its first pthread_create starts a new M. */
static void trial(void)
{
	pthread_t t;
	sigset_t s;
	int sig = 0;

	pthread_create(&t, NULL, noop, NULL);
	pthread_join(t, NULL);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGUSR2);
	wait_others_started();
	_exit(sigwait(&s, &sig) == 0 && sig == SIGUSR2 ? 0 : 1);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, killed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	one_cpu();
	for (int i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();
		if (pid == 0)
			trial();
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			failed++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2)
			killed++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	printf("KILLED_BY_SIGUSR2=%d OTHER_FAILURES=%d\n", killed, failed);
	printf("START=%s\n", killed || failed ? "failed" : "ok");
	return 0;
}
