/* Unit tests of shim/netpoll.c that need no running scheduler: fd lives (close, dup2,
 * reuse), the fresh-socket mark that lets connect toggle O_NONBLOCK, and the refusals of
 * a thread that is not a G.  The parking paths run under LD_PRELOAD in
 * tests/preload/netpoll.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll.h"

static int sock(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	return fd;
}

Test(netpoll, fresh_socket_mark_taken_once)
{
	int fd = sock();
	gr_netpoll_fd_new(fd, GR_FD_SOCK, true);
	cr_assert(gr_netpoll_take_fresh(fd));
	cr_assert(!gr_netpoll_take_fresh(fd), "the mark is for the first connect only");
	close(fd);
}

Test(netpoll, close_ends_the_life)
{
	int fd = sock();
	gr_netpoll_fd_new(fd, GR_FD_SOCK, true);
	gr_netpoll_close_begin(fd);
	close(fd);
	gr_netpoll_close_end(fd);
	int again = sock(); /* most likely the same number */
	cr_assert(!gr_netpoll_take_fresh(again), "a new fd must not inherit the old mark");
	close(again);
}

Test(netpoll, unseen_close_does_not_leak_state)
{
	/* A close no hook saw (fclose, a raw system call): the next creator resets. */
	int fd = sock();
	gr_netpoll_fd_new(fd, GR_FD_SOCK, true);
	close(fd); /* not bracketed */
	int again = sock();
	gr_netpoll_fd_new(again, GR_FD_SOCK, false);
	cr_assert(!gr_netpoll_take_fresh(again));
	close(again);
}

Test(netpoll, pairing_lasts_one_life)
{
	int sv[2], other = sock();
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	gr_netpoll_fd_new(sv[0], GR_FD_SOCK, false);
	gr_netpoll_fd_new(sv[1], GR_FD_SOCK, false);
	gr_netpoll_fd_new(other, GR_FD_SOCK, false);
	cr_assert(!gr_netpoll_paired(sv[0]), "no peer before the pairing");
	gr_netpoll_pair(sv[0], sv[1]);
	cr_assert(gr_netpoll_paired(sv[0]) && gr_netpoll_paired(sv[1]));
	cr_assert(!gr_netpoll_paired(other), "a socket green did not pair has no peer");
	gr_netpoll_close_begin(sv[1]);
	close(sv[1]);
	gr_netpoll_close_end(sv[1]);
	cr_assert(!gr_netpoll_paired(sv[0]), "the peer's life ended");
	int again = sock(); /* most likely sv[1]'s number */
	gr_netpoll_fd_new(again, GR_FD_SOCK, false);
	cr_assert(!gr_netpoll_paired(again), "a new fd must not inherit the old pairing");
	close(again);
	close(sv[0]);
	close(other);
}

Test(netpoll, not_a_g_cannot_park)
{
	struct gr_np_token tok;
	int fd = sock();
	cr_assert_eq(gr_netpoll_arm(fd, &tok), -EPERM, "a thread without a G blocks itself");
	close(fd);
}

static long plain_read(struct gr_io *io)
{
	return read(io->fd, (void *)io->a[1], (size_t)io->a[2]);
}

Test(netpoll, io_outside_green_makes_the_plain_call)
{
	int sv[2];
	char c = 0;
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	cr_assert(write(sv[1], "k", 1) == 1);
	struct gr_io io = {.fd = sv[0], .mode = GR_IO_IN, .call = plain_read,
			   .a = {sv[0], (long)&c, 1}};
	cr_assert_eq(gr_netpoll_io(&io), 1);
	cr_assert_eq(c, 'k');
	cr_assert_eq(io.kind, GR_FD_UNKNOWN, "no descriptor state without a G");
	close(sv[0]);
	close(sv[1]);
}

Test(netpoll, nothing_registered_nothing_polled)
{
	cr_assert(!gr_netpoll_block_claim(), "no epoll instance yet: the idle M futex-waits");
	cr_assert_eq(gr_netpoll_poll(), 0);
	cr_assert_eq(gr_netpoll_sysmon(1000000000000LL), 0);
	gr_netpoll_break(); /* harmless before init */
	gr_netpoll_timer_added(0);
}
