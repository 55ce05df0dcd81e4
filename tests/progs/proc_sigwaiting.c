/*
 * proc_sigwaiting - a process-directed signal that arrives while every thread waits: the
 * kernel picks a thread that does not block it (the main thread first) and interrupts
 * its blocking call.  CPython's signal tests depend on it (SIGALRM during os.read or
 * socket.sendall, the Python handler raising).
 *
 * Usage: proc_sigwaiting CASE
 *   eintr     the main thread reads an empty pipe; a SIGALRM handler without SA_RESTART
 *             makes the read fail with EINTR
 *   restart   the same with SA_RESTART; the handler writes a byte into the pipe, which the
 *             restarted read returns
 *   others    eintr while a second thread, with every signal blocked, waits to read a
 *             second pipe (so only the main thread may take the signal)
 *   default   SIGALRM at its default action while the main thread reads: the process ends
 *             by SIGALRM
 *   pause     the main thread waits in pause(), a system call: the kernel delivers the
 *             signal to it directly (green's sysmon must not take it first)
 *   poll, select, epoll
 *             the main thread waits (5 s at most) for the pipe to be readable; the handler
 *             has SA_RESTART, and still the wait fails with EINTR: the kernel never
 *             restarts these calls (signal(7))
 * Prints `name=value` lines (facts only) and `END=ok`; the test compares stdout and the
 * exit status natively and under green.  The timer repeats every 20 ms until the case is
 * over, so a signal that comes before the read starts is simply followed by another.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

static int fds[2];
static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	handled = 1;
	if (write(fds[1], "x", 1) < 0) /* restart: the restarted read returns it */
		handled = 2;
	errno = saved;
}

static void on_alarm_quiet(int sig)
{
	(void)sig;
	handled = 1;
}

static void timer(long us)
{
	struct itimerval it = {{0, us}, {0, us}};

	setitimer(ITIMER_REAL, &it, NULL);
}

static void install(void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigaction(SIGALRM, &sa, NULL);
}

/* Reads one byte of the pipe; prints what the read returned. */
static void read_one(void)
{
	char c;
	ssize_t n = read(fds[0], &c, 1);
	int err = errno;

	timer(0);
	printf("read=%zd\n", n);
	printf("errno=%s\n", n < 0 ? strerrorname_np(err) : "-");
	printf("handler_ran=%s\n", handled == 1 ? "yes" : "no");
}

/* Waits for the pipe to be readable with the call named by how; prints its result. */
static void wait_readable(const char *how)
{
	int r = -1;

	if (strcmp(how, "poll") == 0) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		r = poll(&p, 1, 5000);
	} else if (strcmp(how, "select") == 0) {
		fd_set in;
		struct timeval tv = {5, 0};
		FD_ZERO(&in);
		FD_SET(fds[0], &in);
		r = select(fds[0] + 1, &in, NULL, NULL, &tv);
	} else {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event e = {.events = EPOLLIN}, out;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &e);
		r = epoll_wait(ep, &out, 1, 5000);
	}
	int err = errno;
	timer(0);
	printf("%s=%d\n", how, r);
	printf("errno=%s\n", r < 0 ? strerrorname_np(err) : "-");
	printf("handler_ran=%s\n", handled ? "yes" : "no");
}

static int stop[2];

static void *waiter(void *arg)
{
	char c;

	(void)arg;
	return read(stop[0], &c, 1) == 1 ? NULL : arg;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(fds) != 0)
		return 1;
	if (strcmp(c, "eintr") == 0) {
		install(on_alarm_quiet, 0);
		timer(20000);
		read_one();
	} else if (strcmp(c, "restart") == 0) {
		install(on_alarm, SA_RESTART);
		timer(20000);
		read_one();
	} else if (strcmp(c, "others") == 0) {
		sigset_t all, old;
		pthread_t t;
		install(on_alarm_quiet, 0);
		if (pipe(stop) != 0)
			return 1;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_create(&t, NULL, waiter, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		timer(20000);
		read_one();
		if (write(stop[1], "x", 1) != 1)
			return 1;
		pthread_join(t, NULL);
	} else if (strcmp(c, "pause") == 0) {
		install(on_alarm_quiet, SA_RESTART);
		timer(20000);
		int r = pause();
		int err = errno;
		timer(0);
		printf("pause=%d\nerrno=%s\nhandler_ran=%s\n", r, strerrorname_np(err),
		       handled ? "yes" : "no");
	} else if (!strcmp(c, "poll") || !strcmp(c, "select") || !strcmp(c, "epoll")) {
		install(on_alarm_quiet, SA_RESTART);
		timer(20000);
		wait_readable(c);
	} else if (strcmp(c, "default") == 0) {
		timer(20000);
		read_one(); /* never returns: SIGALRM's default action ends the process */
	} else {
		fprintf(stderr, "usage: proc_sigwaiting eintr|restart|others|default|pause|poll|"
				"select|epoll\n");
		return 2;
	}
	printf("END=ok\n");
	return 0;
}
