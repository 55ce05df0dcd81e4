/*
 * The runtime's own descriptors: the poller's epoll instance and eventfd (netpoll.c) and
 * libunwind's memory-validation pipe (preempt.c).  The program did not open them and
 * must notice them as little as possible:
 *
 *   - close-on-exec, so a new image (and the child of posix_spawn or a fork that execs)
 *     never inherits them: Python's subprocess tests list the child's descriptors;
 *   - numbered high (from HIGH_TOP - HIGH_SPAN, below RLIMIT_NOFILE), not at the lowest
 *     free numbers, which POSIX gives the program's next open (a program that closes 0
 *     and opens /dev/null expects 0) and which a fork child fills with dup2;
 *   - spared by the program's close, close_range and closefrom (a daemon's closefrom(3)
 *     must not take the poller down), and moved or abandoned when the program dup2s onto
 *     one (its owner decides: gr_fd_claimed_fn);
 *   - made only when needed: the poller when a call first has to wait, the unwinder when
 *     the program first makes a thread, so a single-threaded program that never waits on
 *     a descriptor has none at all.
 *
 * The kernel's table of descriptors grows to those numbers at start-up (gr_fd_reserve),
 * while the process has one thread: grown later, with threads sharing it, it waits for
 * an RCU grace period (expand_fdtable's synchronize_rcu), and the program's first
 * pthread_create, which moves the unwinder's pipe high, took 10-20 ms here.
 *
 * Rejected: numbers at or above RLIMIT_NOFILE (invisible to a scan up to the limit, but
 * the kernel refuses them, and raising the soft limit for the move is impossible where
 * soft equals hard, as here); numbers right under the limit (a soft limit of 2^20 would
 * make the kernel's descriptor table, which fork copies, megabytes long).
 */
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "arch.h"
#include "arch/x86_64/syscall.h"
#include "fd.h"
#include "lock.h"
#include "real.h"

#define HIGH_TOP 1024 /* the numbers used: the highest below min(this, RLIMIT_NOFILE)... */
#define HIGH_SPAN 32  /* ...from this far under it */
#define NOWN 8	      /* runtime descriptors at most */

/* The table: entry i is valid for i < xnown.  Writers hold own_lock; readers load xnown
 * (acquire; pairs with the release that publishes an entry) and read without it. */
static struct gr_lock own_lock = GR_LOCK_INIT;
static _Atomic int xnown;
static struct {
	_Atomic int xfd;
	gr_fd_claimed_fn *claimed;
} own[NOWN];

/* The thread (its thread pointer) whose pipes are the runtime's, and its claimed. */
static _Atomic(void *) xcapturer;
static gr_fd_claimed_fn *capture_claimed;

/* The first number to move a descriptor to, or -1 when the limit is too low to spare. */
static int high_base(void)
{
	struct rlimit rl;
	rlim_t top = HIGH_TOP;

	if (gr_syscall4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return top >= 4 * HIGH_SPAN ? (int)(top - HIGH_SPAN) : -1;
}

void gr_fd_reserve(void)
{
	int base = high_base();

	if (base < 0)
		return;
	long fd = gr_syscall(SYS_eventfd2, 0, EFD_CLOEXEC, 0); /* any descriptor will do */
	if (fd < 0)
		return;
	long high = gr_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base + HIGH_SPAN - 1);
	if (high >= 0)
		gr_syscall(SYS_close, high, 0, 0);
	gr_syscall(SYS_close, fd, 0, 0);
}

int gr_fd_own(int fd, gr_fd_claimed_fn *claimed)
{
	int base = high_base();

	if (base >= 0 && fd < base) {
		long n = gr_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
		if (n >= 0) {
			gr_syscall(SYS_close, fd, 0, 0);
			fd = (int)n;
		}
	}
	gr_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
	gr_lock(&own_lock);
	int n = atomic_load_explicit(&xnown, memory_order_relaxed);
	if (n < NOWN) {
		atomic_store_explicit(&own[n].xfd, fd, memory_order_relaxed);
		own[n].claimed = claimed;
		/* Release: the entry is written before it counts; pairs with the acquire
		 * in the readers. */
		atomic_store_explicit(&xnown, n + 1, memory_order_release);
	}
	gr_unlock(&own_lock);
	return fd;
}

/* Requires own_lock.  Removes the entry of fd; returns its claimed, or NULL. */
static gr_fd_claimed_fn *remove_locked(int fd)
{
	GR_ASSERT_HELD(&own_lock);
	int n = atomic_load_explicit(&xnown, memory_order_relaxed);
	for (int i = 0; i < n; i++) {
		if (atomic_load_explicit(&own[i].xfd, memory_order_relaxed) != fd)
			continue;
		gr_fd_claimed_fn *claimed = own[i].claimed;
		/* The last entry takes its place; a reader racing with this may see fd
		 * spared once more, or the moved one twice: both harmless. */
		atomic_store_explicit(&own[i].xfd,
				      atomic_load_explicit(&own[n - 1].xfd, memory_order_relaxed),
				      memory_order_relaxed);
		own[i].claimed = own[n - 1].claimed;
		atomic_store_explicit(&xnown, n - 1, memory_order_release);
		return claimed;
	}
	return NULL;
}

void gr_fd_disown(int fd)
{
	gr_lock(&own_lock);
	remove_locked(fd);
	gr_unlock(&own_lock);
}

bool gr_fd_is_runtime(int fd)
{
	int n = atomic_load_explicit(&xnown, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if (atomic_load_explicit(&own[i].xfd, memory_order_relaxed) == fd)
			return true;
	return false;
}

int gr_fd_runtime_list(int *fds, int max)
{
	int n = atomic_load_explicit(&xnown, memory_order_acquire), k = 0;

	for (int i = 0; i < n && k < max; i++) {
		int fd = atomic_load_explicit(&own[i].xfd, memory_order_relaxed), j = k++;
		for (; j > 0 && fds[j - 1] > fd; j--)
			fds[j] = fds[j - 1];
		fds[j] = fd;
	}
	return k;
}

void gr_fd_claim(int fd)
{
	gr_lock(&own_lock);
	gr_fd_claimed_fn *claimed = remove_locked(fd);
	gr_unlock(&own_lock);
	if (claimed)
		claimed(fd);
}

void gr_fd_capture_begin(gr_fd_claimed_fn *claimed)
{
	capture_claimed = claimed;
	/* Release: capture_claimed is set before the capture counts; pairs with the acquire
	 * in gr_fd_capturing. */
	atomic_store_explicit(&xcapturer, gr_arch_tp(), memory_order_release);
}

void gr_fd_capture_end(void)
{
	atomic_store_explicit(&xcapturer, NULL, memory_order_relaxed);
}

gr_fd_claimed_fn *gr_fd_capturing(void)
{
	void *tp = atomic_load_explicit(&xcapturer, memory_order_acquire);

	return tp && tp == gr_arch_tp() ? capture_claimed : NULL;
}

void gr_fd_fork_child(void)
{
	own_lock = (struct gr_lock)GR_LOCK_INIT;
	atomic_store_explicit(&xcapturer, NULL, memory_order_relaxed);
}
