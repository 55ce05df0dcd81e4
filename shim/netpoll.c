/*
 * The netpoller: blocking I/O parks the G, not the M (Go: runtime/netpoll.go and
 * netpoll_epoll.go).
 *
 * One epoll instance watches every descriptor a G ever waited on, registered once per fd
 * life, edge-triggered for IN|OUT|RDHUP.  An eventfd, also registered, breaks a poller
 * blocked in epoll_pwait2.  The scheduler polls without blocking when a P runs out of
 * local and global work (before stealing, as Go's findrunnable does); when every P is
 * idle one M blocks in epoll until the earliest timer (proc.c: m_idle); sysmon polls if
 * nobody has for 10 ms.
 *
 * Descriptor state (struct pd) lives in a table indexed by fd, in chunks that are never
 * freed, so a pointer to a pd is valid for the life of the process whatever happens to
 * the fd; what few descriptors need (a peer, socket timeouts) lives in a second such
 * table (struct pd_ext), so that a server's thousands of sockets cost 32 bytes each.  Each pd counts the fd's lives (xseq): close and dup2 over the fd bump it to an
 * odd value before the real call and to the next even value after it.  Everything known
 * about the descriptor (its kind, its registration) is stored together with the life it
 * describes (xinfo's high half), so a new descriptor with a reused number never inherits
 * stale state, and a G that sees the life change while it waits returns EBADF.  Events
 * carry (fd, life) in epoll's data word; events of an old life are dropped.
 *
 * Readiness is a counter per pd (xgen), bumped by the poller on every event of the
 * current life; a G that found its call would block snapshots the counter before the
 * call and parks on the counter's address (park.c) only while it is unchanged, checked
 * under the wait queue's lock.  The poller bumps, then wakes every waiter of that address.
 * Edge-triggered epoll reports every arrival of data, so a G that retries after a wake
 * and still finds nothing simply parks again.  One counter serves readers and writers:
 * epoll reports the full mask on each event anyway, and writers rarely wait.
 *
 * Direct wake-ups.  When green created both ends of a pipe or socketpair, each end knows
 * the other (pd_ext.xpeer).  A call that moved data through one end, and the close of one
 * end, kick the other end: bump its counter and wake its waiters at once, as the poller
 * would.
 * The reader readied this way goes to the writer's own P (runnext), with no trip through
 * epoll or another M.  The bump follows the call, and a waiter snapshots the counter
 * before its own call, so a waiter that found the pipe empty just before the write never
 * sleeps through it (the same argument as the poller's).  Such a paired end is not even
 * registered with epoll at first: a registered pipe would wake the M blocked in epoll on
 * every write, which then competes with the G's own P for the readied G (a 2-P pipe
 * ping-pong ran 2.5 times slower that way).  But some writers kick nobody: libc's own
 * stdio writes, raw system calls, a dup of an end, another process after fork.  So a
 * waiter on a paired end sleeps at most PAIRED_WAIT_NS before it registers the end and
 * retries; and a registered paired end whose waiter a kick woke drops the registration
 * again (epoll_ctl DEL), so one slow round does not cost the direct path for good.  A
 * writer no hook sees thus delays the first read after each kicked one by up to 10 ms.
 * Last, a read on a paired end that is not registered first yields when its P has other
 * Gs queued: in a ping-pong the G queued there is the one the reader just kicked, about
 * to write what the reader wants, and a yield costs far less than the failed read it
 * saves (a system call: about 1.4 us on the 2-CPU machine here; four calls per round
 * trip instead of six).  The yield goes to that G directly and leaves the reader in
 * runnext (gr_yield_to_runnext): from the queue's tail a spinning M stole it, and with
 * two Ps the pair ran on two Ms at half the speed of one.  A kick made by a signal handler that interrupted the scheduler
 * itself only bumps the counter (peer_kick).
 *
 * Never O_NONBLOCK: the flag belongs to the open file description, shared with other
 * processes and with libc's own unhooked writes (see DESIGN.md: a stdout pipe lost data
 * with it set).  Sockets use MSG_DONTWAIT, pipes and FIFOs preadv2/pwritev2 with
 * RWF_NOWAIT, and the rest (ttys, eventfd, timerfd, signalfd, epoll, character devices)
 * are polled with a zero timeout and then called under the system-call hand-off, in case
 * another reader won the race.  The program's own O_NONBLOCK is read with F_GETFL only
 * when a call would block, so it is always current (dup, fcntl, FIONBIO, other processes).
 *
 * Rejected: one waiter slot per direction, as Go has (pthreads programs do let several
 * threads block on one fd: accept on a shared listening socket); level-triggered
 * registration (every poll would report every idle-but-writable socket); caching
 * O_NONBLOCK (the flag is shared with other processes; the F_GETFL costs one system call
 * only on the path that parks anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>

#include "arch/x86_64/syscall.h"
#include "fd.h"
#include "netpoll.h"
#include "park.h"
#include "proc.h"
#include "runq.h"
#include "sig.h"
#include "timer.h"

#define CHUNK_BITS 12
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define NCHUNKS 256 /* fds up to 1,048,575; beyond, calls use the system-call hand-off */
#define SYSMON_POLL_NS 10000000
#define PAIRED_WAIT_NS 10000000 /* a paired end waits this long for a kick before epoll */

#define INFO_KIND 0xffu
#define INFO_REGISTERED 0x100u
#define INFO_FRESH 0x200u /* a socket from our socket() hook, not yet connected */
#define INFO_TIMEO 0x400u     /* the timeouts of this life are known as of pd.timeo_epoch */
#define INFO_TIMEO_SET 0x800u /* ...and are not both 0: pd_ext holds them */
#define INFO_PAIRED 0x1000u    /* green made this life with its other end: see pd_ext.xpeer */
#define FLAGS_CACHED 2u /* pd.xflags holds an answer */

#define EVFD_TAG UINT64_MAX

/* One descriptor's state: 32 bytes in a release build, what every descriptor a G waited
 * on costs (a server's connections).  What only some descriptors need lives in struct
 * pd_ext.  The lock is a leaf: nothing else is taken while it is held. */
struct pd {
	/* Serializes classification, registration, the timeout cache and the life bumps of
	 * close. */
	struct gr_lock lock;
	/* Atomic: the fd's life; odd while close or dup2 over it is in progress. */
	_Atomic uint32_t xseq;
	/* Atomic: bumped (seq_cst) by the poller on each event of the current life; Gs park
	 * on its address while it keeps the value they saw before their call. */
	_Atomic uint32_t xgen;
	/* Protected by lock: the timeout epoch (xtimeo_epoch) as of which INFO_TIMEO holds. */
	uint32_t timeo_epoch;
	/* Atomic: (life << 32) | kind | INFO_*: what is known of that life.  Written under
	 * lock, read without it. */
	_Atomic uint64_t xinfo;
	/* Atomic: (life << 32) | (flags epoch << 2) | FLAGS_CACHED | O_NONBLOCK, as F_GETFL
	 * said in that life and epoch (see pd_nonblock); 0 until then. */
	_Atomic uint64_t xflags;
};
_Static_assert(GR_DEBUG >= 1 || sizeof(struct pd) == 32, "struct pd stays small");

/* The rest of a descriptor's state, in a table of its own indexed the same way, whose
 * pages are touched only by the descriptors that have some: the ends of the pipes and
 * socketpairs green created, and sockets with SO_RCVTIMEO or SO_SNDTIMEO set.  It was part
 * of struct pd (80 bytes then): 800 KB for a server's 10,000 sockets that used none of it. */
struct pd_ext {
	/* Atomic: the other end of a pipe or socketpair green created, (life << 32) |
	 * (peer fd + 1), and the peer's life then (xpeer_seq, stored first).  0: unknown.
	 * Written by gr_netpoll_pair, read racily: a stale peer costs a spurious wake. */
	_Atomic uint64_t xpeer;
	_Atomic uint32_t xpeer_seq;
	/* Atomic: set by the peer's kick; cleared by a waiter before it parks, so it can tell
	 * a kick woke it (then a registration made for an unhooked writer is dropped). */
	_Atomic uint32_t xkicked;
	/* Protected by the pd's lock: SO_RCVTIMEO/SO_SNDTIMEO (ns) of the life and epoch the
	 * pd's INFO_TIMEO records, when INFO_TIMEO_SET says they are not both 0. */
	int64_t rcvtimeo, sndtimeo;
};

/* Both tables are chunks of CHUNK_SIZE entries, mapped on first use and never unmapped, so
 * a pointer to an entry stays valid for the life of the process whatever happens to the
 * fd. */
static void *_Atomic chunks[NCHUNKS];	/* of struct pd */
static void *_Atomic ext_chunks[NCHUNKS]; /* of struct pd_ext */

/* The poller.  epfd/evfd are written once by init (xinit release) and read after. */
static int epfd = -1, evfd = -1;
static _Atomic int xinit;	    /* 0 none, 1 starting, 2 ready, 3 failed */
static struct gr_lock init_lock;
static _Atomic int xwaiters;	    /* Gs parked on a descriptor */
static _Atomic bool xblocked;	    /* an M is (about to be) blocked in epoll */
static _Atomic int64_t xpoll_until; /* its deadline; INT64_MAX = none */
static _Atomic int64_t xlastpoll;   /* last poll (monotonic ns); 0 while one M blocks */
static _Atomic uint32_t xwakesig;   /* the break eventfd has been written, not yet read */
static _Atomic uint32_t xtimeo_epoch;
static _Atomic uint32_t xflags_epoch; /* bumped around every F_SETFL and FIONBIO */

/* The chunk of tab that holds fd (entries of size bytes), mapped if create and missing;
 * NULL when fd is out of range or the chunk is missing.  A fresh anonymous mapping, not
 * calloc: its pages stay untouched until an entry on them is used, where calloc may clear
 * recycled heap memory and touch all of it. */
static void *chunk_of(void *_Atomic *tab, int fd, size_t size, bool create)
{
	if (fd < 0 || fd >= NCHUNKS * CHUNK_SIZE)
		return NULL;
	void *c = atomic_load_explicit(&tab[fd >> CHUNK_BITS], memory_order_acquire);
	if (c || !create)
		return c;
	void *n = mmap(NULL, CHUNK_SIZE * size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED)
		return NULL;
	/* Release: the zeroed chunk is visible before its pointer.  Pairs with the acquire
	 * above. */
	if (atomic_compare_exchange_strong_explicit(&tab[fd >> CHUNK_BITS], &c, n,
						    memory_order_acq_rel, memory_order_acquire))
		return n;
	munmap(n, CHUNK_SIZE * size);
	return c;
}

static struct pd *pd_lookup(int fd, bool create)
{
	struct pd *c = chunk_of(chunks, fd, sizeof(*c), create);

	return c ? &c[fd & (CHUNK_SIZE - 1)] : NULL;
}

static struct pd_ext *ext_lookup(int fd, bool create)
{
	struct pd_ext *c = chunk_of(ext_chunks, fd, sizeof(*c), create);

	return c ? &c[fd & (CHUNK_SIZE - 1)] : NULL;
}

static gr_fd_claimed_fn claimed;

static int netpoll_init(void)
{
	int st = atomic_load_explicit(&xinit, memory_order_acquire);

	if (st == 2)
		return 0;
	if (st == 3)
		return -EPERM;
	gr_lock(&init_lock);
	if (atomic_load_explicit(&xinit, memory_order_relaxed) == 0) {
		int ep = (int)gr_syscall(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0);
		int ev = (int)gr_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0);
		/* Level-triggered (as Go's netpollEventFd): a non-blocking poll that sees it
		 * leaves it for the blocked poller it is meant for. */
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = EVFD_TAG};
		if (ep < 0 || ev < 0 || gr_syscall4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, ev, &e) < 0) {
			if (ep >= 0)
				gr_syscall(SYS_close, ep, 0, 0);
			if (ev >= 0)
				gr_syscall(SYS_close, ev, 0, 0);
			atomic_store_explicit(&xinit, 3, memory_order_release);
		} else {
			/* Out of the program's way (fd.c). */
			epfd = gr_fd_own(ep, claimed);
			evfd = gr_fd_own(ev, claimed);
			atomic_store_explicit(&xlastpoll, gr_nanotime(), memory_order_relaxed);
			atomic_store_explicit(&xpoll_until, INT64_MAX, memory_order_relaxed);
			atomic_store_explicit(&xinit, 2, memory_order_release);
		}
	}
	gr_unlock(&init_lock);
	return atomic_load_explicit(&xinit, memory_order_acquire) == 2 ? 0 : -EPERM;
}

bool gr_netpoll_inited(void)
{
	return atomic_load_explicit(&xinit, memory_order_acquire) == 2;
}


/* ---- descriptor state ---------------------------------------------------------------- */

/* The fd's current life.  Odd means a close or dup2 over the fd is between its two bumps:
 * the number may already belong to a new descriptor (the real close has returned and
 * another thread's socket() got the number), so wait for the closer's second bump, which
 * follows the real call at once. */
static uint32_t pd_seq(struct pd *pd)
{
	for (int spins = 0;; spins++) {
		uint32_t seq = atomic_load_explicit(&pd->xseq, memory_order_acquire);
		if (!(seq & 1))
			return seq;
		if (spins < 100)
			gr_arch_pause();
		else
			gr_yield();
	}
}

static enum gr_fd_kind classify(int fd, int *err)
{
	struct stat st;
	long r = gr_syscall(SYS_fstat, fd, &st, 0);

	if (r < 0) {
		*err = (int)r;
		return GR_FD_UNKNOWN;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		return GR_FD_SOCK;
	case S_IFIFO:
		return GR_FD_PIPE;
	case S_IFREG:
	case S_IFDIR:
	case S_IFBLK:
		return GR_FD_PLAIN;
	default: /* ttys, other character devices, anonymous inodes (eventfd, ...) */
		return GR_FD_READY;
	}
}

/* The info word of life seq of fd, classifying the descriptor if this life is new.
 * Returns 0 with *info set, -EBADF (fstat's error), or -ESTALE when the life changed. */
static int pd_info(struct pd *pd, int fd, uint32_t seq, uint64_t *info)
{
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_acquire);

	if ((uint32_t)(in >> 32) == seq && (in & INFO_KIND)) {
		*info = in;
		return 0;
	}
	int err = -EBADF;
	gr_lock(&pd->lock);
	in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if (atomic_load_explicit(&pd->xseq, memory_order_relaxed) != seq) {
		gr_unlock(&pd->lock);
		return -ESTALE; /* a new life began: the caller starts over */
	}
	if ((uint32_t)(in >> 32) != seq || !(in & INFO_KIND)) {
		enum gr_fd_kind k = classify(fd, &err);
		if (k == GR_FD_UNKNOWN) {
			gr_unlock(&pd->lock);
			return err;
		}
		in = (uint64_t)seq << 32 |
		     ((uint32_t)(in >> 32) == seq ? (in & (INFO_FRESH | INFO_PAIRED)) : 0) | k;
		atomic_store_explicit(&pd->xinfo, in, memory_order_release);
	}
	gr_unlock(&pd->lock);
	*info = in;
	return 0;
}

/* Registers life seq of fd with epoll (once).  Returns 0, -ESTALE (the life changed),
 * -EPERM when epoll cannot watch it (then the kind becomes PLAIN), or epoll_ctl's error. */
static int pd_register(struct pd *pd, int fd, uint32_t seq)
{
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_acquire);

	if ((uint32_t)(in >> 32) == seq && (in & INFO_REGISTERED))
		return 0;
	int r = netpoll_init();
	if (r)
		return r;
	gr_lock(&pd->lock);
	in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if (atomic_load_explicit(&pd->xseq, memory_order_relaxed) != seq ||
	    (uint32_t)(in >> 32) != seq) {
		gr_unlock(&pd->lock);
		return -ESTALE;
	}
	if (!(in & INFO_REGISTERED)) {
		struct epoll_event e = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
			.data.u64 = (uint64_t)seq << 32 | (uint32_t)fd,
		};
		long rc = gr_syscall4(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, fd, &e);
		if (rc == -EEXIST) /* a life whose close no hook saw, same description */
			rc = gr_syscall4(SYS_epoll_ctl, epfd, EPOLL_CTL_MOD, fd, &e);
		if (rc == -EPERM) {
			in = (in & ~(uint64_t)INFO_KIND) | GR_FD_PLAIN;
			atomic_store_explicit(&pd->xinfo, in, memory_order_release);
			gr_unlock(&pd->lock);
			return -EPERM;
		}
		if (rc < 0) {
			gr_unlock(&pd->lock);
			return (int)rc;
		}
		atomic_store_explicit(&pd->xinfo, in | INFO_REGISTERED, memory_order_release);
	}
	gr_unlock(&pd->lock);
	return 0;
}

/* Records peer (fd peer_fd) as the other end of the current life of pd, whose extra state
 * is ext. */
static void pd_set_peer(struct pd *pd, struct pd_ext *ext, struct pd *peer, int peer_fd)
{
	uint32_t seq = pd_seq(pd);

	atomic_store_explicit(&ext->xpeer_seq, pd_seq(peer), memory_order_relaxed);
	/* Release: xpeer_seq before xpeer; pairs with the acquire in pd_peer. */
	atomic_store_explicit(&ext->xpeer, (uint64_t)seq << 32 | (uint32_t)(peer_fd + 1),
			      memory_order_release);
	/* Then the flag that sends pd_peer to ext at all: descriptors without it (a server's
	 * sockets) skip that line at every call. */
	gr_lock(&pd->lock);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if ((uint32_t)(in >> 32) == seq)
		atomic_store_explicit(&pd->xinfo, in | INFO_PAIRED, memory_order_release);
	gr_unlock(&pd->lock);
}

void gr_netpoll_pair(int a, int b)
{
	struct pd *pa = pd_lookup(a, true), *pb = pd_lookup(b, true);
	struct pd_ext *ea = ext_lookup(a, true), *eb = ext_lookup(b, true);

	if (!pa || !pb || !ea || !eb)
		return;
	pd_set_peer(pa, ea, pb, b);
	pd_set_peer(pb, eb, pa, a);
}

/* The other end of life seq of fd, if green knows it and it lives in the life it was
 * paired in: its extra state (which pairing gave it); else NULL. */
static struct pd_ext *pd_peer(int fd, uint32_t seq, struct pd **peer)
{
	struct pd *pd = pd_lookup(fd, false);
	uint64_t in = pd ? atomic_load_explicit(&pd->xinfo, memory_order_acquire) : 0;

	if ((uint32_t)(in >> 32) != seq || !(in & INFO_PAIRED))
		return NULL;
	struct pd_ext *ext = ext_lookup(fd, false);
	uint64_t pr = ext ? atomic_load_explicit(&ext->xpeer, memory_order_acquire) : 0;

	if ((uint32_t)(pr >> 32) != seq || !(uint32_t)pr)
		return NULL;
	int peer_fd = (int)(uint32_t)pr - 1;
	*peer = pd_lookup(peer_fd, false);
	if (!*peer || atomic_load_explicit(&(*peer)->xseq, memory_order_acquire) !=
			      atomic_load_explicit(&ext->xpeer_seq, memory_order_relaxed))
		return NULL;
	return ext_lookup(peer_fd, false);
}

/* True if life seq of fd has a peer green knows. */
static bool pd_paired(int fd, uint32_t seq)
{
	struct pd *peer;

	return pd_peer(fd, seq, &peer) != NULL;
}

bool gr_netpoll_paired(int fd)
{
	struct pd *pd = pd_lookup(fd, false);

	return pd && pd_paired(fd, atomic_load_explicit(&pd->xseq, memory_order_acquire));
}

/* After a call that moved data through life seq of fd: the other end, if green knows it,
 * has news (data to read, or room to write); wake its waiters (see the top). */
static void peer_kick(int fd, uint32_t seq)
{
	struct pd *peer;
	struct pd_ext *peer_ext = pd_peer(fd, seq, &peer);

	if (!peer_ext)
		return;
	atomic_store_explicit(&peer_ext->xkicked, 1, memory_order_relaxed);
	/* seq_cst; pairs with may_sleep's loads under the wait queue's lock. */
	atomic_fetch_add_explicit(&peer->xgen, 1, memory_order_seq_cst);
	/* A signal handler's write (the self-pipe trick) that interrupted the scheduler,
	 * whose M is pinned and may be halfway through its P's run queue, must not ready a
	 * G there: its waiters find the bump, or wait out PAIRED_WAIT_NS. */
	struct gr_g *gp = gr_getg();
	if (gp && gp->m &&
	    atomic_load_explicit(&gp->m->xpin, memory_order_relaxed) == GR_PIN_PINNED)
		return;
	gr_park_wake(&peer->xgen, INT_MAX, 0);
}

void gr_netpoll_kick(int fd)
{
	struct pd *pd = pd_lookup(fd, false);

	if (pd)
		peer_kick(fd, atomic_load_explicit(&pd->xseq, memory_order_acquire));
}

/* Drops the epoll registration of life seq of a paired fd, if it has one.  Its other
 * waiters wake and wait again the way an unregistered end waits. */
static void pd_unregister(struct pd *pd, int fd, uint32_t seq)
{
	bool dropped = false;

	gr_lock(&pd->lock);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if (atomic_load_explicit(&pd->xseq, memory_order_relaxed) == seq &&
	    (uint32_t)(in >> 32) == seq && (in & INFO_REGISTERED)) {
		gr_syscall4(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, NULL);
		atomic_store_explicit(&pd->xinfo, in & ~(uint64_t)INFO_REGISTERED,
				      memory_order_release);
		dropped = true;
	}
	gr_unlock(&pd->lock);
	if (dropped) {
		/* seq_cst; pairs with may_sleep's loads under the wait queue's lock. */
		atomic_fetch_add_explicit(&pd->xgen, 1, memory_order_seq_cst);
		gr_park_wake(&pd->xgen, INT_MAX, 0);
	}
}

/* Starts a new life: waiters of the old one wake (and find it gone).  The bump that ends
 * a close (odd to even) also kicks the old life's peer: it may see EOF or EPIPE now. */
static void pd_bump(struct pd *pd, int fd, bool unregister)
{
	gr_lock(&pd->lock);
	uint32_t seq = atomic_load_explicit(&pd->xseq, memory_order_relaxed);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if (unregister && (uint32_t)(in >> 32) == seq && (in & INFO_REGISTERED))
		gr_syscall4(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, NULL);
	atomic_store_explicit(&pd->xseq, seq + 1, memory_order_seq_cst);
	gr_unlock(&pd->lock);
	gr_park_wake(&pd->xgen, INT_MAX, 0);
	if (seq & 1)
		peer_kick(fd, seq - 1);
}

void gr_netpoll_close_begin(int fd)
{
	struct pd *pd = pd_lookup(fd, false);

	if (pd)
		pd_bump(pd, fd, true);
}

void gr_netpoll_close_end(int fd)
{
	struct pd *pd = pd_lookup(fd, false);

	if (pd)
		pd_bump(pd, fd, false);
}

void gr_netpoll_fd_new(int fd, enum gr_fd_kind kind, bool fresh_sock)
{
	struct pd *pd = pd_lookup(fd, true);

	if (!pd)
		return;
	uint32_t seq = pd_seq(pd);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_acquire);
	if ((uint32_t)(in >> 32) == seq && (in & ~INFO_FRESH & 0xffffffffu)) {
		/* State of an earlier descriptor whose close no hook saw. */
		pd_bump(pd, fd, false);
		pd_bump(pd, fd, false);
	}
	/* The kind is known: no fstat at the first call. */
	gr_lock(&pd->lock);
	seq = atomic_load_explicit(&pd->xseq, memory_order_relaxed);
	atomic_store_explicit(&pd->xinfo,
			      (uint64_t)seq << 32 | (fresh_sock ? INFO_FRESH : 0) | kind,
			      memory_order_release);
	gr_unlock(&pd->lock);
}

bool gr_netpoll_take_fresh(int fd)
{
	struct pd *pd = pd_lookup(fd, false);

	if (!pd)
		return false;
	bool fresh = false;
	gr_lock(&pd->lock);
	uint32_t seq = atomic_load_explicit(&pd->xseq, memory_order_relaxed);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if ((uint32_t)(in >> 32) == seq && (in & INFO_FRESH)) {
		fresh = true;
		atomic_store_explicit(&pd->xinfo, in & ~(uint64_t)INFO_FRESH, memory_order_release);
	}
	gr_unlock(&pd->lock);
	return fresh;
}

void gr_netpoll_timeo_changed(void)
{
	atomic_fetch_add_explicit(&xtimeo_epoch, 1, memory_order_release);
}

/* Requires pd's lock.  Asks the kernel for the timeouts of fd, the socket of life seq of
 * pd, as of timeout epoch epoch, and caches them there: in the pd's info word, and in its
 * pd_ext only when they are not both 0.  Returns SO_SNDTIMEO (out) or SO_RCVTIMEO. */
static int64_t sock_timeo_fetch_locked(struct pd *pd, int fd, uint32_t seq, uint32_t epoch,
				       bool out)
{
	GR_ASSERT_HELD(&pd->lock);
	struct timeval tv[2] = {{0, 0}, {0, 0}};
	socklen_t len = sizeof(tv[0]);
	gr_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv[0], (long)&len, 0);
	len = sizeof(tv[1]);
	gr_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv[1], (long)&len, 0);
	int64_t rcv = (int64_t)tv[0].tv_sec * 1000000000 + tv[0].tv_usec * 1000;
	int64_t snd = (int64_t)tv[1].tv_sec * 1000000000 + tv[1].tv_usec * 1000;

	bool set = rcv || snd;
	struct pd_ext *ext = set ? ext_lookup(fd, true) : NULL;
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if ((uint32_t)(in >> 32) == seq && (ext || !set)) { /* else: not cached */
		if (ext) {
			ext->rcvtimeo = rcv;
			ext->sndtimeo = snd;
		}
		in = (in & ~(uint64_t)INFO_TIMEO_SET) | INFO_TIMEO | (set ? INFO_TIMEO_SET : 0);
		atomic_store_explicit(&pd->xinfo, in, memory_order_release);
		pd->timeo_epoch = epoch;
	}
	return out ? snd : rcv;
}

/* SO_RCVTIMEO (in) or SO_SNDTIMEO (out) of fd, the socket of life seq of pd, in ns; 0 =
 * none.  Cached per life until the program sets a timeout on some socket. */
static int64_t sock_timeo(struct pd *pd, int fd, uint32_t seq, bool out)
{
	uint32_t epoch = atomic_load_explicit(&xtimeo_epoch, memory_order_acquire);
	int64_t t = 0;

	gr_lock(&pd->lock);
	uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
	if ((uint32_t)(in >> 32) != seq || !(in & INFO_TIMEO) || pd->timeo_epoch != epoch) {
		t = sock_timeo_fetch_locked(pd, fd, seq, epoch, out);
	} else if (in & INFO_TIMEO_SET) {
		struct pd_ext *ext = ext_lookup(fd, false); /* made before the bit was set */
		t = out ? ext->sndtimeo : ext->rcvtimeo;
	}
	gr_unlock(&pd->lock);
	return t;
}

/* ---- parking ------------------------------------------------------------------------- */

struct park_arg {
	struct pd *pd;
	uint32_t seq, gen;
};

/* Under the wait queue's lock: sleep only while nothing happened since the snapshot.
 * seq_cst loads; pair with the poller's bump and gr_park_wake's fence. */
static bool may_sleep(const void *addr, void *arg)
{
	struct park_arg *a = arg;

	(void)addr;
	return atomic_load_explicit(&a->pd->xgen, memory_order_seq_cst) == a->gen &&
	       atomic_load_explicit(&a->pd->xseq, memory_order_seq_cst) == a->seq;
}

/* polled: the descriptor is registered, so a poll may wake the G (counted in xwaiters).
 * restartable: an interruption whose handlers all had SA_RESTART returns 0 (the caller
 * retries the call, as the kernel restarts it); else it returns -EINTR. */
static int park(struct pd *pd, uint32_t seq, uint32_t gen, int64_t deadline, bool polled,
		bool restartable)
{
	struct park_arg a = {pd, seq, gen};

	if (polled)
		atomic_fetch_add_explicit(&xwaiters, 1, memory_order_seq_cst);
	int r = gr_park_wait_intr(&pd->xgen, may_sleep, &a, deadline, 0);
	if (polled)
		atomic_fetch_sub_explicit(&xwaiters, 1, memory_order_relaxed);
	if (atomic_load_explicit(&pd->xseq, memory_order_acquire) != seq)
		return -EBADF;
	if (r == -EINTR) {
		/* A signal or cancellation (signal.c): I/O waits are cancellation points. */
		gr_cancel_point();
		return restartable && gr_getg()->sigrestart ? 0 : -EINTR;
	}
	return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

int gr_netpoll_arm(int fd, struct gr_np_token *tok)
{
	if (!gr_g_schedulable(gr_getg()))
		return -EPERM;
	struct pd *pd = pd_lookup(fd, true);
	if (!pd)
		return -EPERM;
	for (;;) {
		uint32_t seq = pd_seq(pd);
		uint64_t in;
		int r = pd_info(pd, fd, seq, &in);
		if (r == -ESTALE)
			continue;
		if (r)
			return r;
		if ((in & INFO_KIND) == GR_FD_PLAIN)
			return -EPERM;
		tok->pd = pd;
		tok->seq = seq;
		tok->gen = atomic_load_explicit(&pd->xgen, memory_order_seq_cst);
		r = pd_register(pd, fd, seq);
		if (r != -ESTALE)
			return r;
	}
}

int gr_netpoll_park(const struct gr_np_token *tok, int64_t deadline)
{
	return park(tok->pd, tok->seq, tok->gen, deadline, true, true);
}

int gr_netpoll_park_norestart(const struct gr_np_token *tok, int64_t deadline)
{
	return park(tok->pd, tok->seq, tok->gen, deadline, true, false);
}

/* ---- I/O ----------------------------------------------------------------------------- */

static long handoff_call(struct gr_io *io)
{
	gr_entersyscall();
	long r = io->call(io);
	gr_exitsyscall();
	return r;
}

/* The program's O_NONBLOCK on fd, cached per life until the program changes some
 * descriptor's flags (gr_netpoll_flags_changed bumps the epoch before and after the
 * change, so a racing F_GETFL is never cached under the final epoch).  A change made by
 * another process, or by a raw system call, is not seen (documented). */
static bool pd_nonblock(struct pd *pd, int fd, uint32_t seq)
{
	uint32_t ep = atomic_load_explicit(&xflags_epoch, memory_order_acquire) & 0x3fffffff;
	uint64_t c = atomic_load_explicit(&pd->xflags, memory_order_acquire);

	/* FLAGS_CACHED tells an entry from the zeroed word, which would otherwise read as
	 * "blocking" for life 0 (a descriptor inherited or made without a hook) at epoch 0. */
	if ((uint32_t)(c >> 32) == seq && ((uint32_t)c >> 2) == ep && (c & FLAGS_CACHED))
		return c & 1;
	long fl = gr_syscall(SYS_fcntl, fd, F_GETFL, 0);
	bool nb = fl >= 0 && (fl & O_NONBLOCK);
	if (fl >= 0)
		atomic_store_explicit(&pd->xflags, (uint64_t)seq << 32 | ep << 2 | FLAGS_CACHED | nb,
				      memory_order_release);
	return nb;
}

void gr_netpoll_flags_changed(void)
{
	atomic_fetch_add_explicit(&xflags_epoch, 1, memory_order_acq_rel);
}

/* Zero-timeout poll of fd for the direction of io: true if the call would not block. */
static bool poll_ready(struct gr_io *io)
{
	struct pollfd p = {.fd = io->fd, .events = io->mode == GR_IO_IN ? POLLIN : POLLOUT};
	struct timespec zero = {0, 0};

	return gr_syscall6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0) != 0;
}

/* True when the calling G's P has other Gs queued. */
static bool local_work(void)
{
	bool pinned;
	struct gr_p *pp = gr_proc_pin(&pinned);
	bool work = pp && !gr_runq_empty(pp);

	gr_proc_unpin(pinned);
	return work;
}

static long io_wait(struct gr_io *io)
{
	struct pd *pd = NULL;
	bool yielded = false;

	io->kind = GR_FD_UNKNOWN;
	if (!gr_g_schedulable(gr_getg()))
		return io->call(io); /* a foreign thread or g0 blocks itself */
	if (!(pd = pd_lookup(io->fd, true)))
		return handoff_call(io); /* fd out of the table's range, or no memory */
	for (;;) {
		uint32_t seq = pd_seq(pd);
		uint64_t in;
		int r = pd_info(pd, io->fd, seq, &in);
		if (r == -ESTALE)
			continue;
		if (r)
			return r;
		enum gr_fd_kind kind = in & INFO_KIND;
		io->kind = kind;
		if (kind == GR_FD_PLAIN)
			return handoff_call(io);
		if (!yielded && io->mode == GR_IO_IN && io->nowait && kind != GR_FD_READY &&
		    !(in & INFO_REGISTERED) && pd_paired(io->fd, seq) && local_work()) {
			/* The G queued here is most likely the one this G just kicked, about
			 * to write what this G reads: let it run first (see the top). */
			yielded = true;
			if (!gr_yield_to_runnext())
				gr_yield();
			continue;
		}
		uint32_t gen = atomic_load_explicit(&pd->xgen, memory_order_seq_cst);
		long rc;
		if (io->nowait && kind != GR_FD_READY) {
			rc = io->nowait(io, kind);
			if (rc == -EOPNOTSUPP && kind == GR_FD_PIPE) {
				/* No RWF_NOWAIT for this one: poll first from now on. */
				gr_lock(&pd->lock);
				uint64_t cur = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
				if (cur == in)
					atomic_store_explicit(
						&pd->xinfo,
						(in & ~(uint64_t)INFO_KIND) | GR_FD_READY,
						memory_order_release);
				gr_unlock(&pd->lock);
				continue;
			}
			if (rc != -EAGAIN)
				return rc;
		} else if (poll_ready(io)) {
			return handoff_call(io);
		}
		/* The call would block. */
		if ((io->nonblock = pd_nonblock(pd, io->fd, seq)))
			return io->nowait && kind != GR_FD_READY ? -EAGAIN : io->call(io);
		/* A paired end waits for its peer's kick, and registers with epoll only for a
		 * writer no hook sees (see the top). */
		bool paired = pd_paired(io->fd, seq);
		struct pd_ext *ext = paired ? ext_lookup(io->fd, false) : NULL;
		if (!paired) {
			r = pd_register(pd, io->fd, seq);
			if (r == -EPERM)
				return handoff_call(io);
			if (r == -ESTALE)
				continue;
			if (r)
				return r;
		}
		if (!io->deadline) {
			int64_t t = kind == GR_FD_SOCK
					    ? sock_timeo(pd, io->fd, seq, io->mode == GR_IO_OUT)
					    : 0;
			io->deadline = t ? gr_nanotime() + t : -1;
		}
		int64_t until = io->deadline > 0 ? io->deadline : 0;
		bool registered = !paired || (in & INFO_REGISTERED), lazy = false;
		if (!registered) {
			int64_t t = gr_nanotime() + PAIRED_WAIT_NS;
			lazy = !until || t < until;
			until = lazy ? t : until;
		}
		if (paired)
			atomic_store_explicit(&ext->xkicked, 0, memory_order_relaxed);
		r = park(pd, seq, gen, until, registered, true);
		if (r == -ETIMEDOUT && lazy) {
			/* No kick for a while: maybe a writer no hook sees.  Register. */
			r = pd_register(pd, io->fd, seq);
			if (r == -EPERM)
				return handoff_call(io);
			if (r && r != -ESTALE)
				return r;
			continue;
		}
		if (r == 0 && paired && (in & INFO_REGISTERED) &&
		    atomic_load_explicit(&ext->xkicked, memory_order_relaxed))
			pd_unregister(pd, io->fd, seq); /* the peer's kicks work again */
		if (r == -ETIMEDOUT)
			return -EAGAIN;
		if (r)
			return r;
	}
}

long gr_netpoll_io(struct gr_io *io)
{
	long rc = io_wait(io);

	if (rc > 0)
		gr_netpoll_kick(io->fd);
	return rc;
}

long gr_netpoll_io_all(struct gr_io *io, const void *buf, size_t n,
		       bool (*more)(const struct gr_io *io))
{
	size_t done = 0;

	for (;;) {
		io->a[1] = (long)buf + (long)done;
		io->a[2] = (long)(n - done);
		long r = gr_netpoll_io(io);
		if (r < 0)
			return done ? (long)done : r;
		done += (size_t)r;
		if (done >= n || r == 0 || !more(io))
			return (long)done;
	}
}

/* ---- the poller ---------------------------------------------------------------------- */

static void do_epoll(struct gr_np_batch *b, int64_t until)
{
	struct timespec ts, *tp = NULL;
	long n;

	if (until == 0) {
		n = gr_syscall6(SYS_epoll_wait, epfd, (long)b->ev, 128, 0, 0, 0);
	} else {
		if (until != INT64_MAX) {
			int64_t d = until - gr_nanotime();
			if (d < 0)
				d = 0;
			ts.tv_sec = d / 1000000000;
			ts.tv_nsec = d % 1000000000;
			tp = &ts;
		}
		/* epoll_pwait2: a timespec, so timers keep their sub-millisecond accuracy. */
		n = gr_syscall6(441 /* SYS_epoll_pwait2 */, epfd, (long)b->ev, 128, (long)tp, 0,
				8);
	}
	b->n = n > 0 ? (int)n : 0;
	b->blocking = until != 0;
}

/* The pd an event of b is for, or NULL for the break eventfd and out-of-range fds. */
static struct pd *event_pd(const struct gr_np_batch *b, int i)
{
	uint64_t data = b->ev[i].data.u64;

	return data == EVFD_TAG ? NULL : pd_lookup((int)(uint32_t)data, false);
}

int gr_netpoll_deliver(struct gr_np_batch *b)
{
	int woken = 0;

	/* Each event below misses three times (its pd, the wait queue's bucket, then the
	 * waiter on its G's stack): start every line of the batch first. */
	for (int i = 0; b->n > 1 && i < b->n; i++) {
		struct pd *pd = event_pd(b, i);
		if (pd) {
			__builtin_prefetch(pd, 1);
			gr_park_prefetch_bucket(&pd->xgen);
		}
	}
	for (int i = 0; b->n > 1 && i < b->n; i++) {
		struct pd *pd = event_pd(b, i);
		if (pd)
			gr_park_prefetch_waiter(&pd->xgen);
	}
	for (int i = 0; i < b->n; i++) {
		uint64_t data = b->ev[i].data.u64;
		if (data == EVFD_TAG) {
			if (b->blocking) {
				uint64_t v;
				gr_syscall(SYS_read, evfd, &v, sizeof(v));
				atomic_store_explicit(&xwakesig, 0, memory_order_release);
			}
			continue;
		}
		struct pd *pd = pd_lookup((int)(uint32_t)data, false);
		if (!pd || atomic_load_explicit(&pd->xseq, memory_order_acquire) != data >> 32)
			continue; /* an event of an earlier life */
		/* seq_cst; pairs with may_sleep's loads under the wait queue's lock. */
		atomic_fetch_add_explicit(&pd->xgen, 1, memory_order_seq_cst);
		/* To the tail, in the order of the events (Go: injectglist): the G that
		 * polls hands nothing over to them, and through runnext each would
		 * displace the one before and take over the poller's time slice. */
		woken += gr_park_wake_tail(&pd->xgen, INT_MAX, 0);
	}
	b->n = 0;
	return woken;
}

bool gr_netpoll_worth_polling(bool spinning)
{
	return atomic_load_explicit(&xwaiters, memory_order_relaxed) > 0 &&
	       (!spinning || atomic_load_explicit(&xlastpoll, memory_order_relaxed) != 0);
}

int gr_netpoll_poll(void)
{
	struct gr_np_batch b;

	if (!gr_netpoll_inited())
		return 0;
	atomic_store_explicit(&xlastpoll, gr_nanotime(), memory_order_relaxed);
	do_epoll(&b, 0);
	return gr_netpoll_deliver(&b);
}

bool gr_netpoll_block_claim(void)
{
	bool f = false;

	if (!gr_netpoll_inited() || atomic_load_explicit(&xblocked, memory_order_relaxed))
		return false;
	if (!atomic_compare_exchange_strong_explicit(&xblocked, &f, true, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	/* The claimer reads the timers after this fence, a timer's adder reads xblocked
	 * after its own (gr_netpoll_timer_added): one of them sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	return true;
}

void gr_netpoll_block(struct gr_np_batch *b, int64_t until)
{
	/* Publish the deadline before the caller's last look at the timers (seq_cst; pairs
	 * with the fence in gr_netpoll_timer_added). */
	atomic_store_explicit(&xpoll_until, until, memory_order_seq_cst);
	atomic_store_explicit(&xlastpoll, 0, memory_order_relaxed);
	do_epoll(b, until);
	atomic_store_explicit(&xlastpoll, gr_nanotime(), memory_order_relaxed);
	atomic_store_explicit(&xpoll_until, INT64_MAX, memory_order_relaxed);
}

void gr_netpoll_block_release(void)
{
	atomic_store_explicit(&xblocked, false, memory_order_release);
}

void gr_netpoll_break(void)
{
	uint32_t zero = 0;

	if (!gr_netpoll_inited())
		return;
	if (atomic_compare_exchange_strong_explicit(&xwakesig, &zero, 1, memory_order_acq_rel,
						    memory_order_relaxed)) {
		uint64_t one = 1;
		gr_syscall(SYS_write, evfd, &one, sizeof(one));
	}
}

void gr_netpoll_timer_added(int64_t when)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&xblocked, memory_order_relaxed) &&
	    when < atomic_load_explicit(&xpoll_until, memory_order_relaxed))
		gr_netpoll_break();
}

int gr_netpoll_sysmon(int64_t now)
{
	int64_t last = atomic_load_explicit(&xlastpoll, memory_order_relaxed);

	if (!gr_netpoll_inited() || last == 0 || now - last < SYSMON_POLL_NS)
		return 0;
	return gr_netpoll_poll();
}

/* The program dup2s onto the epoll or eventfd descriptor: move it (fd.c). */
static void claimed(int fd)
{
	gr_lock(&init_lock);
	int *own = fd == epfd ? &epfd : fd == evfd ? &evfd : NULL;
	if (own) {
		/* The same epoll instance or eventfd under another number: registrations
		 * follow the open file, and a poller blocked on the old number keeps its
		 * reference until it returns. */
		long n = gr_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
		if (n >= 0)
			*own = gr_fd_own((int)n, claimed);
	}
	gr_unlock(&init_lock);
}

void gr_netpoll_fork_child(void)
{
	/* The child shares the parent's epoll instance: leave it (closing the child's copies
	 * of both descriptors) and start a new one on the next registration. */
	if (gr_netpoll_inited()) {
		gr_fd_disown(epfd);
		gr_fd_disown(evfd);
		gr_syscall(SYS_close, epfd, 0, 0);
		gr_syscall(SYS_close, evfd, 0, 0);
	}
	epfd = evfd = -1;
	atomic_store_explicit(&xinit, 0, memory_order_relaxed);
	atomic_store_explicit(&xwaiters, 0, memory_order_relaxed);
	atomic_store_explicit(&xblocked, false, memory_order_relaxed);
	atomic_store_explicit(&xwakesig, 0, memory_order_relaxed);
	init_lock = (struct gr_lock)GR_LOCK_INIT;
	for (int c = 0; c < NCHUNKS; c++) {
		struct pd *chunk = atomic_load_explicit(&chunks[c], memory_order_relaxed);
		struct pd_ext *ext = atomic_load_explicit(&ext_chunks[c], memory_order_relaxed);
		/* Only what must change is written: a page written here is copied from the
		 * parent's. */
		for (int i = 0; chunk && i < CHUNK_SIZE; i++) {
			struct pd *pd = &chunk[i];
			if (atomic_load_explicit(&pd->lock.xstate, memory_order_relaxed))
				pd->lock = (struct gr_lock)GR_LOCK_INIT;
			uint64_t in = atomic_load_explicit(&pd->xinfo, memory_order_relaxed);
			if (in & INFO_REGISTERED)
				atomic_store_explicit(&pd->xinfo, in & ~(uint64_t)INFO_REGISTERED,
						      memory_order_relaxed);
		}
		/* The parent holds both ends too, and its writes kick nobody here. */
		for (int i = 0; ext && i < CHUNK_SIZE; i++)
			if (atomic_load_explicit(&ext[i].xpeer, memory_order_relaxed))
				atomic_store_explicit(&ext[i].xpeer, 0, memory_order_relaxed);
	}
}

/* close_range/closefrom over [first, last]: begin bumps each fd's life to odd (sparing the
 * poller's own descriptors), end bumps the lives begin left odd to even. */
static void close_range_bump(unsigned first, unsigned last, bool begin)
{
	for (unsigned c = first >> CHUNK_BITS; c < NCHUNKS && c <= last >> CHUNK_BITS; c++) {
		struct pd *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);
		if (!chunk)
			continue;
		for (unsigned i = 0; i < CHUNK_SIZE; i++) {
			unsigned fd = c << CHUNK_BITS | i;
			struct pd *pd = &chunk[i];
			if (fd < first || fd > last)
				continue;
			if (begin ? !gr_fd_is_runtime((int)fd)
				  : (atomic_load_explicit(&pd->xseq, memory_order_relaxed) & 1))
				pd_bump(pd, (int)fd, begin);
		}
	}
}

void gr_netpoll_close_range_begin(unsigned first, unsigned last)
{
	close_range_bump(first, last, true);
}

void gr_netpoll_close_range_end(unsigned first, unsigned last)
{
	close_range_bump(first, last, false);
}

