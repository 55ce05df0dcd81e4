/*
 * Wait queues keyed by address.  A fixed table of buckets, each a lock and a FIFO list of
 * waiters whose addresses hash there (Go's semtable, the kernel's futex_queues).  Waking
 * is FIFO per address, which makes condition variables and mutex hand-off fair.
 *
 * A G parks with its bucket lock held until its M's g0 has switched away from it (the
 * unlock runs in gr_park's unlockf), so no waker can ready a G that is still on its
 * stack.  A timed wait arms its timer in that same unlockf, before the bucket is
 * unlocked, so the G can always find its timer to delete it after waking.  The timer
 * callback does not take the bucket lock (it runs under the P's timerlock, which comes
 * first in the lock order): it claims the waiter by CAS on xstate and readies the G; the
 * G, once running, unlinks itself.  Wakers skip and unlink waiters already timed out.
 *
 * Foreign threads (no P) enqueue the same way and futex-wait on their waiter's xstate,
 * with the deadline given to the kernel.  A woken one passes through its bucket's lock
 * before it returns, so it too runs only after its waker has left the queue's lock.
 *
 * Every wait of a G runs the handlers of signals sent to it meanwhile, as a futex wait
 * does natively: gr_park_wait goes on waiting after them, and interruptible waits
 * (gr_park_wait_intr: the POSIX cancellation points and the calls a signal interrupts
 * with EINTR, which a cancellation request interrupts too) return -EINTR.  Each arms
 * its waiter (gr_sig_intr_arm, gr_sig_intr_arm_signals) from the unlockf,
 * once the G is WAITING; a signal or cancellation sender (signal.c) takes it from there
 * and claims the waiter by CAS, like the timer, with
 * GR_WAKE_INTERRUPTED.  Arming first checks whether an interrupt is already due (the
 * sender came before the waiter was armed), so none is lost.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "park.h"
#include "proc.h"
#include "sig.h"

#define NBUCKETS 4096

/* 24 bytes in a release build, aligned to 32 so that none straddles a cache line.  Two
 * share a line: with a line each the table took 256 KiB, all of it touched once Gs wait
 * on a few thousand addresses (a server's connections), and two busy addresses rarely
 * hash to neighbours among 4096 buckets. */
struct bucket {
	struct gr_lock lock;
	/* Atomic: waiters queued or about to check their word; counted before the check
	 * (seq_cst), read by wakers after their change (seq_cst fence), so a waker that sees
	 * zero knows every future waiter will see its change.  Lets a wake with nobody
	 * waiting (an uncontended unlock, a signal with no waiter) skip the lock. */
	_Atomic int xwaiters;
	struct gr_waiter *head, *tail; /* protected by lock */
} __attribute__((aligned(32)));
_Static_assert(GR_DEBUG >= 1 || sizeof(struct bucket) == 32, "two buckets a cache line");

static struct bucket table[NBUCKETS];

unsigned short gr_park_gen;

static struct bucket *bucket_of(const void *addr)
{
	uint64_t h = ((uintptr_t)addr >> 2) * 0x9e3779b97f4a7c15ull;

	return &table[h >> (64 - 12)];
}

static void enqueue_front_locked(struct bucket *b, struct gr_waiter *w)
{
	GR_ASSERT_HELD(&b->lock);
	w->prev = NULL;
	w->next = b->head;
	if (b->head)
		b->head->prev = w;
	else
		b->tail = w;
	b->head = w;
	w->linked = true;
}

static void enqueue_locked(struct bucket *b, struct gr_waiter *w)
{
	GR_ASSERT_HELD(&b->lock);
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	w->linked = true; /* the caller has counted w in b->xwaiters */
}

static void unlink_locked(struct bucket *b, struct gr_waiter *w)
{
	GR_ASSERT_HELD(&b->lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->linked = false;
	/* Every change to xwaiters is made under the lock, and a waker reading a stale,
	 * larger count only takes the lock for nothing: no locked instruction needed. */
	atomic_store_explicit(&b->xwaiters,
			      atomic_load_explicit(&b->xwaiters, memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

static void park_timeout(struct gr_timer *t)
{
	struct gr_waiter *w = t->arg;
	uint32_t zero = 0;

	if (atomic_compare_exchange_strong_explicit(&w->xstate, &zero, GR_WAKE_TIMEDOUT,
						    memory_order_acq_rel, memory_order_relaxed))
		gr_ready(w->gp);
}

/* A signal or cancellation sender interrupts a wait (gr_sig_intr_arm*). */
static bool park_interrupt(struct gr_g *gp, void *arg)
{
	struct gr_waiter *w = arg;
	uint32_t zero = 0;

	if (!atomic_compare_exchange_strong_explicit(&w->xstate, &zero, GR_WAKE_INTERRUPTED,
						    memory_order_acq_rel, memory_order_relaxed))
		return false;
	gr_ready_tail(gp);
	return true;
}

/* What interrupts a G's wait, a park_wait flag beside GR_PARK_LIFO.  Without PARK_INTR,
 * a signal, whose handlers run before the G waits again (a futex wait natively: a thread
 * blocked in pthread_mutex_lock runs the handler of a signal sent to it, which garbage
 * collectors that stop threads with signals wait for).  With it, a signal or a
 * cancellation request, which end the wait (w->intr). */
#define PARK_INTR 0x100u

/* Runs on g0 (or the next G) once the G is off its stack: arm the timer, then open the
 * queue.  The queue is still locked, so no requeue has moved w to another bucket. */
static void park_unlock(void *arg)
{
	struct gr_waiter *w = arg;

	if (w->deadline) {
		w->timer.when = w->deadline;
		w->timer.fn = park_timeout;
		w->timer.arg = w;
		gr_timer_add(w->gp->m->p, &w->timer);
	}
	if (w->intr)
		gr_sig_intr_arm(w->gp, park_interrupt, w);
	else
		gr_sig_intr_arm_signals(w->gp, park_interrupt, w);
	gr_unlock(&bucket_of(w->addr)->lock);
}

/* settle for a waiter that timed out or was interrupted: a waker did not unlink it. */
static int settle_unclaimed(struct gr_waiter *w, uint32_t st)
{
	for (;;) {
		struct bucket *b = bucket_of(__atomic_load_n(&w->addr, __ATOMIC_ACQUIRE));
		gr_lock(&b->lock);
		if (b != bucket_of(w->addr)) {
			gr_unlock(&b->lock);
			continue;
		}
		if (w->linked)
			unlink_locked(b, w);
		gr_unlock(&b->lock);
		return st == GR_WAKE_INTERRUPTED ? -EINTR : -ETIMEDOUT;
	}
}

/* After waking: settle a timeout or interrupt race and leave the queue (a requeue may
 * have moved the waiter to another address's bucket, never after it timed out).  Returns
 * 0, 1 (handed off), -ETIMEDOUT or -EINTR. */
static inline int settle(struct gr_waiter *w)
{
	uint32_t st = atomic_load_explicit(&w->xstate, memory_order_acquire);

	if (st == GR_WAKE_WOKEN)
		return 0;
	if (st == GR_WAKE_HANDOFF)
		return 1;
	return settle_unclaimed(w, st);
}

static int wait_foreign(struct bucket *b, struct gr_waiter *w)
{
	gr_unlock(&b->lock);
	for (;;) {
		uint32_t st = atomic_load_explicit(&w->xstate, memory_order_acquire);
		if (st == GR_WAKE_WOKEN || st == GR_WAKE_HANDOFF) {
			/* The waker claimed us under the bucket lock and may still hold it
			 * (gr_park_wake_decide's decide): wait until it is done, so that, as
			 * a G, we look at our word only after the waker's change. */
			struct bucket *wb = bucket_of(w->addr);
			gr_lock(&wb->lock);
			gr_unlock(&wb->lock);
		}
		if (st)
			return settle(w);
		if (gr_futex_wait(&w->xstate, 0, w->deadline) == -ETIMEDOUT) {
			uint32_t zero = 0;
			atomic_compare_exchange_strong_explicit(&w->xstate, &zero, GR_WAKE_TIMEDOUT,
								memory_order_acq_rel,
								memory_order_relaxed);
		}
	}
}

/* Six arguments, all in registers, so that the exported waits reach it by a tail call:
 * every frame on the way to the switch is another cache line to bring back when the G
 * resumes. */
static int park_wait(const void *addr, bool (*may_sleep)(const void *addr, void *arg), void *arg,
		     int64_t deadline, uint32_t bits, unsigned flags)
{
	struct gr_g *gp = gr_curg();
	struct bucket *b = bucket_of(addr);
	struct gr_waiter w = {.addr = addr,
			      .gp = gp,
			      .bits = bits,
			      .deadline = deadline,
			      .intr = (flags & PARK_INTR) != 0};

	if (deadline && deadline <= gr_nanotime())
		return -ETIMEDOUT;
	/* Pinned before the bucket lock: a P that sysmon revoked while the G ran (it slept in
	 * the kernel where no hook saw it) is dealt with here, where queueing the G holds no
	 * lock.  Found by gr_park instead, it queued the G with the lock held, and the Ms
	 * holding every P slept on that lock with their P pinned (sync_rust hung in 2 runs of
	 * 1000 at GREEN_MAXPROCS=2).  gr_park keeps the pin; the G resumes unpinned. */
	bool pinned;
	gr_proc_pin(&pinned);
	gr_lock(&b->lock);
	atomic_fetch_add_explicit(&b->xwaiters, 1, memory_order_seq_cst);
	if (may_sleep && !may_sleep(addr, arg)) {
		atomic_fetch_sub_explicit(&b->xwaiters, 1, memory_order_relaxed);
		gr_unlock(&b->lock);
		gr_proc_unpin(pinned);
		return -EAGAIN;
	}
	if (flags & GR_PARK_LIFO)
		enqueue_front_locked(b, &w);
	else
		enqueue_locked(b, &w);
	if (!gr_g_schedulable(gp))
		return wait_foreign(b, &w);
	gr_park(park_unlock, &w);
	if (deadline)
		gr_timer_del(&w.timer);
	if (w.intr)
		gr_sig_intr_disarm(gp);
	else
		gr_sig_intr_disarm_signals(gp);
	int r = settle(&w);
	gr_sig_deliver_pending(gp);
	return r;
}

/* A wait that signals interrupt only to run their handlers: it goes on until woken or
 * timed out (or -EAGAIN: the word changed while the handlers ran). */
static int park_wait_signals(const void *addr, bool (*may_sleep)(const void *addr, void *arg),
			     void *arg, int64_t deadline, uint32_t bits, unsigned flags)
{
	int r;

	/* A signal already due is seen by the arm (park_unlock), which ends the wait at once. */
	while ((r = park_wait(addr, may_sleep, arg, deadline, bits, flags)) == -EINTR)
		;
	return r;
}

int gr_park_wait(const void *addr, bool (*may_sleep)(const void *addr, void *arg), void *arg,
		 int64_t deadline, uint32_t bits)
{
	return park_wait_signals(addr, may_sleep, arg, deadline, bits, 0);
}

int gr_park_wait_ex(const void *addr, bool (*may_sleep)(const void *addr, void *arg), void *arg,
		    int64_t deadline, uint32_t bits, unsigned flags)
{
	return park_wait_signals(addr, may_sleep, arg, deadline, bits, flags);
}

/* An interrupt already due when the G parks is found by the arm (park_unlock), which
 * readies the G at once: no check here on the way in, where every wait would pay it. */
int gr_park_wait_intr(const void *addr, bool (*may_sleep)(const void *addr, void *arg),
		      void *arg, int64_t deadline, uint32_t bits)
{
	return park_wait(addr, may_sleep, arg, deadline, bits, PARK_INTR);
}

/* Under the bucket lock: claims w for the waker (how: GR_WAKE_*).  A G stays parked until
 * gr_ready, so its waiter can be queued on the caller's woken list and readied after the
 * lock is dropped.  A foreign thread may see its xstate change and return at once, so
 * its waiter must not be touched after the CAS: it is woken here, by an address computed
 * before (a futex wake of a stale address is harmless).  Returns true when w is on the
 * list.  False also when w had timed out (it settles by itself). */
static bool claim_locked(struct gr_waiter *w, uint32_t how, bool *claimed)
{
	struct gr_g *gp = w->gp;
	_Atomic uint32_t *state = &w->xstate;
	uint32_t zero = 0;

	*claimed = atomic_compare_exchange_strong_explicit(state, &zero, how, memory_order_acq_rel,
							   memory_order_relaxed);
	if (!*claimed)
		return false;
	if (gr_g_schedulable(gp))
		return true;
	gr_futex_wake(state, 1);
	return false;
}

static bool bits_match(const struct gr_waiter *w, uint32_t bits)
{
	return !bits || !w->bits || (w->bits & bits);
}

#define WAKE_TAIL 1u   /* the woken Gs go to the tail of the run queue (gr_ready_tail) */
#define WAKE_FENCED 2u /* the caller's change was a seq_cst read-modify-write */

static int wake(const void *addr, int n, uint32_t bits, uint32_t how, unsigned flags)
{
	struct bucket *b = bucket_of(addr);
	struct gr_waiter *woken = NULL, **last = &woken;
	int count = 0;

	/* The caller's change, then the count of waiters: pairs with the waiter's count, then
	 * its check of the word (see bucket).  A locked read-modify-write is already a full
	 * barrier on x86-64, so a caller that made one needs no second. */
	if (!(flags & WAKE_FENCED))
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&b->xwaiters, memory_order_seq_cst) == 0)
		return 0;
	gr_lock(&b->lock);
	for (struct gr_waiter *w = b->head, *next; w && count < n; w = next) {
		next = w->next;
		if (w->addr != addr || !bits_match(w, bits))
			continue;
		unlink_locked(b, w);
		bool claimed;
		if (claim_locked(w, how, &claimed)) {
			w->next = NULL;
			*last = w;
			last = &w->next;
		}
		count += claimed;
	}
	gr_unlock(&b->lock);
	for (struct gr_waiter *w = woken, *next; w; w = next) {
		next = w->next;
		if (flags & WAKE_TAIL)
			gr_ready_tail(w->gp);
		else
			gr_ready(w->gp);
	}
	return count;
}

int gr_park_wake(const void *addr, int n, uint32_t bits)
{
	return wake(addr, n, bits, GR_WAKE_WOKEN, 0);
}

int gr_park_wake_fenced(const void *addr, int n, uint32_t bits)
{
	return wake(addr, n, bits, GR_WAKE_WOKEN, WAKE_FENCED);
}

int gr_park_wake_tail(const void *addr, int n, uint32_t bits)
{
	return wake(addr, n, bits, GR_WAKE_WOKEN, WAKE_TAIL);
}

void gr_park_prefetch_bucket(const void *addr)
{
	__builtin_prefetch(bucket_of(addr));
}

void gr_park_prefetch_waiter(const void *addr)
{
	__builtin_prefetch(__atomic_load_n(&bucket_of(addr)->head, __ATOMIC_RELAXED));
}

int gr_park_handoff(const void *addr)
{
	return wake(addr, 1, 0, GR_WAKE_HANDOFF, 0);
}

int gr_park_wake_decide(const void *addr, void (*decide)(const void *addr, void *arg, bool woken),
                        void *arg)
{
	struct bucket *b = bucket_of(addr);
	struct gr_waiter *ready_w = NULL;
	bool claimed = false;

	gr_lock(&b->lock);
	for (struct gr_waiter *w = b->head, *next; w && !claimed; w = next) {
		next = w->next;
		if (w->addr != addr)
			continue;
		unlink_locked(b, w);
		if (claim_locked(w, GR_WAKE_WOKEN, &claimed))
			ready_w = w;
	}
	decide(addr, arg, claimed);
	gr_unlock(&b->lock);
	if (ready_w)
		gr_ready(ready_w->gp);
	return claimed;
}

int gr_park_requeue(const void *addr, const void *to, int nwake, int nmove,
		    bool (*may_wake)(const void *addr, void *arg), void *arg)
{
	struct bucket *b1 = bucket_of(addr), *b2 = bucket_of(to);
	struct gr_waiter *woken = NULL, **tail = &woken;
	int count = 0, moved = 0;

	/* Two bucket locks: lower address first. */
	if (b1 == b2) {
		gr_lock(&b1->lock);
	} else if (b1 < b2) {
		gr_lock(&b1->lock);
		gr_lock(&b2->lock);
	} else {
		gr_lock(&b2->lock);
		gr_lock(&b1->lock);
	}
	if (may_wake && !may_wake(addr, arg)) {
		count = -EAGAIN;
		goto out;
	}
	for (struct gr_waiter *w = b1->head, *next; w && (count < nwake || moved < nmove);
	     w = next) {
		next = w->next;
		if (w->addr != addr)
			continue;
		if (atomic_load_explicit(&w->xstate, memory_order_acquire)) {
			unlink_locked(b1, w);
			continue;
		}
		if (count < nwake) {
			unlink_locked(b1, w);
			bool claimed;
			if (claim_locked(w, GR_WAKE_WOKEN, &claimed)) {
				w->next = NULL;
				*tail = w;
				tail = &w->next;
			}
			count += claimed;
		} else {
			unlink_locked(b1, w);
			__atomic_store_n(&w->addr, to, __ATOMIC_RELEASE);
			atomic_fetch_add_explicit(&b2->xwaiters, 1, memory_order_relaxed);
			enqueue_locked(b2, w);
			moved++;
		}
	}
out:
	if (b1 != b2)
		gr_unlock(&b2->lock);
	gr_unlock(&b1->lock);
	for (struct gr_waiter *w = woken, *next; w; w = next) {
		next = w->next;
		gr_ready(w->gp);
	}
	return count < 0 ? count : count + moved;
}

int gr_park_sleep(int64_t deadline)
{
	struct gr_g *gp = gr_curg();

	if (!gr_g_schedulable(gp)) {
		_Atomic uint32_t never = 0;
		while (gr_futex_wait(&never, 0, deadline) != -ETIMEDOUT)
			;
		return 0;
	}
	if (deadline <= gr_nanotime())
		return 0;
	/* An interruptible wait on an address nobody wakes: only the timer or a signal or
	 * cancellation (-EINTR) ends it. */
	int r = gr_park_wait_intr(&gp->xintr_arg, NULL, NULL, deadline, 0);
	return r == -EINTR ? -EINTR : 0;
}

void gr_park_fork_child(void)
{
	/* Every waiter was another G (the forking G runs): they are gone with their Ms. */
	memset(table, 0, sizeof(table));
	gr_park_gen++;
}
