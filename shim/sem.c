/*
 * Unnamed and named semaphores with glibc's exact protocol (nptl/sem_waitcommon.c):
 * the 64-bit data word holds the value in its low half and the number of waiters in its
 * high half; sem_post adds one to the value and wakes one waiter when the high half is
 * nonzero; a waiter registers in the high half, then either takes a token and
 * unregisters in one CAS, or sleeps while the value is zero.  The value half is the
 * futex word.  Keeping the protocol means a process-shared semaphore (private ==
 * FUTEX_PRIVATE_FLAG, glibc's FUTEX_SHARED, as sem_open creates them) can be shared with a native glibc process; such waits use the
 * kernel futex in the system-call hand-off, private ones park the G.
 *
 * sem_open, sem_close and sem_unlink stay glibc's: they only map a file of /dev/shm and
 * initialise a process-shared semaphore in it, which the functions here then operate on.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <semaphore.h>

#include "runtime.h"
#include "sync.h"

#define NWAITERS_SHIFT 32
#define VALUE_MASK     0xffffffffull
#define ONE_WAITER     (1ull << NWAITERS_SHIFT)

static _Atomic uint32_t *value_word(struct gr_sem *s)
{
	return (_Atomic uint32_t *)&s->xdata; /* x86-64: the low half */
}

/* glibc's encoding (lowlevellock-futex.h): FUTEX_PRIVATE is 0 and FUTEX_SHARED is
 * FUTEX_PRIVATE_FLAG, because glibc XORs the value into the op.  So a zeroed sem_t is
 * private, and sem_open's are shared. */
#define GLIBC_FUTEX_SHARED FUTEX_PRIVATE_FLAG

static bool is_shared(const struct gr_sem *s)
{
	return s->private == GLIBC_FUTEX_SHARED;
}

int gr_sem_init(struct gr_sem *s, int pshared, unsigned value)
{
	if (value > SEM_VALUE_MAX)
		return EINVAL;
	atomic_store_explicit(&s->xdata, value, memory_order_relaxed);
	s->private = pshared ? GLIBC_FUTEX_SHARED : 0;
	s->pad = 0;
	return 0;
}

int gr_sem_trywait(struct gr_sem *s)
{
	uint64_t d = atomic_load_explicit(&s->xdata, memory_order_relaxed);

	do {
		if ((d & VALUE_MASK) == 0)
			return EAGAIN;
		/* Acquire; pairs with the release in gr_sem_post. */
	} while (!atomic_compare_exchange_weak_explicit(&s->xdata, &d, d - 1, memory_order_acquire,
	                                                memory_order_relaxed));
	return 0;
}

int gr_sem_wait(struct gr_sem *s, int64_t deadline)
{
	if (gr_sem_trywait(s) == 0)
		return 0;
	uint64_t d = atomic_fetch_add_explicit(&s->xdata, ONE_WAITER, memory_order_relaxed);
	for (;;) {
		if ((d & VALUE_MASK) == 0) {
			int r = gr_word_wait_intr(value_word(s), 0, deadline, is_shared(s));
			if (r == -ETIMEDOUT || r == -EINTR) {
				atomic_fetch_sub_explicit(&s->xdata, ONE_WAITER,
				                          memory_order_relaxed);
				return -r;
			}
			d = atomic_load_explicit(&s->xdata, memory_order_relaxed);
		} else if (atomic_compare_exchange_weak_explicit(&s->xdata, &d, d - 1 - ONE_WAITER,
		                                                 memory_order_acquire,
		                                                 memory_order_relaxed)) {
			return 0;
		}
	}
}

int gr_sem_post(struct gr_sem *s)
{
	uint64_t d = atomic_load_explicit(&s->xdata, memory_order_relaxed);

	do {
		if ((d & VALUE_MASK) == SEM_VALUE_MAX)
			return EOVERFLOW;
	} while (!atomic_compare_exchange_weak_explicit(&s->xdata, &d, d + 1, memory_order_seq_cst,
	                                                memory_order_relaxed));
	if ((d >> NWAITERS_SHIFT) > 0)
		gr_word_wake(value_word(s), 1, is_shared(s));
	return 0;
}

int gr_sem_getvalue(struct gr_sem *s, int *value)
{
	*value = (int)(atomic_load_explicit(&s->xdata, memory_order_relaxed) & VALUE_MASK);
	return 0;
}
