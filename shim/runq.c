/*
 * Run queues, as in Go's proc.go.
 *
 * Each P has a ring of GR_RUNQ_SIZE G pointers.  Only the owning M writes the tail (with
 * release, so a thief that reads the tail with acquire sees the slots); the owner and
 * thieves consume from the head with a CAS, so a G is taken exactly once.  The runnext
 * slot holds the G most recently readied by the running G: it runs next and inherits the
 * time slice, which keeps a producer/consumer pair on one M (the ping-pong case) instead
 * of bouncing between OS threads.
 *
 * The global queue is a plain linked list under gr_sched.lock; it receives the overflow of
 * full local queues and Gs readied by threads without a P.
 *
 * Rejected: a locked deque per P (every steal and every put would contend the owner),
 * and a single global queue (Go 1.0; it serialised every scheduling decision).
 */
#include "runq.h"

bool gr_runq_empty(struct gr_p *pp)
{
	/* Go: runqempty.  Re-read until head, tail and runnext form a consistent view, as
	 * runqput moving runnext to the tail can race with this read. */
	for (;;) {
		uint32_t head = atomic_load_explicit(&pp->xrunqhead, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&pp->xrunqtail, memory_order_acquire);
		struct gr_g *next = atomic_load_explicit(&pp->xrunnext, memory_order_acquire);
		if (tail == atomic_load_explicit(&pp->xrunqtail, memory_order_acquire))
			return head == tail && next == NULL;
	}
}

uint32_t gr_runq_len(struct gr_p *pp)
{
	uint32_t head = atomic_load_explicit(&pp->xrunqhead, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&pp->xrunqtail, memory_order_acquire);

	return tail - head;
}

/* Go: runqputslow.  Moves gp and half of the local queue to the global queue.  Returns
 * false if a thief emptied part of the queue meanwhile (the caller retries the fast path). */
static bool runq_put_slow(struct gr_p *pp, struct gr_g *gp, uint32_t head, uint32_t tail)
{
	struct gr_g *batch[GR_RUNQ_SIZE / 2 + 1];
	uint32_t n = (tail - head) / 2;

	GR_ASSERT(n == GR_RUNQ_SIZE / 2);
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&pp->xrunq[(head + i) % GR_RUNQ_SIZE],
						memory_order_relaxed);
	/* Release; pairs with the acquire of thieves reading head. */
	if (!atomic_compare_exchange_strong_explicit(&pp->xrunqhead, &head, head + n,
						     memory_order_release, memory_order_relaxed))
		return false;
	batch[n] = gp;
	gr_lock(&gr_sched.lock);
	for (uint32_t i = 0; i <= n; i++)
		gr_globrunq_put_locked(batch[i]);
	gr_unlock(&gr_sched.lock);
	return true;
}

void gr_runq_put(struct gr_p *pp, struct gr_g *gp, bool next)
{
	if (next) {
		gp = atomic_exchange_explicit(&pp->xrunnext, gp, memory_order_acq_rel);
		if (!gp)
			return;
	}
	for (;;) {
		uint32_t head = atomic_load_explicit(&pp->xrunqhead, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&pp->xrunqtail, memory_order_relaxed);
		if (tail - head < GR_RUNQ_SIZE) {
			atomic_store_explicit(&pp->xrunq[tail % GR_RUNQ_SIZE], gp,
					      memory_order_relaxed);
			/* Release: makes the slot visible to thieves (acquire of tail). */
			atomic_store_explicit(&pp->xrunqtail, tail + 1, memory_order_release);
			return;
		}
		if (runq_put_slow(pp, gp, head, tail))
			return;
	}
}

struct gr_g *gr_runq_take_runnext(struct gr_p *pp)
{
	struct gr_g *next = atomic_load_explicit(&pp->xrunnext, memory_order_relaxed);

	/* Only the owner sets runnext to non-NULL values; thieves may take it too. */
	if (next && atomic_compare_exchange_strong_explicit(&pp->xrunnext, &next, NULL,
							    memory_order_acq_rel,
							    memory_order_relaxed))
		return next;
	return NULL;
}

struct gr_g *gr_runq_get(struct gr_p *pp, bool *inherit)
{
	struct gr_g *next = gr_runq_take_runnext(pp);

	*inherit = next != NULL;
	if (next)
		return next;
	for (;;) {
		uint32_t head = atomic_load_explicit(&pp->xrunqhead, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&pp->xrunqtail, memory_order_relaxed);
		if (tail == head)
			return NULL;
		struct gr_g *gp = atomic_load_explicit(&pp->xrunq[head % GR_RUNQ_SIZE],
						       memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&pp->xrunqhead, &head, head + 1,
							  memory_order_release,
							  memory_order_relaxed))
			return gp;
	}
}

/* Go: runqgrab.  Copies half of victim's queue into batch; returns how many. */
static uint32_t runq_grab(struct gr_p *victim, struct gr_g **batch, bool steal_next)
{
	for (;;) {
		uint32_t head = atomic_load_explicit(&victim->xrunqhead, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&victim->xrunqtail, memory_order_acquire);
		uint32_t n = tail - head;
		n -= n / 2;
		if (n == 0) {
			if (!steal_next)
				return 0;
			struct gr_g *next =
				atomic_load_explicit(&victim->xrunnext, memory_order_acquire);
			if (!next)
				return 0;
			if (!atomic_compare_exchange_strong_explicit(&victim->xrunnext, &next,
								     NULL, memory_order_acq_rel,
								     memory_order_relaxed))
				continue;
			batch[0] = next;
			return 1;
		}
		if (n > GR_RUNQ_SIZE / 2) /* read an inconsistent head/tail pair: retry */
			continue;
		for (uint32_t i = 0; i < n; i++)
			batch[i] = atomic_load_explicit(&victim->xrunq[(head + i) % GR_RUNQ_SIZE],
							memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&victim->xrunqhead, &head, head + n,
							    memory_order_acq_rel,
							    memory_order_relaxed))
			return n;
	}
}

struct gr_g *gr_runq_steal(struct gr_p *pp, struct gr_p *victim, bool steal_next)
{
	struct gr_g *batch[GR_RUNQ_SIZE / 2];
	uint32_t n = runq_grab(victim, batch, steal_next);

	if (n == 0)
		return NULL;
	uint32_t tail = atomic_load_explicit(&pp->xrunqtail, memory_order_relaxed);
	GR_DASSERT(tail == atomic_load_explicit(&pp->xrunqhead, memory_order_relaxed));
	for (uint32_t i = 1; i < n; i++)
		atomic_store_explicit(&pp->xrunq[(tail + i - 1) % GR_RUNQ_SIZE], batch[i],
				      memory_order_relaxed);
	/* Release; pairs with thieves' acquire of tail. */
	atomic_store_explicit(&pp->xrunqtail, tail + n - 1, memory_order_release);
	return batch[0];
}

void gr_globrunq_put_locked(struct gr_g *gp)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	gp->schedlink = NULL;
	if (gr_sched.runq_tail)
		gr_sched.runq_tail->schedlink = gp;
	else
		gr_sched.runq_head = gp;
	gr_sched.runq_tail = gp;
	atomic_store_explicit(&gr_sched.xrunqsize,
			      atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

void gr_globrunq_put(struct gr_g *gp)
{
	gr_lock(&gr_sched.lock);
	gr_globrunq_put_locked(gp);
	gr_unlock(&gr_sched.lock);
}

struct gr_g *gr_globrunq_get_locked(struct gr_p *pp, int max)
{
	GR_ASSERT_HELD(&gr_sched.lock);
	int size = atomic_load_explicit(&gr_sched.xrunqsize, memory_order_relaxed);
	if (size == 0)
		return NULL;
	int n = size / gr_sched.nprocs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > GR_RUNQ_SIZE / 2)
		n = GR_RUNQ_SIZE / 2;
	atomic_store_explicit(&gr_sched.xrunqsize, size - n, memory_order_relaxed);
	struct gr_g *gp = gr_sched.runq_head;
	gr_sched.runq_head = gp->schedlink;
	for (int i = 1; i < n; i++) {
		struct gr_g *g1 = gr_sched.runq_head;
		gr_sched.runq_head = g1->schedlink;
		gr_runq_put(pp, g1, false);
	}
	if (!gr_sched.runq_head)
		gr_sched.runq_tail = NULL;
	return gp;
}
