/*
 * read, write, readv, writev, sendfile, splice, pipe, pipe2, close, dup2, dup3 (and the
 * fortified __read_chk).  Each blocking call becomes a struct gr_io for the netpoller
 * (shim/netpoll.c): a socket or pipe parks the G while the call would block; a regular
 * file makes the call under the system-call hand-off.
 *
 * A blocking write on a socket or pipe writes everything natively (barring signals and
 * timeouts); the non-blocking form may write part, so write and writev carry on where it
 * stopped unless the program set O_NONBLOCK itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/sendfile.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "interpose.h"

#define IOV_COPY 64 /* iovecs copied to continue a short writev; more: return short */

/* ---- read, write ---------------------------------------------------------------------- */

static long rw_nowait(struct gr_io *io, enum gr_fd_kind kind)
{
	bool out = io->mode == GR_IO_OUT;

	if (kind == GR_FD_SOCK)
		return gr_syscall6(out ? SYS_sendto : SYS_recvfrom, io->a[0], io->a[1], io->a[2],
				   MSG_DONTWAIT, 0, 0);
	struct iovec iov = {(void *)io->a[1], (size_t)io->a[2]};
	return gr_syscall6(out ? SYS_pwritev2 : SYS_preadv2, io->a[0], (long)&iov, 1, -1, 0,
			   RWF_NOWAIT);
}

static long rw_call(struct gr_io *io)
{
	return gr_syscall(io->mode == GR_IO_OUT ? SYS_write : SYS_read, io->a[0], io->a[1],
			  io->a[2]);
}

GR_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!gr_is_ready())
		return gr_real.read(fd, buf, n);
	struct gr_io io = {.fd = fd, .mode = GR_IO_IN, .nowait = rw_nowait, .call = rw_call,
			   .a = {fd, (long)buf, (long)n}};
	return gr_ret_errno(gr_netpoll_io(&io));
}

GR_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
GR_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__builtin_trap(); /* glibc's __chk_fail: a buffer overflow caught */
	return read(fd, buf, n);
}

/* Whether a short write made without blocking is continued (see the top). */
static bool write_continues(const struct gr_io *io)
{
	return !io->nonblock && (io->kind == GR_FD_SOCK || io->kind == GR_FD_PIPE);
}

GR_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!gr_is_ready())
		return gr_real.write(fd, buf, n);
	struct gr_io io = {.fd = fd, .mode = GR_IO_OUT, .nowait = rw_nowait, .call = rw_call,
			   .a = {fd}};
	return gr_ret_errno(gr_netpoll_io_all(&io, buf, n, write_continues));
}

/* ---- readv, writev -------------------------------------------------------------------- */

static long rwv_nowait(struct gr_io *io, enum gr_fd_kind kind)
{
	bool out = io->mode == GR_IO_OUT;

	if (kind == GR_FD_SOCK) {
		struct msghdr m = {.msg_iov = (struct iovec *)io->a[1], .msg_iovlen = io->a[2]};
		return gr_syscall(out ? SYS_sendmsg : SYS_recvmsg, io->a[0], &m, MSG_DONTWAIT);
	}
	return gr_syscall6(out ? SYS_pwritev2 : SYS_preadv2, io->a[0], io->a[1], io->a[2], -1, 0,
			   RWF_NOWAIT);
}

static long rwv_call(struct gr_io *io)
{
	return gr_syscall(io->mode == GR_IO_OUT ? SYS_writev : SYS_readv, io->a[0], io->a[1],
			  io->a[2]);
}

GR_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (!gr_is_ready())
		return gr_real.readv(fd, iov, cnt);
	struct gr_io io = {.fd = fd, .mode = GR_IO_IN, .nowait = rwv_nowait, .call = rwv_call,
			   .a = {fd, (long)iov, cnt}};
	return gr_ret_errno(gr_netpoll_io(&io));
}

/* Drops the first n bytes of the iovec array *iov (of *cnt entries), in place. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

GR_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (!gr_is_ready())
		return gr_real.writev(fd, iov, cnt);
	struct gr_io io = {.fd = fd, .mode = GR_IO_OUT, .nowait = rwv_nowait, .call = rwv_call,
			   .a = {fd, (long)iov, cnt}};
	long r = gr_netpoll_io(&io);
	size_t total = 0;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (r < 0 || (size_t)r >= total || r == 0 || !write_continues(&io) || cnt > IOV_COPY)
		return gr_ret_errno(r);
	struct iovec copy[IOV_COPY], *v = copy;
	int n = cnt;
	size_t done = (size_t)r;
	memcpy(copy, iov, sizeof(*iov) * cnt);
	iov_advance(&v, &n, done);
	while (done < total) {
		io.a[1] = (long)v;
		io.a[2] = n;
		r = gr_netpoll_io(&io);
		if (r <= 0 || !write_continues(&io))
			return r < 0 ? (ssize_t)done : (ssize_t)(done + (size_t)r);
		done += (size_t)r;
		iov_advance(&v, &n, (size_t)r);
	}
	return (ssize_t)done;
}

/* ---- sendfile, splice ---------------------------------------------------------------- */

/* No per-call non-blocking form that covers both ends: wait until the pollable end is
 * ready, then make the call under the system-call hand-off.  a: the six arguments. */
static long sendfile_call(struct gr_io *io)
{
	return gr_syscall4(SYS_sendfile, io->a[0], io->a[1], io->a[2], io->a[3]);
}

GR_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	if (!gr_is_ready())
		return gr_real.sendfile(out, in, off, count);
	struct gr_io io = {.fd = out, .mode = GR_IO_OUT, .call = sendfile_call,
			   .a = {out, in, (long)off, (long)count}};
	return gr_ret_errno(gr_netpoll_io(&io));
}

static long splice_call(struct gr_io *io)
{
	return gr_syscall6(SYS_splice, io->a[0], io->a[1], io->a[2], io->a[3], io->a[4],
			   io->a[5]);
}

GR_EXPORT ssize_t splice(int in, loff_t *offin, int out, loff_t *offout, size_t len,
			 unsigned flags)
{
	if (!gr_is_ready() || (flags & SPLICE_F_NONBLOCK))
		return gr_real.splice(in, offin, out, offout, len, flags);
	/* Wait on the input end (a regular file as input: the call goes under the hand-off,
	 * which covers a full output pipe or socket too). */
	struct gr_io io = {.fd = in, .mode = GR_IO_IN, .call = splice_call,
			   .a = {in, (long)offin, out, (long)offout, (long)len, flags}};
	long r = gr_netpoll_io(&io);
	if (r > 0)
		gr_netpoll_kick(out);
	return gr_ret_errno(r);
}

/* ---- descriptors: creation and close -------------------------------------------------- */

GR_EXPORT int pipe2(int fds[2], int flags)
{
	int r = gr_real.pipe2(fds, flags);
	gr_fd_claimed_fn *runtime = r == 0 ? gr_fd_capturing() : NULL;

	if (runtime) { /* a library green called made it: the runtime's (fd.h) */
		fds[0] = gr_fd_own(fds[0], runtime);
		fds[1] = gr_fd_own(fds[1], runtime);
	} else if (r == 0 && gr_is_ready()) {
		gr_netpoll_fd_new(fds[0], GR_FD_PIPE, false);
		gr_netpoll_fd_new(fds[1], GR_FD_PIPE, false);
		gr_netpoll_pair(fds[0], fds[1]);
	}
	return r;
}

GR_EXPORT int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

GR_EXPORT int close(int fd)
{
	if (!gr_is_ready())
		return gr_real.close(fd);
	if (gr_fd_is_runtime(fd))
		return 0; /* the runtime's own (fd.h): the program did not open it */
	gr_netpoll_close_begin(fd);
	long r = gr_syscall(SYS_close, fd, 0, 0);
	gr_netpoll_close_end(fd);
	return (int)gr_ret_errno(r);
}

/* close_range and closefrom close every fd of a range, the runtime's own excepted (a
 * daemon's closefrom(3) must not take the netpoller down): the range is split around
 * them.  CLOSE_RANGE_CLOEXEC closes nothing now and passes straight through. */
static long close_range_split(unsigned first, unsigned last, unsigned flags)
{
	int own[8], n = gr_fd_runtime_list(own, 8);

	for (int i = 0; i < n; i++) {
		unsigned o = (unsigned)own[i];
		if (o < first || o > last)
			continue;
		if (o > first) {
			long r = gr_syscall(SYS_close_range, first, o - 1, flags);
			if (r)
				return r;
		}
		if (o == last)
			return 0;
		first = o + 1;
	}
	return gr_syscall(SYS_close_range, first, last, flags);
}

GR_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!gr_is_ready() || (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return gr_real.close_range(first, last, flags);
	gr_netpoll_close_range_begin(first, last);
	long r = close_range_split(first, last, (unsigned)flags);
	gr_netpoll_close_range_end(first, last);
	return (int)gr_ret_errno(r);
}

GR_EXPORT void closefrom(int lowfd)
{
	if (!gr_is_ready() || lowfd < 0) {
		gr_real.closefrom(lowfd);
		return;
	}
	if (close_range((unsigned)lowfd, ~0u, 0) != 0) /* old kernel: glibc's own way */
		gr_real.closefrom(lowfd);
}

GR_EXPORT int dup3(int old, int new, int flags)
{
	if (!gr_is_ready() || old == new)
		return gr_real.dup3(old, new, flags);
	if (gr_fd_is_runtime(new))
		gr_fd_claim(new);
	gr_netpoll_close_begin(new);
	long r = gr_syscall(SYS_dup3, old, new, flags);
	gr_netpoll_close_end(new);
	return (int)gr_ret_errno(r);
}

GR_EXPORT int dup2(int old, int new)
{
	if (!gr_is_ready() || old == new)
		return gr_real.dup2(old, new);
	return dup3(old, new, 0);
}

/* ---- fcntl and ioctl: tell the netpoller that O_NONBLOCK may have changed; a blocking
 * record lock hands the P off at once (Go: entersyscallblock). -------------------------- */

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && gr_is_ready()) {
		gr_entersyscallblock();
		int r = real(fd, cmd, arg);
		int err = errno;
		gr_exitsyscall();
		errno = err;
		return r;
	}
	if (cmd != F_SETFL || !gr_is_ready())
		return real(fd, cmd, arg);
	gr_netpoll_flags_changed();
	int r = real(fd, cmd, arg);
	gr_netpoll_flags_changed();
	return r;
}

GR_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *); /* int or pointer: the same register either way */
	va_end(ap);
	return do_fcntl(gr_real.fcntl, fd, cmd, arg);
}

GR_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(gr_real.fcntl64, fd, cmd, arg);
}

GR_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;

	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (req != FIONBIO || !gr_is_ready())
		return gr_real.ioctl(fd, req, arg);
	gr_netpoll_flags_changed();
	int r = gr_real.ioctl(fd, req, arg);
	gr_netpoll_flags_changed();
	return r;
}
