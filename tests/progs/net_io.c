/*
 * net_io: blocking I/O on every descriptor kind the netpoller handles, with ordinary
 * blocking calls, the way a thread-per-connection program uses them.  Each case prints
 * NAME=ok or NAME=FAIL(reason); the preload suite runs it natively and under green and
 * wants the same lines.  Usage: net_io [case ...] (default: every case but closewait).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static char fail[256];

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c) && !fail[0])                                                      \
			snprintf(fail, sizeof fail, "%s:%d:%s(errno=%d)", __func__, __LINE__, \
				 #c, errno);                                               \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg))
		abort();
	return t;
}

static void join(pthread_t t)
{
	pthread_join(t, NULL);
}

/* A loopback TCP listener on an ephemeral port.  Its backlog holds every connection of
 * case_many at once: with 128, a loaded machine overflowed it, the kernel reset one of
 * the 200 connections, and the acceptor waited forever for it. */
static int listener(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1024))
		abort();
	getsockname(s, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return s;
}

static int dial(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&a, sizeof a)) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int read_full(int fd, void *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)b + got, n - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

/* ---- pipes ---------------------------------------------------------------------------- */

static int pp[2];

static void *pipe_echoer(void *arg)
{
	int *q = arg; /* q[0]: read end of the reply pipe's peer... see case_pipe */
	char c;
	for (int i = 0; i < 1000; i++) {
		if (read(pp[0], &c, 1) != 1)
			return (void *)1;
		c++;
		if (write(q[1], &c, 1) != 1)
			return (void *)1;
	}
	return NULL;
}

static void case_pipe(void)
{
	int q[2];
	void *ret;
	CHECK(pipe(pp) == 0 && pipe(q) == 0);
	pthread_t t = spawn(pipe_echoer, q);
	for (int i = 0; i < 1000; i++) {
		char c = (char)i, r = 0;
		CHECK(write(pp[1], &c, 1) == 1);
		CHECK(read(q[0], &r, 1) == 1 && r == (char)(c + 1));
	}
	pthread_join(t, &ret);
	CHECK(ret == NULL);
	/* EOF, then EPIPE. */
	close(pp[1]);
	char c;
	CHECK(read(pp[0], &c, 1) == 0);
	close(q[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK(write(q[1], "x", 1) == -1 && errno == EPIPE);
	close(pp[0]);
	close(q[1]);
}

/* Pipes and socketpairs whose both ends green created: a write wakes the reader directly
 * (shim/netpoll.c), and writes no hook sees (libc's own stdio writes, a dup of an end, a
 * raw system call) still reach a blocked reader; closing one end gives the other EOF or
 * EPIPE. */
static int pr_fd;
static char pr_buf[64];
static ssize_t pr_got;

static void *paired_reader(void *arg)
{
	(void)arg;
	pr_got = read(pr_fd, pr_buf, sizeof pr_buf - 1);
	return NULL;
}

/* Starts a reader blocked on fd, lets it block, runs unblock(fd2), and checks what the
 * reader got: want bytes, or 0 for EOF. */
static void paired_check(int fd, void (*unblock)(int), int fd2, const char *want)
{
	struct timespec ts = {0, 20000000};
	pr_fd = fd;
	pr_got = -2;
	memset(pr_buf, 0, sizeof pr_buf);
	pthread_t t = spawn(paired_reader, NULL);
	nanosleep(&ts, NULL); /* the reader has (most likely) blocked; correct either way */
	unblock(fd2);
	join(t);
	if (want)
		CHECK(pr_got == (ssize_t)strlen(want) && strcmp(pr_buf, want) == 0);
	else
		CHECK(pr_got == 0);
}

static void unblock_stdio(int fd)
{
	FILE *f = fdopen(fd, "w"); /* stdio writes with libc's internal write: no hook */
	CHECK(f && fputs("stdio", f) >= 0 && fflush(f) == 0);
	if (f)
		fclose(f); /* closes fd too, through libc's internal close */
}

static void unblock_dup(int fd)
{
	int d = dup(fd);
	CHECK(d >= 0 && write(d, "dup", 3) == 3);
	close(d);
}

static void unblock_raw(int fd)
{
	CHECK(syscall(SYS_write, fd, "raw", 3) == 3);
}

static void unblock_close(int fd)
{
	close(fd);
}

static void unblock_shutdown(int fd)
{
	CHECK(shutdown(fd, SHUT_WR) == 0);
}

static int pw_fd;
static ssize_t pw_ret;
static int pw_errno;

static void *paired_writer(void *arg)
{
	static char big[1 << 20];
	(void)arg;
	pw_ret = write(pw_fd, big, sizeof big);
	pw_errno = errno;
	return NULL;
}

static int sh_fd;

static void selfpipe_handler(int sig)
{
	(void)sig;
	int e = errno;
	if (write(sh_fd, "sig", 3) != 3)
		abort();
	errno = e;
}

/* The self-pipe trick: a signal handler writes to the pipe a thread reads. */
static void unblock_signal(int fd)
{
	struct sigaction sa = {.sa_handler = selfpipe_handler, .sa_flags = SA_RESTART};
	sh_fd = fd;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(raise(SIGUSR1) == 0);
	signal(SIGUSR1, SIG_DFL);
}

static void case_paired(void)
{
	int p[2], s[2];
	CHECK(pipe(p) == 0);
	paired_check(p[0], unblock_dup, p[1], "dup");
	paired_check(p[0], unblock_raw, p[1], "raw");
	paired_check(p[0], unblock_signal, p[1], "sig");
	paired_check(p[0], unblock_stdio, p[1], "stdio"); /* closes p[1] */
	CHECK(read(p[0], pr_buf, 1) == 0);
	close(p[0]);

	CHECK(pipe(p) == 0);
	paired_check(p[0], unblock_close, p[1], NULL);
	close(p[0]);

	/* A writer blocked on a full pipe: the reader's close ends its write (the part
	 * written, or EPIPE). */
	CHECK(pipe(p) == 0);
	pw_fd = p[1];
	pthread_t t = spawn(paired_writer, NULL);
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	close(p[0]);
	join(t);
	CHECK(pw_ret > 0 || (pw_ret == -1 && pw_errno == EPIPE));
	close(p[1]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	paired_check(s[0], unblock_raw, s[1], "raw");
	paired_check(s[0], unblock_shutdown, s[1], NULL);
	close(s[0]);
	close(s[1]);
}

/* 1 MiB with one write() into a pipe whose reader is slow: it all goes, and green never
 * sets O_NONBLOCK on the descriptor. */
static size_t slow_got;

static void *slow_reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];
	ssize_t r;
	int n = 0;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		slow_got += r;
		if (++n % 64 == 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void case_bigwrite(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int fl0 = fcntl(p[1], F_GETFL);
	slow_got = 0;
	pthread_t t = spawn(slow_reader, &p[0]);
	static char big[1 << 20];
	memset(big, 'b', sizeof big);
	CHECK(write(p[1], big, sizeof big) == (ssize_t)sizeof big);
	CHECK(fcntl(p[1], F_GETFL) == fl0);
	close(p[1]);
	join(t);
	CHECK(slow_got == sizeof big);
	close(p[0]);
}

/* The stdout check (not in the default set: it writes 2 MiB to stdout): 1 MiB with write()
 * and 1 MiB with fwrite() to stdout, a pipe the test reads; stdio's own writes, which no
 * hook sees, must not meet an O_NONBLOCK green left behind. */
static void case_stdout(void)
{
	static char big[1 << 20];
	memset(big, 's', sizeof big);
	big[sizeof big - 1] = '\n';
	int fl0 = fcntl(1, F_GETFL);
	fflush(stdout);
	size_t done = 0;
	while (done < sizeof big) {
		ssize_t w = write(1, big + done, sizeof big - done);
		if (w <= 0)
			break;
		done += w;
	}
	CHECK(done == sizeof big);
	struct pollfd pf = {.fd = 1, .events = POLLOUT};
	CHECK(poll(&pf, 1, 5000) == 1);
	CHECK(fwrite(big, 1, sizeof big, stdout) == sizeof big);
	CHECK(fflush(stdout) == 0 && !ferror(stdout));
	CHECK(fcntl(1, F_GETFL) == fl0);
}

/* ---- the program's own O_NONBLOCK ----------------------------------------------------- */

static void case_nonblock(void)
{
	int p[2], sv[2];
	char c;
	/* First, before anything changes a descriptor's flags: a non-blocking pipe made by a
	 * raw system call, as an inherited one is, which no hook saw (green once read its
	 * never-filled flag cache as "blocking" and parked the reader for good). */
	CHECK(syscall(SYS_pipe2, p, O_NONBLOCK) == 0);
	CHECK(read(p[0], &c, 1) == -1 && errno == EAGAIN);
	close(p[0]);
	close(p[1]);
	CHECK(pipe(p) == 0);
	CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) == 0);
	CHECK(read(p[0], &c, 1) == -1 && errno == EAGAIN);
	int d = dup(p[0]); /* shares the open file description, and so the flag */
	CHECK(read(d, &c, 1) == -1 && errno == EAGAIN);
	int off = 0;
	CHECK(ioctl(p[0], FIONBIO, &off) == 0); /* blocking again, through the other fd */
	CHECK(!(fcntl(d, F_GETFL) & O_NONBLOCK));
	close(d);
	close(p[0]);
	close(p[1]);
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK(read(p[0], &c, 1) == -1 && errno == EAGAIN);
	/* A full pipe with O_NONBLOCK: a short write, then EAGAIN. */
	static char big[1 << 17];
	ssize_t w = write(p[1], big, sizeof big);
	CHECK(w > 0 && w < (ssize_t)sizeof big);
	CHECK(write(p[1], big, sizeof big) == -1 && errno == EAGAIN);
	close(p[0]);
	close(p[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(recv(sv[0], &c, 1, 0) == -1 && errno == EAGAIN);
	CHECK(read(sv[0], &c, 1) == -1 && errno == EAGAIN);
	close(sv[0]);
	close(sv[1]);
	/* MSG_DONTWAIT on a blocking socket. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(recv(sv[0], &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

/* ---- timeouts ------------------------------------------------------------------------- */

static void case_timeouts(void)
{
	int sv[2], p[2];
	char c;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct timeval tv = {0, 100000};
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	double t0 = now_ms();
	CHECK(read(sv[0], &c, 1) == -1 && errno == EAGAIN);
	double el = now_ms() - t0;
	CHECK(el >= 90 && el < 5000);
	t0 = now_ms();
	CHECK(recv(sv[0], &c, 1, 0) == -1 && errno == EAGAIN);
	CHECK(now_ms() - t0 >= 90);
	/* SO_SNDTIMEO on a full socket. */
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
	static char big[1 << 16];
	ssize_t w;
	long total = 0;
	while ((w = send(sv[1], big, sizeof big, 0)) > 0)
		total += w;
	CHECK(w == -1 && errno == EAGAIN && total > 0);
	close(sv[0]);
	close(sv[1]);
	/* poll, select, epoll_wait with timeouts on an empty pipe. */
	CHECK(pipe(p) == 0);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	t0 = now_ms();
	CHECK(poll(&pf, 1, 50) == 0);
	CHECK(now_ms() - t0 >= 45);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	struct timeval stv = {0, 50000};
	t0 = now_ms();
	CHECK(select(p[0] + 1, &rs, NULL, NULL, &stv) == 0 && !FD_ISSET(p[0], &rs));
	CHECK(now_ms() - t0 >= 45);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]}, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	t0 = now_ms();
	CHECK(epoll_wait(ep, out, 4, 50) == 0);
	CHECK(now_ms() - t0 >= 45);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* Timeouts that change after a socket has waited, on an unpaired (TCP) socket: green caches
 * them per descriptor life, and keeps them apart from the descriptor only when set. */
static int tw_fd;
static long tw_delay_ms;

static void *timed_writer(void *arg)
{
	(void)arg;
	struct timespec ts = {tw_delay_ms / 1000, tw_delay_ms % 1000 * 1000000};
	nanosleep(&ts, NULL);
	CHECK(write(tw_fd, "t", 1) == 1);
	return NULL;
}

/* Reads one byte from fd while a thread writes one to peer after delay_ms.  Returns read's
 * result; *el gets the time it took. */
static ssize_t read_late_byte(int fd, int peer, long delay_ms, double *el)
{
	char c;
	tw_fd = peer;
	tw_delay_ms = delay_ms;
	pthread_t t = spawn(timed_writer, NULL);
	double t0 = now_ms();
	ssize_t r = read(fd, &c, 1);
	*el = now_ms() - t0;
	join(t);
	return r;
}

static ssize_t read_timed(int fd, double *el)
{
	char c;
	double t0 = now_ms();
	ssize_t r = read(fd, &c, 1);
	*el = now_ms() - t0;
	return r;
}

static void set_rcvtimeo(int fd, long ms)
{
	struct timeval tv = {ms / 1000, ms % 1000 * 1000};
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
}

static void case_timeo_change(void)
{
	int port, ls = listener(&port);
	int s = dial(port), a = accept(ls, NULL, NULL);
	double el;
	CHECK(s >= 0 && a >= 0);
	/* No timeout yet: the read waits for the byte. */
	CHECK(read_late_byte(a, s, 50, &el) == 1);
	/* Set after that wait: it applies. */
	set_rcvtimeo(a, 100);
	CHECK(read_timed(a, &el) == -1 && errno == EAGAIN && el >= 90 && el < 5000);
	/* Changed through a duplicate: it applies to the original too. */
	int d = dup(a);
	set_rcvtimeo(d, 200);
	CHECK(read_timed(a, &el) == -1 && errno == EAGAIN && el >= 180 && el < 5000);
	close(d);
	/* Cleared: reads wait past the old timeout, the first and the next. */
	set_rcvtimeo(a, 0);
	CHECK(read_late_byte(a, s, 250, &el) == 1 && el >= 200);
	CHECK(read_late_byte(a, s, 250, &el) == 1 && el >= 200);
	/* A new descriptor with the old number does not inherit it. */
	set_rcvtimeo(a, 100);
	close(a);
	int s2 = dial(port), a2 = accept(ls, NULL, NULL);
	CHECK(s2 >= 0 && a2 >= 0);
	CHECK(read_late_byte(a2, s2, 250, &el) == 1 && el >= 200);
	close(a2);
	close(s2);
	close(s);
	close(ls);
}

/* ---- poll, select, epoll_wait woken by another thread --------------------------------- */

static int wake_fd;

static void *late_writer(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	CHECK(write(wake_fd, "w", 1) == 1);
	return NULL;
}

static void case_pollwait(void)
{
	int a[2], b[2];
	char c;
	CHECK(pipe(a) == 0 && pipe(b) == 0);
	/* poll on two fds: the second becomes ready. */
	wake_fd = b[1];
	pthread_t t = spawn(late_writer, NULL);
	struct pollfd pf[2] = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}};
	CHECK(poll(pf, 2, 5000) == 1 && !pf[0].revents && (pf[1].revents & POLLIN));
	join(t);
	CHECK(read(b[0], &c, 1) == 1);
	/* poll on one fd, no timeout. */
	t = spawn(late_writer, NULL);
	struct pollfd one = {.fd = b[0], .events = POLLIN};
	CHECK(poll(&one, 1, -1) == 1 && (one.revents & POLLIN));
	join(t);
	CHECK(read(b[0], &c, 1) == 1);
	/* select. */
	t = spawn(late_writer, NULL);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(a[0], &rs);
	FD_SET(b[0], &rs);
	CHECK(select((a[0] > b[0] ? a[0] : b[0]) + 1, &rs, NULL, NULL, NULL) == 1 &&
	      FD_ISSET(b[0], &rs) && !FD_ISSET(a[0], &rs));
	join(t);
	CHECK(read(b[0], &c, 1) == 1);
	/* The program's own epoll instance. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, b[0], &ev) == 0);
	t = spawn(late_writer, NULL);
	CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u32 == 7);
	join(t);
	CHECK(read(b[0], &c, 1) == 1);
	close(ep);
	/* ppoll with a timeout that does not expire. */
	t = spawn(late_writer, NULL);
	struct timespec ts = {5, 0};
	CHECK(ppoll(&one, 1, &ts, NULL) == 1);
	join(t);
	CHECK(read(b[0], &c, 1) == 1);
	/* POLLNVAL for a closed fd. */
	struct pollfd bad = {.fd = a[0], .events = POLLIN};
	close(a[0]);
	CHECK(poll(&bad, 1, 1000) == 1 && (bad.revents & POLLNVAL));
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* ---- eventfd, timerfd ----------------------------------------------------------------- */

static void *late_event(void *arg)
{
	uint64_t five = 5;
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	CHECK(write(*(int *)arg, &five, 8) == 8);
	return NULL;
}

static void case_eventfd(void)
{
	int e = eventfd(0, 0);
	uint64_t v = 0;
	pthread_t t = spawn(late_event, &e);
	CHECK(read(e, &v, 8) == 8 && v == 5); /* blocks until the other thread writes */
	join(t);
	int tf = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = {.it_value = {0, 30000000}};
	CHECK(timerfd_settime(tf, 0, &its, NULL) == 0);
	double t0 = now_ms();
	CHECK(read(tf, &v, 8) == 8 && v == 1);
	CHECK(now_ms() - t0 >= 25);
	close(tf);
	close(e);
}

/* ---- TCP ------------------------------------------------------------------------------ */

static int lsock;

static void *tcp_server(void *arg)
{
	(void)arg;
	for (int k = 0; k < 2; k++) {
		int c = accept(lsock, NULL, NULL);
		if (c < 0)
			return (void *)1;
		char buf[64];
		ssize_t r;
		while ((r = read(c, buf, sizeof buf)) > 0)
			if (write(c, buf, r) != r)
				break;
		close(c);
	}
	return NULL;
}

static void case_tcp(void)
{
	int port;
	char buf[64];
	lsock = listener(&port);
	pthread_t t = spawn(tcp_server, NULL);
	int s = dial(port);
	CHECK(s >= 0);
	/* write/read */
	CHECK(write(s, "hello", 5) == 5 && read_full(s, buf, 5) == 0 && !memcmp(buf, "hello", 5));
	/* send/recv with MSG_WAITALL */
	CHECK(send(s, "0123456789", 10, 0) == 10);
	CHECK(recv(s, buf, 10, MSG_WAITALL) == 10 && !memcmp(buf, "0123456789", 10));
	/* writev/readv */
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	CHECK(writev(s, iov, 2) == 4);
	char x[2], y[2];
	struct iovec in[2] = {{x, 2}, {y, 2}};
	CHECK(read_full(s, buf, 0) == 0);
	size_t got = 0;
	while (got < 4) {
		ssize_t r = readv(s, in, 2);
		if (r <= 0)
			break;
		got += r;
		if (got < 4) { /* rare: a short read; take the rest plainly */
			CHECK(read_full(s, buf, 4 - got) == 0);
			got = 4;
			memcpy(x, "ab", 2);
			memcpy(y, "cd", 2);
		}
	}
	CHECK(got == 4 && !memcmp(x, "ab", 2) && !memcmp(y, "cd", 2));
	/* sendmsg/recvmsg */
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	CHECK(sendmsg(s, &m, 0) == 4);
	struct msghdr mr = {.msg_iov = in, .msg_iovlen = 2};
	CHECK(recvmsg(s, &mr, MSG_WAITALL) == 4 && !memcmp(x, "ab", 2));
	/* sendto/recvfrom */
	CHECK(sendto(s, "zz", 2, 0, NULL, 0) == 2);
	CHECK(recvfrom(s, buf, 2, MSG_WAITALL, NULL, NULL) == 2 && !memcmp(buf, "zz", 2));
	close(s);
	/* The server sees EOF and takes the next connection. */
	s = dial(port);
	CHECK(s >= 0);
	CHECK(write(s, "again", 5) == 5 && read_full(s, buf, 5) == 0);
	shutdown(s, SHUT_WR);
	CHECK(read(s, buf, 1) == 0); /* the server closed after our EOF */
	close(s);
	void *ret;
	pthread_join(t, &ret);
	CHECK(ret == NULL);
	close(lsock);
	/* ECONNREFUSED: nobody listens on the port any more. */
	CHECK(dial(port) == -1 && errno == ECONNREFUSED);
}

static void *reset_server(void *arg)
{
	(void)arg;
	int c = accept(lsock, NULL, NULL);
	char b;
	if (c >= 0 && read(c, &b, 1) == 1) {
		struct linger l = {1, 0};
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		close(c); /* RST */
	}
	return NULL;
}

static void case_reset(void)
{
	int port;
	char b;
	lsock = listener(&port);
	pthread_t t = spawn(reset_server, NULL);
	int s = dial(port);
	CHECK(s >= 0 && write(s, "r", 1) == 1);
	CHECK(read(s, &b, 1) == -1 && errno == ECONNRESET);
	join(t);
	close(s);
	close(lsock);
}

/* ---- UDP: sendmmsg/recvmmsg ----------------------------------------------------------- */

static void case_udp(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(b, (struct sockaddr *)&sa, sizeof sa) == 0);
	getsockname(b, (struct sockaddr *)&sa, &len);
	CHECK(connect(a, (struct sockaddr *)&sa, sizeof sa) == 0);
	char d[4][8], r[4][8];
	struct mmsghdr out[4], in[4];
	struct iovec oi[4], ii[4];
	for (int i = 0; i < 4; i++) {
		snprintf(d[i], 8, "dg%d", i);
		oi[i] = (struct iovec){d[i], 4};
		ii[i] = (struct iovec){r[i], 8};
		out[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &oi[i], .msg_iovlen = 1}};
		in[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &ii[i], .msg_iovlen = 1}};
	}
	CHECK(sendmmsg(a, out, 4, 0) == 4);
	CHECK(recvmmsg(b, in, 4, 0, NULL) == 4 && !strcmp(r[3], "dg3"));
	CHECK(send(a, "one", 4, 0) == 4);
	CHECK(recvmmsg(b, in, 4, MSG_WAITFORONE, NULL) == 1 && !strcmp(r[0], "one"));
	close(a);
	close(b);
}

/* ---- many connections: thread per connection ------------------------------------------ */

#define NCONN 200
static int many_rounds = 50;

static void *many_conn(void *arg)
{
	int fd = (int)(long)arg;
	char buf[16];
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, r) != r)
			break;
	close(fd);
	return NULL;
}

static void *many_client(void *arg)
{
	int port = (int)(long)arg;
	int s = dial(port);
	if (s < 0) {
		fprintf(stderr, "many: dial: %s\n", strerror(errno));
		return (void *)1;
	}
	char buf[16];
	for (int i = 0; i < many_rounds; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		if (write(s, buf, sizeof buf) != sizeof buf || read_full(s, buf, sizeof buf)) {
			fprintf(stderr, "many: round %d: %s\n", i, strerror(errno));
			return (void *)1;
		}
		if (buf[15] != 'a' + i % 26)
			return (void *)1;
	}
	close(s);
	return NULL;
}

static void *many_acceptor(void *arg)
{
	pthread_t *ts = arg;
	for (int i = 0; i < NCONN; i++) {
		int c = accept(lsock, NULL, NULL);
		if (c < 0) {
			fprintf(stderr, "many: accept: %s\n", strerror(errno));
			return (void *)1;
		}
		ts[i] = spawn(many_conn, (void *)(long)c);
	}
	return NULL;
}

static void case_many(void)
{
	int port;
	static pthread_t srv[NCONN], cl[NCONN];
	lsock = listener(&port);
	pthread_t acc = spawn(many_acceptor, srv);
	for (int i = 0; i < NCONN; i++)
		cl[i] = spawn(many_client, (void *)(long)port);
	int bad = 0;
	for (int i = 0; i < NCONN; i++) {
		void *ret;
		pthread_join(cl[i], &ret);
		bad += ret != NULL;
	}
	void *ret;
	pthread_join(acc, &ret);
	CHECK(ret == NULL && bad == 0);
	for (int i = 0; i < NCONN; i++)
		join(srv[i]);
	close(lsock);
}

/* Connections made and closed by many threads at once: fd numbers are reused while other
 * threads close theirs (regression: a socket that got the number of an fd whose close
 * was between its two life bumps saw EBADF from connect). */
static void case_churn(void)
{
	many_rounds = 1;
	for (int i = 0; i < 5 && !fail[0]; i++)
		case_many();
	many_rounds = 50;
}

/* ---- sendfile and splice into a pipe whose reader is another thread ------------------ */

static int sf_pipe[2];

static void *sf_reader(void *arg)
{
	size_t *got = arg;
	char buf[4096];
	ssize_t r;
	while ((r = read(sf_pipe[0], buf, sizeof buf)) > 0)
		*got += r;
	return NULL;
}

static void case_sendfile(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/green-net-sf-%d", (int)getpid());
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	static char big[256 << 10];
	memset(big, 'f', sizeof big);
	CHECK(f >= 0 && write(f, big, sizeof big) == (ssize_t)sizeof big);
	unlink(path);
	CHECK(pipe(sf_pipe) == 0);
	size_t got = 0;
	pthread_t t = spawn(sf_reader, &got);
	off_t off = 0;
	size_t sent = 0;
	while (sent < sizeof big) { /* 256 KiB through a 64 KiB pipe: it must wait */
		ssize_t r = sendfile(sf_pipe[1], f, &off, sizeof big - sent);
		if (r <= 0)
			break;
		sent += r;
	}
	CHECK(sent == sizeof big);
	loff_t loff = 0;
	sent = 0;
	while (sent < sizeof big) {
		ssize_t r = splice(f, &loff, sf_pipe[1], NULL, sizeof big - sent, 0);
		if (r <= 0)
			break;
		sent += r;
	}
	CHECK(sent == sizeof big);
	close(sf_pipe[1]);
	join(t);
	CHECK(got == 2 * sizeof big);
	close(sf_pipe[0]);
	close(f);
}

/* ---- more calls: accept timeouts and flags, MSG_PEEK, select for writing, epoll_pwait2 -- */

static void case_misc(void)
{
	int port;
	char c;
	int ls = listener(&port);
	/* SO_RCVTIMEO bounds accept too. */
	struct timeval tv = {0, 50000};
	CHECK(setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	double t0 = now_ms();
	CHECK(accept(ls, NULL, NULL) == -1 && errno == EAGAIN);
	CHECK(now_ms() - t0 >= 45);
	/* accept4 with SOCK_NONBLOCK: the new socket is non-blocking, the listener is not. */
	int s = dial(port);
	int a = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	CHECK(s >= 0 && a >= 0);
	CHECK(read(a, &c, 1) == -1 && errno == EAGAIN);
	CHECK(!(fcntl(ls, F_GETFL) & O_NONBLOCK));
	/* MSG_PEEK leaves the data. */
	CHECK(write(s, "pk", 2) == 2);
	char b[2];
	struct pollfd pf = {.fd = a, .events = POLLIN};
	CHECK(poll(&pf, 1, 5000) == 1);
	CHECK(recv(a, b, 2, MSG_PEEK | MSG_WAITALL) == 2 && recv(a, b, 2, 0) == 2 &&
	      !memcmp(b, "pk", 2));
	/* select for writing: a connected socket is writable at once. */
	fd_set ws;
	FD_ZERO(&ws);
	FD_SET(s, &ws);
	struct timeval stv = {5, 0};
	CHECK(select(s + 1, NULL, &ws, NULL, &stv) == 1 && FD_ISSET(s, &ws));
	/* epoll_pwait2 with a timeout that expires, then with data. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3}, out[2];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
	struct timespec ts = {0, 30000000};
	t0 = now_ms();
	CHECK(epoll_pwait2(ep, out, 2, &ts, NULL) == 0 && now_ms() - t0 >= 25);
	CHECK(write(s, "e", 1) == 1);
	ts.tv_sec = 5;
	CHECK(epoll_pwait2(ep, out, 2, &ts, NULL) == 1 && out[0].data.u32 == 3);
	close(ep);
	close(a);
	close(s);
	close(ls);
}

/* ---- closefrom: the program's descriptors go, blocking I/O keeps working -------------- */

static void *cr_writer(void *arg)
{
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	CHECK(write(*(int *)arg, "c", 1) == 1);
	return NULL;
}

static void case_closefrom(void)
{
	int p[2], sv[2];
	char c;
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "x", 1) == 1 && read(p[0], &c, 1) == 1); /* the netpoller is up */
	closefrom(3);
	CHECK(fcntl(p[0], F_GETFD) == -1 && errno == EBADF);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pthread_t t = spawn(cr_writer, &sv[1]);
	CHECK(read(sv[0], &c, 1) == 1 && c == 'c'); /* parks until the other thread writes */
	join(t);
	CHECK(pipe(p) == 0);
	CHECK(close_range(p[0], p[1], 0) == 0);
	CHECK(close(p[0]) == -1 && errno == EBADF);
	close(sv[0]);
	close(sv[1]);
}

/* ---- FIFO ----------------------------------------------------------------------------- */

static char fifo_path[64];

static void *fifo_writer(void *arg)
{
	(void)arg;
	int w = open(fifo_path, O_WRONLY);
	if (w < 0 || write(w, "fifo", 4) != 4)
		return (void *)1;
	close(w);
	return NULL;
}

static void case_fifo(void)
{
	snprintf(fifo_path, sizeof fifo_path, "/tmp/green-net-io-%d", (int)getpid());
	unlink(fifo_path);
	CHECK(mkfifo(fifo_path, 0600) == 0);
	/* Opens that do not block (a blocking open is the system-call hand-off's business):
	 * then the read end is made blocking, and our own write end keeps EOF away until the
	 * other thread has written. */
	int r = open(fifo_path, O_RDONLY | O_NONBLOCK);
	int w = open(fifo_path, O_WRONLY);
	CHECK(r >= 0 && w >= 0 && fcntl(r, F_SETFL, 0) == 0);
	pthread_t t = spawn(fifo_writer, NULL);
	char buf[8];
	CHECK(read_full(r, buf, 4) == 0 && !memcmp(buf, "fifo", 4));
	join(t);
	close(w);
	CHECK(read(r, buf, 1) == 0);
	close(r);
	unlink(fifo_path);
}

/* ---- close while blocked (green only: Linux may leave the reader blocked) -------------- */

static int cw_fd;
static int cw_result, cw_errno;

static void *cw_reader(void *arg)
{
	(void)arg;
	char c;
	cw_result = (int)read(cw_fd, &c, 1);
	cw_errno = errno;
	return NULL;
}

static void *cw_acceptor(void *arg)
{
	(void)arg;
	cw_result = accept(cw_fd, NULL, NULL);
	cw_errno = errno;
	if (cw_result >= 0)
		close(cw_result);
	return NULL;
}

static void case_closewait(void)
{
	int p[2], sv[2];
	CHECK(pipe(p) == 0);
	cw_fd = p[0];
	pthread_t t = spawn(cw_reader, NULL);
	struct timespec ts = {0, 50000000}; /* let the reader block (either outcome is checked) */
	nanosleep(&ts, NULL);
	close(p[0]);
	CHECK(write(p[1], "x", 1) == 1 || errno == EPIPE); /* wakes a native reader */
	join(t);
	printf("closewait_pipe=%s\n", cw_result == -1 && cw_errno == EBADF ? "EBADF" : "data");
	close(p[1]);
	/* dup2 over a socket a reader waits on. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	cw_fd = sv[0];
	t = spawn(cw_reader, NULL);
	nanosleep(&ts, NULL);
	int n = open("/dev/null", O_RDONLY);
	dup2(n, sv[0]);
	CHECK(write(sv[1], "x", 1) == 1 || errno == EPIPE); /* EPIPE: no reader in the kernel */
	join(t);
	printf("closewait_dup2=%s\n", cw_result == -1 && cw_errno == EBADF ? "EBADF" : "data");
	close(n);
	close(sv[0]);
	close(sv[1]);
	/* close of a listening socket a thread is blocked in accept on. */
	int port;
	cw_fd = listener(&port);
	t = spawn(cw_acceptor, NULL);
	nanosleep(&ts, NULL);
	close(cw_fd);
	int c = dial(port); /* natively the socket still listens: this wakes the acceptor */
	join(t);
	printf("closewait_accept=%s\n", cw_result == -1 && cw_errno == EBADF ? "EBADF" : "conn");
	if (c >= 0)
		close(c);
}

struct net_case {
	const char *name;
	void (*fn)(void);
};

static const struct net_case cases[] = {
	{"pipe", case_pipe},
	{"paired", case_paired},
	{"bigwrite", case_bigwrite},
	{"nonblock", case_nonblock},
	{"timeouts", case_timeouts},
	{"timeo_change", case_timeo_change},
	{"pollwait", case_pollwait},
	{"eventfd", case_eventfd},
	{"stdout", case_stdout},
	{"tcp", case_tcp},
	{"reset", case_reset},
	{"udp", case_udp},
	{"many", case_many},
	{"churn", case_churn},
	{"fifo", case_fifo},
	{"sendfile", case_sendfile},
	{"misc", case_misc},
	{"closefrom", case_closefrom},
	{"closewait", case_closewait},
};

int main(int argc, char **argv)
{
	int nfail = 0;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int want = argc == 1 && strcmp(cases[i].name, "closewait") != 0 &&
			   strcmp(cases[i].name, "stdout") != 0;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], cases[i].name);
		if (!want)
			continue;
		fail[0] = 0;
		cases[i].fn();
		printf("%s=%s%s\n", cases[i].name, fail[0] ? "FAIL:" : "ok", fail);
		nfail += fail[0] != 0;
	}
	printf("net_io=%s\n", nfail ? "FAIL" : "ok");
	return nfail != 0;
}
