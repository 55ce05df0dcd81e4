/*
 * Runtime-internal lock: test-and-test-and-set with a bounded spin, then a private futex
 * (Drepper's "Futexes are tricky", mutex 2).  Rejected: a pure spinlock, because the
 * holder's OS thread can be descheduled by the kernel and the spinners would burn whole
 * time slices; a pthread_mutex, because green interposes it.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "runtime.h"

const void *gr_lock_self(void)
{
	struct gr_g *gp = gr_getg();

	if (!gp || gp->foreign)
		return gp;
	return gp->m;
}

/* Counts the running G's runtime locks (gr_g.nlocks): raised before a lock is taken and
 * lowered after it is released, so a signal handler never sees a lock held uncounted. */
static void count_held(int d)
{
	struct gr_g *gp = gr_getg();

	if (gp)
		gp->nlocks += d;
}

bool gr_trylock(struct gr_lock *l)
{
	uint32_t zero = 0;

	count_held(1);
	if (!atomic_compare_exchange_strong_explicit(&l->xstate, &zero, 1, memory_order_acquire,
						     memory_order_relaxed)) {
		count_held(-1);
		return false;
	}
#if GR_DEBUG >= 1
	l->owner = gr_lock_self();
#endif
	return true;
}

/*
 * An M that sleeps on a runtime lock while it runs a G keeps its P pinned (revocation,
 * sysmon.c): the holder is another M a few instructions from the unlock, not the program
 * blocking where no hook saw it.  Revoking would hand the P to another OS thread, which
 * may sleep on the same lock: 10,000 Gs on one condition variable started 1,700 of them.
 * Returns true when this call pinned (an outer entry may hold the pin already).
 */
static bool pin_for_sleep(void)
{
	struct gr_g *gp = gr_getg();
	uint32_t user = GR_PIN_USER;

	return gr_g_schedulable(gp) &&
	       atomic_compare_exchange_strong_explicit(&gp->m->xpin, &user, GR_PIN_PINNED,
						       memory_order_acquire, memory_order_relaxed);
}

void gr_lock(struct gr_lock *l)
{
	if (gr_trylock(l))
		return;
	for (int i = 0; i < 200; i++) {
		gr_arch_pause();
		if (atomic_load_explicit(&l->xstate, memory_order_relaxed) == 0 && gr_trylock(l))
			return;
	}
	count_held(1);
	bool pinned = pin_for_sleep();
	/* Acquire; pairs with the release in gr_unlock. */
	while (atomic_exchange_explicit(&l->xstate, 2, memory_order_acquire) != 0)
		gr_syscall6(SYS_futex, (long)&l->xstate, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0);
	if (pinned)
		atomic_store_explicit(&gr_getg()->m->xpin, GR_PIN_USER, memory_order_release);
#if GR_DEBUG >= 1
	l->owner = gr_lock_self();
#endif
}

void gr_unlock(struct gr_lock *l)
{
	GR_ASSERT_HELD(l);
#if GR_DEBUG >= 1
	l->owner = 0;
#endif
	/* Release; pairs with the acquire in gr_lock/gr_trylock. */
	if (atomic_exchange_explicit(&l->xstate, 0, memory_order_release) == 2)
		gr_syscall6(SYS_futex, (long)&l->xstate, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
	count_held(-1);
}

void gr_throw(const char *msg)
{
	static const char pre[] = "green: fatal: ";
	const char *p = msg;

	while (*p)
		p++;
	gr_syscall(SYS_write, 2, pre, sizeof(pre) - 1);
	gr_syscall(SYS_write, 2, msg, p - msg);
	gr_syscall(SYS_write, 2, "\n", 1);
	__builtin_trap();
}

int gr_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (deadline > 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
	long r = gr_syscall6(SYS_futex, (long)addr, FUTEX_WAIT_BITSET_PRIVATE, val, (long)tsp, 0,
			     FUTEX_BITSET_MATCH_ANY);
	return r == 0 ? 0 : (int)r;
}

void gr_futex_wake(_Atomic uint32_t *addr, int n)
{
	gr_syscall6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}
