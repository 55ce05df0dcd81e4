/*
 * Futex-style words and the futex emulation.
 *
 * gr_word_wait/gr_word_wake are the futex interface every synchronization object in
 * sync.h is written against: a private object's word is a key of the parking table (the
 * value check runs under the bucket lock, which is what makes a wait and a wake race-free,
 * exactly as the kernel's futex hash does); a process-shared object's word is a kernel
 * futex without FUTEX_PRIVATE_FLAG, so the other process can be a native glibc program,
 * and the wait runs between gr_entersyscall and gr_exitsyscall so the P goes on with
 * another M while this one sleeps in the kernel.
 *
 * gr_futex emulates syscall(SYS_futex, ...) for private futexes: Rust's std (Mutex,
 * Condvar, RwLock, thread::park, mpsc) and libstdc++'s atomic wait call libc's syscall()
 * directly, and a kernel wait there would block the whole M.  The emulation follows the
 * kernel's semantics (futex(2)): WAIT compares *uaddr with val under the bucket lock
 * (EAGAIN when different) and takes a relative timeout; WAIT_BITSET an absolute one on
 * CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME; the bitset must be
 * nonzero; WAKE_OP applies its operation atomically and wakes on both words.
 *
 * Limitation (documented in ARCHITECTURE.md): the emulated queue and the kernel's are
 * different queues.  A private futex word that some code waits on with a raw kernel futex
 * (a glibc-internal lock taken inside libc, inline assembly) is not woken by an emulated
 * FUTEX_WAKE unless that wake finds no emulated waiter to spend its count on: so an
 * emulated wake that woke fewer than asked also issues the kernel FUTEX_WAKE for the rest
 * (a non-blocking system call, only on wakes that found too few waiters).  The reverse, a
 * raw kernel wake of a word an emulated waiter sleeps on, is not seen.  Non-private
 * futexes always go to the kernel: they may be in memory shared with another process.
 * libstdc++'s std::future (__atomic_futex_unsigned) uses non-private FUTEX_WAIT: such a
 * G blocks its M in the kernel, with its P handed off, and still works.
 *
 * Rejected: emulating non-private futexes too (wrong for MAP_SHARED memory, and telling
 * the mappings apart costs a /proc read); keeping only a kernel path for syscall() (each
 * waiting G would pin an OS thread, the very thing green exists to avoid).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "arch/x86_64/syscall.h"
#include "park.h"
#include "proc.h"
#include "real.h"
#include "runtime.h"
#include "sync.h"
#include "timer.h"

/* Beyond this many seconds a deadline is "forever" (about 272 years). */
#define FOREVER_S (1ll << 33)

int64_t gr_sync_deadline(clockid_t clock, const struct timespec *ts, bool abs)
{
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -EINVAL;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return -EINVAL;
	if (ts->tv_sec >= FOREVER_S)
		return 0;
	if (ts->tv_sec < -FOREVER_S) {
		if (!abs)
			return -EINVAL;
		return 1; /* long past */
	}
	return gr_deadline(clock, ts, abs);
}

void gr_spin_pause(unsigned i)
{
	if (i < 64 || (i & 63)) {
		gr_arch_pause();
		return;
	}
	gr_yield();
}

static struct timespec *rel_timespec(int64_t deadline, struct timespec *ts)
{
	if (!deadline)
		return NULL;
	int64_t rel = deadline - gr_nanotime();
	if (rel < 0)
		rel = 0;
	ts->tv_sec = rel / 1000000000;
	ts->tv_nsec = rel % 1000000000;
	return ts;
}

long gr_kfutex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts,
               _Atomic uint32_t *addr2, uint32_t val3)
{
	int cmd = op & FUTEX_CMD_MASK;
	bool blocks = cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
	              cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI;

	if (blocks)
		gr_entersyscall();
	long r = gr_syscall6(SYS_futex, (long)addr, op, val, (long)ts, (long)addr2, val3);
	if (blocks)
		gr_exitsyscall();
	return r;
}

bool gr_word_is(const void *addr, void *arg)
{
	return atomic_load_explicit((_Atomic uint32_t *)addr, memory_order_relaxed) ==
	       (uint32_t)(uintptr_t)arg;
}

int gr_word_kwait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts;

	if (deadline && deadline <= gr_nanotime())
		return -ETIMEDOUT;
	long r = gr_kfutex(addr, FUTEX_WAIT, val, rel_timespec(deadline, &ts), NULL, 0);
	if (r == -ETIMEDOUT || r == -EINTR)
		return (int)r;
	return 0;
}

int gr_word_wake(_Atomic uint32_t *addr, int n, bool shared)
{
	if (!shared)
		return gr_park_wake(addr, n, 0);
	long r = gr_kfutex(addr, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? 0 : (int)r;
}

/* ---- syscall(SYS_futex) ------------------------------------------------------------ */

/* The emulated wake, with the kernel wake for the rest (see the top of the file). */
static long emu_wake(uint32_t *uaddr, int n, uint32_t bits)
{
	if (n <= 0)
		return 0;
	int woke = gr_park_wake(uaddr, n, bits);
	if (woke < n) {
		long k = gr_syscall6(SYS_futex, (long)uaddr, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG,
		                     n - woke, 0, 0, bits ? bits : FUTEX_BITSET_MATCH_ANY);
		if (k > 0)
			woke += (int)k;
	}
	return woke;
}

static long emu_wait(uint32_t *uaddr, uint32_t val, int64_t deadline, uint32_t bits)
{
	int r = gr_park_wait(uaddr, gr_word_is, (void *)(uintptr_t)val, deadline, bits);
	if (r == -ETIMEDOUT || r == -EAGAIN)
		return r;
	return 0;
}

/* FUTEX_WAKE_OP's operation on *uaddr2; returns the old value.  futex(2). */
static uint32_t wake_op_apply(uint32_t *uaddr2, uint32_t val3)
{
	unsigned op = (val3 >> 28) & 7;
	uint32_t oparg = (val3 >> 12) & 0xfff;
	_Atomic uint32_t *w = (_Atomic uint32_t *)uaddr2;

	if (val3 & ((uint32_t)FUTEX_OP_OPARG_SHIFT << 28))
		oparg = 1u << (oparg & 31);
	else if (oparg & 0x800)
		oparg |= 0xfffff000; /* sign-extend the 12-bit argument */
	uint32_t old = atomic_load_explicit(w, memory_order_relaxed), new;
	do {
		switch (op) {
		case FUTEX_OP_SET:
			new = oparg;
			break;
		case FUTEX_OP_ADD:
			new = old + oparg;
			break;
		case FUTEX_OP_OR:
			new = old | oparg;
			break;
		case FUTEX_OP_ANDN:
			new = old & ~oparg;
			break;
		case FUTEX_OP_XOR:
			new = old ^ oparg;
			break;
		default:
			new = old;
			break;
		}
	} while (!atomic_compare_exchange_weak_explicit(w, &old, new, memory_order_seq_cst,
	                                                memory_order_relaxed));
	return old;
}

static bool wake_op_cmp(uint32_t old, uint32_t val3)
{
	unsigned cmp = (val3 >> 24) & 15;
	int32_t arg = (int32_t)(val3 & 0xfff);
	int32_t o = (int32_t)old;

	if (arg & 0x800)
		arg |= (int32_t)0xfffff000;
	switch (cmp) {
	case FUTEX_OP_CMP_EQ:
		return o == arg;
	case FUTEX_OP_CMP_NE:
		return o != arg;
	case FUTEX_OP_CMP_LT:
		return o < arg;
	case FUTEX_OP_CMP_LE:
		return o <= arg;
	case FUTEX_OP_CMP_GT:
		return o > arg;
	case FUTEX_OP_CMP_GE:
		return o >= arg;
	default:
		return false;
	}
}

long gr_futex(uint32_t *uaddr, int op, uint32_t val, long arg4, uint32_t *uaddr2, uint32_t val3)
{
	int cmd = op & FUTEX_CMD_MASK;
	const struct timespec *ts = (const struct timespec *)arg4;
	int64_t deadline = 0;

	if (!(op & FUTEX_PRIVATE_FLAG))
		return gr_kfutex((_Atomic uint32_t *)uaddr, op, val, ts, (_Atomic uint32_t *)uaddr2,
		                 val3);
	if ((uintptr_t)uaddr & 3)
		return -EINVAL;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (cmd == FUTEX_WAIT_BITSET && val3 == 0)
			return -EINVAL;
		if (ts) {
			bool abs = cmd == FUTEX_WAIT_BITSET;
			clockid_t clk = (op & FUTEX_CLOCK_REALTIME) && abs ? CLOCK_REALTIME :
			                                                     CLOCK_MONOTONIC;
			deadline = gr_sync_deadline(clk, ts, abs);
			if (deadline < 0)
				return -EINVAL;
		}
		return emu_wait(uaddr, val, deadline, cmd == FUTEX_WAIT ? 0 : val3);
	case FUTEX_WAKE:
		return emu_wake(uaddr, (int)(val > INT_MAX ? INT_MAX : val), 0);
	case FUTEX_WAKE_BITSET:
		if (val3 == 0)
			return -EINVAL;
		return emu_wake(uaddr, (int)(val > INT_MAX ? INT_MAX : val), val3);
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE: {
		if ((uintptr_t)uaddr2 & 3)
			return -EINVAL;
		int nwake = (int)(val > INT_MAX ? INT_MAX : val);
		long nmove = arg4 > INT_MAX ? INT_MAX : arg4;
		if ((int)val < 0 || nmove < 0)
			return -EINVAL;
		if (cmd == FUTEX_CMP_REQUEUE)
			return gr_park_requeue(uaddr, uaddr2, nwake, (int)nmove, gr_word_is,
			                       (void *)(uintptr_t)val3);
		return gr_park_requeue(uaddr, uaddr2, nwake, (int)nmove, NULL, NULL);
	}
	case FUTEX_WAKE_OP: {
		if ((uintptr_t)uaddr2 & 3)
			return -EINVAL;
		uint32_t old = wake_op_apply(uaddr2, val3);
		long n = emu_wake(uaddr, (int)(val > INT_MAX ? INT_MAX : val), 0);
		if (wake_op_cmp(old, val3))
			n += emu_wake(uaddr2, (int)(arg4 > INT_MAX ? INT_MAX : (int)arg4), 0);
		return n;
	}
	default:
		/* PI futexes and anything newer: the kernel's (with the hand-off). */
		return gr_kfutex((_Atomic uint32_t *)uaddr, op, val, ts, (_Atomic uint32_t *)uaddr2,
		                 val3);
	}
}

/* ---- spinlocks --------------------------------------------------------------------- */

/* A spinning G yields its P every 64 pauses after the first 64 (gr_spin_pause), so a
 * holder that was descheduled on the same P gets to run and release the lock. */
int gr_spin_lock(_Atomic int *l)
{
	int zero = 0;

	/* Acquire; pairs with the release in gr_spin_unlock. */
	if (atomic_compare_exchange_weak_explicit(l, &zero, 1, memory_order_acquire,
	                                          memory_order_relaxed))
		return 0;
	for (unsigned i = 0;; i++) {
		zero = 0;
		if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(l, &zero, 1, memory_order_acquire,
		                                          memory_order_relaxed))
			return 0;
		gr_spin_pause(i);
	}
}

int gr_spin_trylock(_Atomic int *l)
{
	int zero = 0;

	return atomic_compare_exchange_strong_explicit(l, &zero, 1, memory_order_acquire,
	                                               memory_order_relaxed) ?
	               0 :
	               EBUSY;
}

int gr_spin_unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
	return 0;
}

/* ---- glibc's own synchronization functions (real.h) -------------------------------- */

struct gr_real_sync gr_real_sync;

void gr_real_sync_init(void)
{
	if (__atomic_load_n(&gr_real_sync.syscall, __ATOMIC_ACQUIRE))
		return;
#define GR_REAL_RESOLVE(ret, name, args)                          \
	gr_real_sync.name = (ret(*) args)dlsym(RTLD_NEXT, #name); \
	if (!gr_real_sync.name)                                   \
		gr_throw("cannot resolve " #name);
	GR_REAL_SYNC_FUNCS(GR_REAL_RESOLVE)
#undef GR_REAL_RESOLVE
}
