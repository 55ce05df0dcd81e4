/*
 * The netpoller (netpoll.c): blocking I/O on sockets, pipes, FIFOs, ttys and other
 * pollable descriptors parks the G, not the M (Go: netpoll.go, netpoll_epoll.go).
 *
 * interpose/ describes one I/O call as a struct gr_io and hands it to gr_netpoll_io, which
 * makes the call without blocking, and parks the G until the descriptor's readiness
 * changes whenever the call would block.  The program's own poll/select/epoll_wait use
 * gr_netpoll_arm and gr_netpoll_park to sleep until a descriptor is ready.
 */
#ifndef GR_NETPOLL_H
#define GR_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "arch/x86_64/syscall.h" /* interpose/ describes I/O calls as raw system calls */
#include "runtime.h"

/* What a descriptor is, as far as blocking goes (found with fstat, once per fd). */
enum gr_fd_kind {
	GR_FD_UNKNOWN = 0,
	GR_FD_SOCK,  /* socket: per-call MSG_DONTWAIT */
	GR_FD_PIPE,  /* pipe or FIFO: per-call RWF_NOWAIT (preadv2/pwritev2, offset -1) */
	GR_FD_READY, /* tty, eventfd, timerfd, signalfd, epoll, char device: poll, then call */
	GR_FD_PLAIN, /* regular file, directory, block device, unpollable: system-call hand-off */
};

#define GR_IO_IN 1  /* the call waits for input (read, recv, accept) */
#define GR_IO_OUT 2 /* the call waits for room to write (write, send, connect) */

/* One I/O call of the program. */
struct gr_io {
	int fd;
	int mode; /* GR_IO_IN or GR_IO_OUT */
	/* The call without blocking for a socket (MSG_DONTWAIT) or pipe (RWF_NOWAIT).
	 * Returns >= 0 or -errno.  NULL when the call has no such form (accept): then it
	 * is made when poll says the descriptor is ready. */
	long (*nowait)(struct gr_io *io, enum gr_fd_kind kind);
	/* The plain blocking call (raw system call).  Returns >= 0 or -errno. */
	long (*call)(struct gr_io *io);
	long a[6];	 /* the call's arguments, for nowait and call */
	int64_t deadline; /* SO_RCVTIMEO/SO_SNDTIMEO deadline; 0 = not computed yet */
	/* Out: the kind the descriptor turned out to be, and whether the program set
	 * O_NONBLOCK on it (known only once a call would have blocked). */
	enum gr_fd_kind kind;
	bool nonblock;
};

/* Makes io's call, parking the G while it would block, as the blocking call would
 * natively (the program's O_NONBLOCK honoured, SO_RCVTIMEO/SO_SNDTIMEO timing out with
 * -EAGAIN).  Returns >= 0 or -errno; -EBADF when the fd is closed while the G waits.
 * Foreign threads and g0 make the plain call.  May park. */
long gr_netpoll_io(struct gr_io *io);

/* A write of n bytes from buf as io's call (a[1] = buffer, a[2] = length): repeats the
 * call on what is left after a short write while more(io) says a blocking call would have
 * gone on.  Returns the bytes written, or -errno when none were. */
long gr_netpoll_io_all(struct gr_io *io, const void *buf, size_t n,
		       bool (*more)(const struct gr_io *io));

/* A snapshot of a descriptor's readiness, taken before the caller checks it with a
 * non-blocking poll (so no event between that check and gr_netpoll_park is lost). */
struct gr_np_token {
	void *pd;
	uint32_t seq, gen;
};

/* Registers fd with the poller and snapshots it into *tok.  Returns 0, -EBADF, or -EPERM
 * when epoll cannot watch fd (regular file) or the caller cannot park (not a G). */
int gr_netpoll_arm(int fd, struct gr_np_token *tok);

/* Parks until the descriptor of tok has had an event since the snapshot, or deadline
 * (monotonic ns, 0 = none) passes.  Returns 0, -ETIMEDOUT, -EBADF (closed), or -EINTR
 * when a signal or cancellation ended the wait (0 instead when every handler run had
 * SA_RESTART: the caller retries, as the kernel restarts the call).  May park. */
int gr_netpoll_park(const struct gr_np_token *tok, int64_t deadline);

/* The same for the calls the kernel never restarts (poll, select, epoll_wait): -EINTR
 * whatever SA_RESTART says. */
int gr_netpoll_park_norestart(const struct gr_np_token *tok, int64_t deadline);

/* close/dup2/dup3 over fd: begin before the real call (Gs parked on fd wake with EBADF;
 * the registration is dropped), end after it (the fd number starts a new life). */
void gr_netpoll_close_begin(int fd);
void gr_netpoll_close_end(int fd);

/* A descriptor of kind the program just created (socket, accept, pipe): forget whatever
 * an earlier fd of the same number left (closed where no hook saw it).  fresh_sock: a
 * socket only this process holds yet (connect may toggle O_NONBLOCK on it). */
void gr_netpoll_fd_new(int fd, enum gr_fd_kind kind, bool fresh_sock);

/* a and b are the two ends of one pipe or socketpair just created (after gr_netpoll_fd_new
 * of each): data moved through one end wakes the Gs waiting on the other directly. */
void gr_netpoll_pair(int a, int b);

/* True when green knows the other end of fd's current life (gr_netpoll_pair). */
bool gr_netpoll_paired(int fd);

/* Data moved through fd by a call that did not go through gr_netpoll_io (the output end of
 * splice or sendfile): wakes the Gs waiting on its peer, if green knows it.  gr_netpoll_io
 * does this itself for the descriptor it waits on. */
void gr_netpoll_kick(int fd);

/* True (once) if fd is a socket nobody else can hold yet; clears the mark. */
bool gr_netpoll_take_fresh(int fd);

/* setsockopt of SO_RCVTIMEO/SO_SNDTIMEO somewhere: cached timeouts are stale. */
void gr_netpoll_timeo_changed(void);

/* fcntl F_SETFL or ioctl FIONBIO on some descriptor: call before and after the change
 * (cached O_NONBLOCK flags are stale). */
void gr_netpoll_flags_changed(void);

/* close_range over [first, last]: the close_begin/close_end of every fd green has state
 * for (the runtime's own excepted: fd.h). */
void gr_netpoll_close_range_begin(unsigned first, unsigned last);
void gr_netpoll_close_range_end(unsigned first, unsigned last);

/* In a fork child, while it is single-threaded: forget the parent's epoll instance (it
 * is shared with the parent) and every registration; the next wait registers anew.
 * For the fork support to call. */
void gr_netpoll_fork_child(void);

/* ---- the scheduler side (proc.c, sysmon.c) ------------------------------------------ */

/* Events taken from epoll, not yet delivered. */
struct gr_np_batch {
	int n;
	bool blocking; /* from the blocked poller: it consumes a break */
	struct epoll_event ev[128];
};

/* True once some descriptor has been registered (the idle M may then block in epoll). */
bool gr_netpoll_inited(void);

/* True if a non-blocking poll could find work: some G is parked on a descriptor, and
 * for a spinning M, no M is blocked in the poller (Go's netpollAnyWaiters && lastpoll
 * != 0).  An M that has just run out of work polls even then: the G it readies runs on
 * its own P, where the blocked poller would have to wake and take another. */
bool gr_netpoll_worth_polling(bool spinning);

/* Polls without blocking and readies the Gs whose descriptors are ready (into the
 * caller's P, or the global queue).  Returns how many were readied. */
int gr_netpoll_poll(void);

/* The blocking poller.  gr_netpoll_block_claim makes the caller the one M blocked in
 * epoll (false: another M is); gr_netpoll_block waits until an event, a break, or until
 * (monotonic ns; INT64_MAX = none), and fills b; gr_netpoll_block_release ends the role.
 * gr_netpoll_deliver readies the Gs of b (call it with a P if one can be had). */
bool gr_netpoll_block_claim(void);
void gr_netpoll_block(struct gr_np_batch *b, int64_t until);
void gr_netpoll_block_release(void);
int gr_netpoll_deliver(struct gr_np_batch *b);

/* A timer with deadline when was added: breaks a blocked poller sleeping past it. */
void gr_netpoll_timer_added(int64_t when);

/* Wakes a blocked poller (new work it must take a P for). */
void gr_netpoll_break(void);

/* sysmon: polls if nobody has for 10 ms.  Returns how many Gs were readied. */
int gr_netpoll_sysmon(int64_t now);

#endif
