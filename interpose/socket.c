/*
 * The socket calls: recv, recvfrom, recvmsg, recvmmsg, send, sendto, sendmsg, sendmmsg,
 * accept, accept4, connect, and the creators socket and socketpair; setsockopt only
 * tells the netpoller that a cached SO_RCVTIMEO/SO_SNDTIMEO may be stale.
 *
 * A call that the program makes with MSG_DONTWAIT passes straight through.  accept has no
 * per-call non-blocking form: it is made once poll says the socket is ready, under the
 * system-call hand-off.  connect on a socket green saw created (nobody else can hold it
 * yet) sets O_NONBLOCK for the duration of the call, parks until the connection is made,
 * and restores the flags; on any other socket it is a plain call under the hand-off.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "interpose.h"

/* ---- recv, send ----------------------------------------------------------------------- */

/* a: fd, buf, len, flags, addr, addrlen (recvfrom/sendto). */
static long xfer_nowait(struct gr_io *io, enum gr_fd_kind kind)
{
	(void)kind;
	return gr_syscall6(io->mode == GR_IO_OUT ? SYS_sendto : SYS_recvfrom, io->a[0], io->a[1],
			   io->a[2], io->a[3] | MSG_DONTWAIT, io->a[4], io->a[5]);
}

static long xfer_call(struct gr_io *io)
{
	return gr_syscall6(io->mode == GR_IO_OUT ? SYS_sendto : SYS_recvfrom, io->a[0], io->a[1],
			   io->a[2], io->a[3], io->a[4], io->a[5]);
}

static bool is_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return gr_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&len, 0) ==
		       0 &&
	       type == SOCK_STREAM;
}

GR_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			   socklen_t *alen)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT))
		return gr_real.recvfrom(fd, buf, n, flags, addr, alen);
	struct gr_io io = {.fd = fd, .mode = GR_IO_IN, .nowait = xfer_nowait, .call = xfer_call,
			   .a = {fd, (long)buf, (long)n, flags, (long)addr, (long)alen}};
	long r = gr_netpoll_io(&io);
	if (!(flags & MSG_WAITALL) || r <= 0 || (size_t)r >= n || io.kind != GR_FD_SOCK ||
	    !is_stream(fd))
		return gr_ret_errno(r);
	/* MSG_WAITALL on a stream: wait for the rest, as the blocking call does. */
	size_t done = (size_t)r;
	while (done < n) {
		io.a[1] = (long)buf + (long)done;
		io.a[2] = (long)(n - done);
		r = gr_netpoll_io(&io);
		if (r <= 0 || io.nonblock)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

GR_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

GR_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
GR_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__builtin_trap(); /* glibc's __chk_fail */
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

GR_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen);
GR_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen)
{
	if (n > buflen)
		__builtin_trap();
	return recvfrom(fd, buf, n, flags, addr, alen);
}

/* A UNIX datagram sent to an address: it waits for room in the receiver's queue, which
 * no readiness of the sending socket reports (it polls writable).  Block under the
 * hand-off. */
static ssize_t unix_dgram_send(int fd, const void *buf, size_t n, int flags,
			       const struct sockaddr *addr, socklen_t alen)
{
	gr_entersyscall();
	long r = gr_syscall6(SYS_sendto, fd, (long)buf, (long)n, flags, (long)addr, alen);
	gr_exitsyscall();
	return gr_ret_errno(r);
}

/* A blocking send on a stream sends everything; datagrams go whole. */
static bool send_continues(const struct gr_io *io)
{
	return !io->nonblock && io->kind == GR_FD_SOCK;
}

GR_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT))
		return gr_real.sendto(fd, buf, n, flags, addr, alen);
	if (addr && addr->sa_family == AF_UNIX)
		return unix_dgram_send(fd, buf, n, flags, addr, alen);
	struct gr_io io = {.fd = fd, .mode = GR_IO_OUT, .nowait = xfer_nowait, .call = xfer_call,
			   .a = {fd, 0, 0, flags, (long)addr, alen}};
	return gr_ret_errno(gr_netpoll_io_all(&io, buf, n, send_continues));
}

GR_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

/* ---- recvmsg, sendmsg ----------------------------------------------------------------- */

/* a: fd, msg, flags. */
static long msg_nowait(struct gr_io *io, enum gr_fd_kind kind)
{
	(void)kind;
	return gr_syscall(io->mode == GR_IO_OUT ? SYS_sendmsg : SYS_recvmsg, io->a[0], io->a[1],
			  io->a[2] | MSG_DONTWAIT);
}

static long msg_call(struct gr_io *io)
{
	return gr_syscall(io->mode == GR_IO_OUT ? SYS_sendmsg : SYS_recvmsg, io->a[0], io->a[1],
			  io->a[2]);
}

GR_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT))
		return gr_real.recvmsg(fd, msg, flags);
	struct gr_io io = {.fd = fd, .mode = GR_IO_IN, .nowait = msg_nowait, .call = msg_call,
			   .a = {fd, (long)msg, flags}};
	return gr_ret_errno(gr_netpoll_io(&io));
}

GR_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT))
		return gr_real.sendmsg(fd, msg, flags);
	if (msg->msg_name && ((struct sockaddr *)msg->msg_name)->sa_family == AF_UNIX) {
		gr_entersyscall(); /* see unix_dgram_send */
		long r = gr_syscall(SYS_sendmsg, fd, msg, flags);
		gr_exitsyscall();
		return gr_ret_errno(r);
	}
	struct gr_io io = {.fd = fd, .mode = GR_IO_OUT, .nowait = msg_nowait, .call = msg_call,
			   .a = {fd, (long)msg, flags}};
	long r = gr_netpoll_io(&io);
	size_t total = 0;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	if (r <= 0 || (size_t)r >= total || io.nonblock || msg->msg_iovlen > 64 ||
	    !is_stream(fd))
		return gr_ret_errno(r);
	/* A short send on a stream: send the rest (without the ancillary data, which went
	 * with the first byte). */
	struct iovec copy[64], *v = copy;
	size_t cnt = msg->msg_iovlen, done = (size_t)r, skip = done;
	memcpy(copy, msg->msg_iov, cnt * sizeof(*v));
	while (done < total) {
		while (cnt && skip >= v->iov_len) {
			skip -= v->iov_len;
			v++;
			cnt--;
		}
		v->iov_base = (char *)v->iov_base + skip;
		v->iov_len -= skip;
		struct msghdr m = {.msg_iov = v, .msg_iovlen = cnt};
		io.a[1] = (long)&m;
		r = gr_netpoll_io(&io);
		if (r <= 0 || io.nonblock)
			return r <= 0 ? (ssize_t)done : (ssize_t)(done + (size_t)r);
		done += (size_t)r;
		skip = (size_t)r;
	}
	return (ssize_t)done;
}

/* ---- recvmmsg, sendmmsg --------------------------------------------------------------- */

/* a: fd, vec, vlen, flags. */
static long mmsg_nowait(struct gr_io *io, enum gr_fd_kind kind)
{
	(void)kind;
	if (io->mode == GR_IO_OUT)
		return gr_syscall4(SYS_sendmmsg, io->a[0], io->a[1], io->a[2],
				   io->a[3] | MSG_DONTWAIT);
	return gr_syscall6(SYS_recvmmsg, io->a[0], io->a[1], io->a[2], io->a[3] | MSG_DONTWAIT,
			   0, 0);
}

static long mmsg_call(struct gr_io *io)
{
	if (io->mode == GR_IO_OUT)
		return gr_syscall4(SYS_sendmmsg, io->a[0], io->a[1], io->a[2], io->a[3]);
	return gr_syscall6(SYS_recvmmsg, io->a[0], io->a[1], io->a[2], io->a[3], io->a[4], 0);
}

/* Both block until all vlen messages have gone (recvmmsg: only the first with
 * MSG_WAITFORONE), or the timeout of recvmmsg passes. */
static int mmsg(int fd, int mode, struct mmsghdr *vec, unsigned vlen, int flags,
		struct timespec *timeout)
{
	struct gr_io io = {.fd = fd, .mode = mode, .nowait = mmsg_nowait, .call = mmsg_call,
			   .a = {fd, (long)vec, vlen, flags, (long)timeout}};
	unsigned done = 0;

	if (timeout) {
		int64_t d = gr_deadline(CLOCK_MONOTONIC, timeout, false);
		if (d < 0) {
			errno = EINVAL;
			return -1;
		}
		io.deadline = d;
	}
	while (done < vlen) {
		io.a[1] = (long)(vec + done);
		io.a[2] = vlen - done;
		long r = gr_netpoll_io(&io);
		if (r < 0)
			return done ? (int)done : (int)gr_ret_errno(r);
		done += (unsigned)r;
		if (r == 0 || io.nonblock || (mode == GR_IO_IN && (flags & MSG_WAITFORONE)))
			break;
	}
	return (int)done;
}

GR_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags,
		       struct timespec *timeout)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT) || vlen == 0)
		return gr_real.recvmmsg(fd, vec, vlen, flags, timeout);
	return mmsg(fd, GR_IO_IN, vec, vlen, flags, timeout);
}

GR_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
	if (!gr_is_ready() || (flags & MSG_DONTWAIT) || vlen == 0)
		return gr_real.sendmmsg(fd, vec, vlen, flags);
	return mmsg(fd, GR_IO_OUT, vec, vlen, flags, NULL);
}

/* ---- accept, connect ------------------------------------------------------------------ */

/* a: fd, addr, addrlen, flags. */
static long accept_call(struct gr_io *io)
{
	return gr_syscall4(SYS_accept4, io->a[0], io->a[1], io->a[2], io->a[3]);
}

GR_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	if (!gr_is_ready())
		return gr_real.accept4(fd, addr, alen, flags);
	struct gr_io io = {.fd = fd, .mode = GR_IO_IN, .nowait = NULL, .call = accept_call,
			   .a = {fd, (long)addr, (long)alen, flags}};
	long r = gr_netpoll_io(&io);
	if (r >= 0)
		gr_netpoll_fd_new((int)r, GR_FD_SOCK, false);
	return (int)gr_ret_errno(r);
}

GR_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	return accept4(fd, addr, alen, 0);
}

/* Waits for a non-blocking connect in progress on fd.  Returns 0 or -errno. */
static long connect_wait(int fd)
{
	struct gr_np_token tok;
	int64_t deadline = 0;
	struct timeval tv = {0, 0};
	socklen_t len = sizeof(tv);

	if (gr_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, (long)&len, 0) ==
		    0 &&
	    (tv.tv_sec || tv.tv_usec))
		deadline = gr_nanotime() + (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
	for (;;) {
		int r = gr_netpoll_arm(fd, &tok);
		if (r)
			return r;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		struct timespec zero = {0, 0};
		if (gr_syscall6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0) > 0) {
			int err = 0;
			len = sizeof(err);
			gr_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err, (long)&len,
				    0);
			return -err;
		}
		r = gr_netpoll_park(&tok, deadline);
		if (r == -ETIMEDOUT)
			return -EINPROGRESS; /* as a blocking connect with SO_SNDTIMEO does */
		if (r)
			return r;
	}
}

GR_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
	if (!gr_is_ready())
		return gr_real.connect(fd, addr, alen);
	if (!gr_netpoll_take_fresh(fd)) {
		gr_entersyscall();
		long r = gr_syscall(SYS_connect, fd, addr, alen);
		gr_exitsyscall();
		return (int)gr_ret_errno(r);
	}
	long fl = gr_syscall(SYS_fcntl, fd, F_GETFL, 0);
	if (fl < 0)
		return (int)gr_ret_errno(fl);
	if (fl & O_NONBLOCK)
		return (int)gr_ret_errno(gr_syscall(SYS_connect, fd, addr, alen));
	gr_syscall(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
	long r = gr_syscall(SYS_connect, fd, addr, alen);
	gr_syscall(SYS_fcntl, fd, F_SETFL, fl);
	if (r == -EINPROGRESS) {
		r = connect_wait(fd);
	} else if (r == -EAGAIN) {
		/* A UNIX socket whose listener's backlog is full: nothing to poll for (an
		 * unconnected UNIX socket is always writable); block under the hand-off. */
		gr_entersyscall();
		r = gr_syscall(SYS_connect, fd, addr, alen);
		gr_exitsyscall();
	}
	return (int)gr_ret_errno(r);
}

/* ---- creation, options ---------------------------------------------------------------- */

GR_EXPORT int socket(int domain, int type, int proto)
{
	int fd = gr_real.socket(domain, type, proto);

	if (fd >= 0 && gr_is_ready())
		gr_netpoll_fd_new(fd, GR_FD_SOCK, true);
	return fd;
}

GR_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	int r = gr_real.socketpair(domain, type, proto, sv);

	if (r == 0 && gr_is_ready()) {
		gr_netpoll_fd_new(sv[0], GR_FD_SOCK, false);
		gr_netpoll_fd_new(sv[1], GR_FD_SOCK, false);
		gr_netpoll_pair(sv[0], sv[1]);
	}
	return r;
}

GR_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r = gr_real.setsockopt(fd, level, name, val, len);

	if (r == 0 && level == SOL_SOCKET &&
	    (name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == 66 /* SO_RCVTIMEO_NEW */ ||
	     name == 67 /* SO_SNDTIMEO_NEW */))
		gr_netpoll_timeo_changed();
	return r;
}
