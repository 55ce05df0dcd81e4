/*
 * proc_fds - the descriptors a program sees are its own: a runtime under it keeps none at
 * the low numbers that open() hands out next, none across exec, and none in a process
 * that has made no thread, and survives the program closing or dup2'ing over every
 * number it did not open.  (CPython's test_subprocess lists a child's descriptors.)
 *
 * Usage: proc_fds            the checks below, one `name=value` line each, then END=ok
 *        proc_fds child LIST (run by the checks through exec) prints the descriptors that
 *                            are open and not in LIST (comma-separated), then exits
 * Descriptors inherited through exec (open at start without FD_CLOEXEC: with it they
 * would not have survived the exec) are left out of every listing; one open at start
 * with FD_CLOEXEC was made in this process before main.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXFD 1024

static char inherited[MAXFD];
static char mine[MAXFD]; /* opened by this program (kept out of the listings) */

/* Prints name=the open descriptors that are neither inherited nor mine (below below). */
static void list(const char *name, int below)
{
	DIR *d = opendir("/proc/self/fd");
	int self = dirfd(d), n = 0;
	char out[4096] = "";

	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == self || fd >= below ||
		    (fd < MAXFD && (inherited[fd] || mine[fd])))
			continue;
		n += snprintf(out + n, sizeof out - n, "%s%d", n ? "," : "", fd);
	}
	closedir(d);
	printf("%s=%s\n", name, n ? out : "none");
}

static int pp[2];

static void *writer(void *arg)
{
	(void)arg;
	return write(pp[1], "x", 1) == 1 ? NULL : arg;
}

/* A read that may have to wait for a thread's write: threads and the netpoller at work. */
static const char *threaded_io(void)
{
	pthread_t t;
	char c = 0;

	if (pipe2(pp, O_CLOEXEC) != 0)
		return "pipe2";
	mine[pp[0]] = mine[pp[1]] = 1;
	pthread_create(&t, NULL, writer, NULL);
	ssize_t n = read(pp[0], &c, 1);
	pthread_join(t, NULL);
	close(pp[0]);
	close(pp[1]);
	mine[pp[0]] = mine[pp[1]] = 0;
	return n == 1 && c == 'x' ? "ok" : "read";
}

/* Runs this program as `child LIST` (LIST: the inherited descriptors) and waits. */
static void exec_child(const char *self)
{
	char arg[4096] = "";
	int n = 0;

	for (int fd = 0; fd < MAXFD; fd++)
		if (inherited[fd])
			n += snprintf(arg + n, sizeof arg - n, "%s%d", n ? "," : "", fd);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "child", arg, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		for (char *p = argv[2]; *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
			inherited[atoi(p)] = 1;
		list("exec_child_fds", MAXFD);
		return 0;
	}
	for (int fd = 0; fd < MAXFD; fd++) {
		int fl = fcntl(fd, F_GETFD);
		inherited[fd] = fl >= 0 && !(fl & FD_CLOEXEC);
	}
	list("fds_before_any_thread", MAXFD);
	printf("threaded_io=%s\n", threaded_io());
	/* Below 64: where the program's next descriptors go, and where a fork child's
	 * dup2 puts them. */
	list("low_fds_after_threads", 64);
	exec_child(argv[0]);

	close_range(3, ~0u, 0); /* a daemon's closefrom(3) */
	memset(inherited, 0, sizeof inherited);
	inherited[0] = inherited[1] = inherited[2] = 1;
	printf("threaded_io_after_closefrom=%s\n", threaded_io());

	/* dup2 onto every number this program did not open, then close them all. */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int fd = 3; fd < MAXFD; fd++)
		if (fd != null)
			dup2(null, fd);
	close_range(3, ~0u, 0);
	printf("threaded_io_after_dup2_everywhere=%s\n", threaded_io());
	list("low_fds_at_end", 64);
	printf("END=ok\n");
	return 0;
}
