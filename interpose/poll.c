/*
 * The program's own readiness waits: poll, ppoll, select, pselect, epoll_wait,
 * epoll_pwait, epoll_pwait2 (and the fortified __poll_chk, __ppoll_chk).
 *
 * Each is the real call with a zero timeout, repeated whenever one of the descriptors
 * has had an event, with the G parked in between (shim/netpoll.c), until something is
 * ready or the timeout passes: so the answer is always the kernel's own.  One descriptor
 * (the program's epoll fd included: it is pollable) is watched directly; several are put
 * in a private epoll instance for the duration of the call, which is watched instead.
 *
 * A signal mask argument (ppoll, pselect, epoll_pwait) asks for an atomic mask change
 * around the wait, which a parked G cannot give: those calls block the M under the
 * system-call hand-off.  So do calls on descriptors epoll cannot watch, and calls from
 * threads green does not schedule.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>

#include "interpose.h"

/* The check: the real call with a zero timeout.  Returns > 0 ready, 0 nothing, -errno. */
typedef long (*check_fn)(void *arg);

/* Waits until check(arg) != 0 or deadline (monotonic ns, 0 = forever) passes, parking on
 * the n descriptors of fds meanwhile.  Returns check's answer, 0 on timeout, -EINTR when a
 * signal handler ran (or a cancellation came), or -EPERM when the caller must make the
 * blocking call itself. */
static long wait_ready(const struct pollfd *fds, int n, int64_t deadline, check_fn check,
		       void *arg)
{
	struct gr_np_token tok;
	int watch = -1, ep = -1;
	long r;

	if (n == 1) {
		watch = fds[0].fd;
	} else if (n > 1) {
		ep = (int)gr_syscall(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0);
		if (ep < 0)
			return -EPERM;
		for (int i = 0; i < n; i++) {
			if (fds[i].fd < 0)
				continue;
			struct epoll_event e = {.events = EPOLLERR | EPOLLHUP, .data.u64 = 0};
			if (fds[i].events & (POLLIN | POLLRDNORM | POLLRDBAND))
				e.events |= EPOLLIN;
			if (fds[i].events & (POLLOUT | POLLWRNORM | POLLWRBAND))
				e.events |= EPOLLOUT;
			if (fds[i].events & POLLPRI)
				e.events |= EPOLLPRI;
			if (fds[i].events & POLLRDHUP)
				e.events |= EPOLLRDHUP;
			if (gr_syscall4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, fds[i].fd, &e) == -EEXIST) {
				e.events |= EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP;
				gr_syscall4(SYS_epoll_ctl, ep, EPOLL_CTL_MOD, fds[i].fd, &e);
			}
		}
		watch = ep;
	}
	for (;;) {
		int a = watch >= 0 ? gr_netpoll_arm(watch, &tok) : -EPERM;
		if (a && a != -EBADF && watch >= 0) {
			r = -EPERM;
			break;
		}
		if ((r = check(arg)) != 0)
			break;
		if (deadline && gr_nanotime() >= deadline)
			break;
		int p = watch < 0 ? gr_park_sleep(deadline ? deadline : INT64_MAX) /* a sleep */
			: a == -EBADF ? -EBADF
				      : gr_netpoll_park_norestart(&tok, deadline);
		if (p == -EINTR) { /* never restarted, SA_RESTART or not (signal(7)) */
			r = -EINTR;
			break;
		}
		if (p == -EBADF) {
			r = check(arg); /* the kernel reports the closed descriptor */
			break;
		}
	}
	if (ep >= 0) {
		gr_netpoll_close_begin(ep);
		gr_syscall(SYS_close, ep, 0, 0);
		gr_netpoll_close_end(ep);
	}
	return r;
}

static int64_t ms_deadline(int timeout)
{
	return timeout < 0 ? 0 : gr_nanotime() + (int64_t)timeout * 1000000 + 1;
}

/* ---- poll, ppoll ---------------------------------------------------------------------- */

struct poll_arg {
	struct pollfd *fds;
	nfds_t n;
};

static long poll_check(void *arg)
{
	struct poll_arg *p = arg;
	struct timespec zero = {0, 0};

	return gr_syscall6(SYS_ppoll, (long)p->fds, (long)p->n, (long)&zero, 0, 8, 0);
}

/* poll with a deadline (0 = forever); -EPERM: make the blocking call instead. */
static long do_poll(struct pollfd *fds, nfds_t n, int64_t deadline)
{
	struct poll_arg p = {fds, n};

	if (n > 1024)
		return -EPERM;
	return wait_ready(fds, (int)n, deadline, poll_check, &p);
}

GR_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!gr_is_ready() || timeout == 0 || !gr_g_schedulable(gr_getg()))
		return gr_real.poll(fds, n, timeout);
	long r = do_poll(fds, n, ms_deadline(timeout));
	if (r == -EPERM) {
		gr_entersyscall();
		int rr = gr_real.poll(fds, n, timeout);
		gr_exitsyscall();
		return rr;
	}
	return (int)gr_ret_errno(r);
}

GR_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
GR_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__builtin_trap(); /* glibc's __chk_fail */
	return poll(fds, n, timeout);
}

/* ppoll's and pselect's start: true when green waits, with *deadline (0: none); false
 * when the real call must (a signal mask to install, a zero timeout, no G, or a bad
 * timeout, which the kernel then rejects with EINVAL as natively). */
static bool green_waits(const struct timespec *ts, const sigset_t *mask, int64_t *deadline)
{
	if (!gr_is_ready() || mask || (ts && !ts->tv_sec && !ts->tv_nsec) ||
	    !gr_g_schedulable(gr_getg()))
		return false;
	*deadline = ts ? gr_deadline(CLOCK_MONOTONIC, ts, false) : 0;
	return *deadline >= 0;
}

GR_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *mask)
{
	int64_t deadline;
	if (!green_waits(ts, mask, &deadline))
		goto real;
	long r = do_poll(fds, n, deadline);
	if (r != -EPERM)
		return (int)gr_ret_errno(r);
real:
	if (!gr_is_ready())
		return gr_real.ppoll(fds, n, ts, mask);
	gr_entersyscall();
	int rr = gr_real.ppoll(fds, n, ts, mask);
	gr_exitsyscall();
	return rr;
}

GR_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			  const sigset_t *mask, size_t fdslen);
GR_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			  const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__builtin_trap();
	return ppoll(fds, n, ts, mask);
}

/* ---- select, pselect ------------------------------------------------------------------ */

struct select_arg {
	int nfds;
	fd_set *in[3], *out[3]; /* the program's sets; the answer's */
	fd_set copy[3];
};

static long select_check(void *arg)
{
	struct select_arg *s = arg;
	fd_set tmp[3];
	struct timespec zero = {0, 0};

	for (int i = 0; i < 3; i++)
		if (s->in[i])
			tmp[i] = s->copy[i];
	long r = gr_syscall6(SYS_pselect6, s->nfds, (long)(s->in[0] ? &tmp[0] : NULL),
			     (long)(s->in[1] ? &tmp[1] : NULL), (long)(s->in[2] ? &tmp[2] : NULL),
			     (long)&zero, 0);
	if (r != 0)
		for (int i = 0; i < 3; i++)
			if (s->in[i] && r > 0)
				*s->in[i] = tmp[i];
	return r;
}

/* select with a deadline (0 = forever); -EPERM: make the blocking call instead. */
static long do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t deadline)
{
	struct select_arg s = {.nfds = nfds, .in = {r, w, e}};
	struct pollfd fds[64];
	int n = 0;

	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (s.in[i])
			s.copy[i] = *s.in[i];
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
			   (e && FD_ISSET(fd, e) ? POLLPRI : 0);
		if (!ev)
			continue;
		if (n == 64)
			return -EPERM;
		fds[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	long rc = wait_ready(fds, n, deadline, select_check, &s);
	if (rc == 0) /* timed out: every set comes back empty */
		for (int i = 0; i < 3; i++)
			if (s.in[i])
				FD_ZERO(s.in[i]);
	return rc;
}

GR_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (!gr_is_ready() || (tv && !tv->tv_sec && !tv->tv_usec) ||
	    !gr_g_schedulable(gr_getg()))
		return gr_real.select(nfds, r, w, e, tv);
	int64_t deadline = 0;
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0) {
			errno = EINVAL;
			return -1;
		}
		deadline = gr_nanotime() + (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000;
	}
	long rc = do_select(nfds, r, w, e, deadline);
	if (rc == -EPERM) {
		gr_entersyscall();
		int rr = gr_real.select(nfds, r, w, e, tv);
		gr_exitsyscall();
		return rr;
	}
	if (tv && rc >= 0) { /* Linux leaves the time not slept */
		int64_t left = deadline - gr_nanotime();
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = left % 1000000000 / 1000;
	}
	return (int)gr_ret_errno(rc);
}

GR_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		      const sigset_t *mask)
{
	int64_t deadline;
	if (!green_waits(ts, mask, &deadline))
		goto real;
	long rc = do_select(nfds, r, w, e, deadline);
	if (rc != -EPERM)
		return (int)gr_ret_errno(rc);
real:
	if (!gr_is_ready())
		return gr_real.pselect(nfds, r, w, e, ts, mask);
	gr_entersyscall();
	int rr = gr_real.pselect(nfds, r, w, e, ts, mask);
	gr_exitsyscall();
	return rr;
}

/* ---- epoll_wait and friends ----------------------------------------------------------- */

struct epoll_arg {
	int epfd;
	struct epoll_event *ev;
	int max;
};

static long epoll_check(void *arg)
{
	struct epoll_arg *a = arg;

	return gr_syscall6(SYS_epoll_wait, a->epfd, (long)a->ev, a->max, 0, 0, 0);
}

/* epoll_wait with a deadline (0 = forever); -EPERM: make the blocking call instead. */
static long do_epoll(int epfd, struct epoll_event *ev, int max, int64_t deadline)
{
	struct epoll_arg a = {epfd, ev, max};
	struct pollfd p = {.fd = epfd, .events = POLLIN};

	if (max <= 0)
		return -EINVAL;
	return wait_ready(&p, 1, deadline, epoll_check, &a);
}

GR_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			   const sigset_t *mask)
{
	if (!gr_is_ready() || mask || (ts && !ts->tv_sec && !ts->tv_nsec) ||
	    !gr_g_schedulable(gr_getg()))
		goto real;
	int64_t deadline = 0;
	if (ts && (deadline = gr_deadline(CLOCK_MONOTONIC, ts, false)) < 0) {
		errno = EINVAL;
		return -1;
	}
	long r = do_epoll(epfd, ev, max, deadline);
	if (r != -EPERM)
		return (int)gr_ret_errno(r);
real:
	if (!gr_is_ready())
		return gr_real.epoll_pwait2(epfd, ev, max, ts, mask);
	gr_entersyscall();
	int rr = gr_real.epoll_pwait2(epfd, ev, max, ts, mask);
	gr_exitsyscall();
	return rr;
}

GR_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
			  const sigset_t *mask)
{
	if (!gr_is_ready() || mask || timeout == 0 || !gr_g_schedulable(gr_getg())) {
		if (!gr_is_ready() || timeout == 0)
			return gr_real.epoll_pwait(epfd, ev, max, timeout, mask);
		gr_entersyscall();
		int rr = gr_real.epoll_pwait(epfd, ev, max, timeout, mask);
		gr_exitsyscall();
		return rr;
	}
	long r = do_epoll(epfd, ev, max, ms_deadline(timeout));
	if (r != -EPERM)
		return (int)gr_ret_errno(r);
	gr_entersyscall();
	int rr = gr_real.epoll_pwait(epfd, ev, max, timeout, mask);
	gr_exitsyscall();
	return rr;
}

GR_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	if (!gr_is_ready())
		return gr_real.epoll_wait(epfd, ev, max, timeout);
	return epoll_pwait(epfd, ev, max, timeout, NULL);
}
