/* The signals some live G blocks: per-signal counts (sigblocked.h). */
#include <stdatomic.h>
#include <string.h>

#include "lock.h"
#include "sigblocked.h"

/* nblocking[n-1]: live Gs whose mask blocks signal n.  Protected by lock.  blocked_any:
 * bit n-1 set while nblocking[n-1] is not zero; written under lock, read without. */
static struct gr_lock lock = GR_LOCK_INIT;
static uint32_t nblocking[64];
static _Atomic uint64_t blocked_any;

uint64_t gr_sigblocked_move(uint64_t from, uint64_t to)
{
	uint64_t grew = 0, shrank = 0;

	if (from == to)
		return 0;
	gr_lock(&lock);
	for (uint64_t q = from & ~to; q; q &= q - 1) {
		int i = __builtin_ctzll(q);
		if (--nblocking[i] == 0)
			shrank |= 1ull << i;
	}
	for (uint64_t q = to & ~from; q; q &= q - 1) {
		int i = __builtin_ctzll(q);
		if (nblocking[i]++ == 0)
			grew |= 1ull << i;
	}
	uint64_t b = atomic_load_explicit(&blocked_any, memory_order_relaxed);
	atomic_store_explicit(&blocked_any, (b | grew) & ~shrank, memory_order_seq_cst);
	gr_unlock(&lock);
	return grew;
}

uint64_t gr_sigblocked_any(void)
{
	return atomic_load_explicit(&blocked_any, memory_order_seq_cst);
}

void gr_sigblocked_reset(void)
{
	lock = (struct gr_lock)GR_LOCK_INIT;
	memset(nblocking, 0, sizeof(nblocking));
	atomic_store_explicit(&blocked_any, 0, memory_order_relaxed);
}
