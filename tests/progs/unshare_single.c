/* unshare_single: a process that is single-threaded natively must be so under green too,
 * or unshare(CLONE_NEWUSER) fails with EINVAL (so does setns into a user namespace).
 *  - main, before it has made a thread or waited on anything: its thread count, then
 *    unshare(CLONE_NEWUSER) in a child it forks (so the parent keeps its namespace);
 *  - after a thread has come and gone, a forked child: unshare(CLONE_NEWUSER) there.
 * Each result is 0 or the errno's name: where the machine allows no user namespaces it
 * is EPERM natively, and must be the same under green.  Regression: green started its
 * monitor thread with the process, and `unshare -U` failed under green with EINVAL.
 * Output: threads=N, main=..., after_thread=..., UNSHARE=done. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* unshare(CLONE_NEWUSER) in a forked child; prints its result under name. */
static void unshare_in_child(const char *name)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
	int st = 0;
	waitpid(pid, &st, 0);
	int e = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	printf("%s=%s\n", name, e == 0 ? "0" : e < 0 ? "crashed" : strerrorname_np(e));
}

static void *nothing(void *arg)
{
	return arg;
}

int main(void)
{
	printf("threads=%d\n", threads());
	unshare_in_child("main");
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) == 0)
		pthread_join(t, NULL);
	unshare_in_child("after_thread");
	printf("UNSHARE=done\n");
	return 0;
}
