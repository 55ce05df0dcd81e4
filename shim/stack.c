/*
 * G memory.  Each G gets one mapping, laid out top-down as glibc lays out a thread:
 *
 *     top  [ dtv ][ struct pthread (TCB) ][ static TLS ][ struct gr_g ][ stack ... ][ guard ]
 *
 * so a new G touches only its top pages.  The dtv's room (tls.h) is the one addition to
 * glibc's layout: glibc mallocs each thread's dtv, 300 bytes apiece, 3 MB for a server's
 * 10,000 connections; here it shares the TCB's page.  The mapping is MAP_NORESERVE: an
 * 8 MiB default stack costs the pages the G touches, not 8 MiB, which is what lets a
 * million Gs fit.
 *
 * Guard pages split mappings, and the kernel allows vm.max_map_count (65530) mappings per
 * process, so a guarded stack costs two.  green guards the first GUARDED_MAX stacks and
 * gives later ones none, with one warning on stderr (glibc would fail with EAGAIN there;
 * failing the program was judged worse than an unguarded stack).  Unguarded mappings with
 * equal flags merge in the kernel, so they cost almost nothing.
 *
 * Exited Gs are cached with their memory and TLS block kept: first in the P's own list
 * (no lock), then in a global list.  Reuse matters: a thread-per-task program (skynet)
 * churns through a million Gs in waves, page faults cost microseconds here, and the
 * kernel's mmap_lock serialises every mapping change.  Memory goes back as Go's scavenger
 * returns it: when the global list has not been drawn from for SCAVENGE_QUIET_NS, sysmon
 * empties cached Gs beyond GLOBAL_KEEP a batch per tick (gr_stack_scavenge): their TLS is
 * released, their mapping emptied with MADV_DONTNEED, and the address range stays on a
 * cold list for the next new G (saving an mmap, a guard mprotect, and a munmap whose TLB
 * shootdown stalls every M).  Only past COLD_MAX is a mapping unmapped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "glibc.h"
#include "real.h"
#include "stack.h"
#include "timer.h"
#include "tls.h"

#define PCACHE_MAX 128	     /* exited Gs a P keeps for reuse, memory and all */
#define GLOBAL_KEEP 1024     /* exited Gs the global cache keeps warm for good */
#define GLOBAL_MAX (1 << 20) /* exited Gs the global cache may hold */
#define COLD_MAX (1 << 20)   /* emptied mappings kept as address space only */
#define SCAVENGE_QUIET_NS 100000000 /* no reuse for this long: start emptying */
#define SCAVENGE_BATCH 256
#define GUARDED_MAX 16384
#define MAP_BATCH 16		   /* unguarded stacks mapped per mmap call */
#define MAP_BATCH_MAX (64 << 20) /* ...when each is at most this large */

/* Protected by cache_lock.  The counts and the time are also read without the lock, as
 * hints, so they are atomic (relaxed): a plain read outside the lock is a data race, and
 * GCC may then reuse it after the lock is taken (its LTO build did, losing count). */
static struct gr_lock cache_lock = GR_LOCK_INIT;
static struct gr_g *global_free;
static _Atomic int xnglobal_free;
static _Atomic int64_t xlast_global_take; /* monotonic ns */

/* Protected by cache_lock: emptied mappings (address space only). */
struct cold_map {
	char *base;
	size_t size, guard;
};
static struct cold_map *cold;
static _Atomic int xncold;
static int cold_cap;

/* A count read as a hint, or changed under its lock (which orders the changes). */
static int count(_Atomic int *x)
{
	return atomic_load_explicit(x, memory_order_relaxed);
}

static void count_add_locked(_Atomic int *x, int d)
{
	atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

static _Atomic int nguarded;
static _Atomic bool warned_guard;
#define TID_BASE 0x400001 /* above the largest pid_max (2^22) */
#define GR_TID_LIMIT 0x10000000 /* a thread CPU clock id (negative) holds 28 bits of tid */

/*
 * Fake tids.  Each G life gets a new one, as each native thread gets a new kernel tid: a
 * program may collect the ids of threads that have already ended and expect them distinct
 * (CPython's threading.get_native_id).  They count up from a start derived from the pid,
 * so Gs of different processes do not share one in process-shared mutexes and rwlocks,
 * whose owner is a tid (a posix_spawn'd child under green would otherwise number its main
 * G exactly as its parent did); past GR_TID_LIMIT they wrap to TID_BASE and skip the ids
 * still live, as the kernel's pid allocator does.  The main G, and the forking G in a
 * child, have the kernel's tid (the pid) instead, recorded in the same table
 * (gr_stack_adopt_tid).
 *
 * Protected by tid_lock: the live tids and their Gs, an open-addressing hash table
 * (linear probing, deletion by backward shift, so no tombstones), for the thread CPU
 * clocks and for the skip.  A table indexed by tid would grow with every G ever made.
 */
struct tid_slot {
	pid_t tid; /* 0: empty */
	struct gr_g *gp;
};
static struct gr_lock tid_lock = GR_LOCK_INIT;
static struct tid_slot *tids;
static size_t tid_cap, ntids; /* tid_cap is 0 or a power of two */
static pid_t next_tid;	      /* 0 until the first allocation */

static pid_t tid_start(void)
{
	uint32_t span = GR_TID_LIMIT - TID_BASE - (1u << 20);

	return (pid_t)(TID_BASE + (uint32_t)((uint64_t)getpid() * 2654435761u % span));
}

/* Requires tid_lock.  The slot holding tid, or the empty slot where it would go. */
static struct tid_slot *tid_find_locked(pid_t tid)
{
	size_t mask = tid_cap - 1, i = (size_t)tid & mask;

	while (tids[i].tid && tids[i].tid != tid)
		i = (i + 1) & mask;
	return &tids[i];
}

/* Requires tid_lock.  Makes room for one more entry.  Returns false when the table is
 * full and cannot grow. */
static bool tid_reserve_locked(void)
{
	if ((ntids + 1) * 2 <= tid_cap)
		return true;
	size_t cap = tid_cap ? tid_cap * 2 : 4096;
	struct tid_slot *old = tids, *t = calloc(cap, sizeof(*t));
	if (!t)
		return ntids + 1 < tid_cap; /* denser than planned, never full */
	size_t old_cap = tid_cap;
	tids = t;
	tid_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].tid)
			*tid_find_locked(old[i].tid) = old[i];
	free(old);
	return true;
}

/* Requires tid_lock.  Forgets tid (if recorded). */
static void tid_remove_locked(pid_t tid)
{
	if (!tid_cap)
		return;
	struct tid_slot *s = tid_find_locked(tid);
	if (!s->tid)
		return;
	size_t mask = tid_cap - 1, hole = (size_t)(s - tids);
	/* Backward shift: move each later entry of the probe run whose home does not lie
	 * cyclically in (hole, j] into the hole. */
	for (size_t j = (hole + 1) & mask; tids[j].tid; j = (j + 1) & mask) {
		size_t home = (size_t)tids[j].tid & mask;
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			tids[hole] = tids[j];
			hole = j;
		}
	}
	tids[hole] = (struct tid_slot){0, NULL};
	ntids--;
}

/* Requires tid_lock.  Records tid as gp's, in the table when room (tid_reserve_locked)
 * says there is some. */
static void tid_record_locked(struct gr_g *gp, pid_t tid, bool room)
{
	if (room) {
		*tid_find_locked(tid) = (struct tid_slot){tid, gp};
		ntids++;
	}
	gp->tid = tid;
}

/* Gives gp a new tid, recorded as gp's, and forgets its old one (0: none).  The tid
 * stays unrecorded only when memory for the table runs out. */
static void tid_renew(struct gr_g *gp, pid_t old)
{
	gr_lock(&tid_lock);
	if (old)
		tid_remove_locked(old);
	if (!next_tid)
		next_tid = tid_start();
	bool room = tid_reserve_locked();
	pid_t tid;
	do {
		tid = next_tid;
		next_tid = next_tid + 1 < GR_TID_LIMIT ? next_tid + 1 : TID_BASE;
	} while (room && tid_find_locked(tid)->tid);
	tid_record_locked(gp, tid, room);
	gr_unlock(&tid_lock);
}

void gr_stack_adopt_tid(struct gr_g *gp, pid_t tid)
{
	gr_lock(&tid_lock);
	tid_record_locked(gp, tid, tid_reserve_locked());
	gr_unlock(&tid_lock);
}

/* Forgets gp's tid: gp has ended and its memory is leaving the caches. */
static void tid_release(struct gr_g *gp)
{
	gr_lock(&tid_lock);
	tid_remove_locked(gp->tid);
	gr_unlock(&tid_lock);
}

struct gr_g *gr_stack_g_by_tid(pid_t tid)
{
	struct gr_g *gp = NULL;

	gr_lock(&tid_lock);
	if (tid_cap)
		gp = tid_find_locked(tid)->gp;
	gr_unlock(&tid_lock);
	return gp && gp->magic == GR_G_MAGIC ? gp : NULL;
}

void gr_stack_each_g(void (*fn)(struct gr_g *gp, void *arg), void *arg)
{
	gr_lock(&tid_lock);
	for (size_t i = 0; i < tid_cap; i++)
		if (tids[i].tid && tids[i].gp)
			fn(tids[i].gp, arg);
	gr_unlock(&tid_lock);
}

size_t gr_stack_page(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

static size_t top_reserve(void)
{
	return round_up(GR_TLS_DTV_HEAD + gr_glibc.tls_static_size + sizeof(struct gr_g) + 64, 64) +
	       64;
}

size_t gr_stack_min(void)
{
	static size_t min; /* PTHREAD_STACK_MIN is a sysconf call since glibc 2.34 */

	if (!min)
		min = round_up(PTHREAD_STACK_MIN + top_reserve(), gr_stack_page());
	return min;
}

size_t gr_stack_block(const struct gr_g *gp)
{
	return gp->user_stack ? gp->map_size : gp->map_size - GR_TLS_DTV_TAIL;
}

/* Places TCB, TLS and the G at the top of [lo, hi), below room for the dtv when asked,
 * and fills the G's memory fields. */
static struct gr_g *layout(char *lo, char *hi, bool dtv_room)
{
	uintptr_t align = gr_glibc.tls_static_align > 64 ? gr_glibc.tls_static_align : 64;
	char *top = dtv_room ? hi - GR_TLS_DTV_TAIL - GR_TLS_DTV_HEAD : hi;
	char *tcb = (char *)(((uintptr_t)top - GR_PT_SIZE) & ~(align - 1));
	char *tls_lo = (char *)(((uintptr_t)tcb + GR_PT_SIZE - gr_glibc.tls_static_size) & ~63ul);
	struct gr_g *gp = (struct gr_g *)(((uintptr_t)tls_lo - sizeof(struct gr_g)) & ~63ul);

	memset(gp, 0, sizeof(*gp));
	gp->tcb = tcb;
	gp->stack_lo = lo;
	gp->stack_size = (size_t)((char *)gp - lo);
	return gp;
}

static void munmap_g(const struct cold_map *m)
{
	if (m->guard)
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
	munmap(m->base, m->size);
}

/* Adds an empty address range to the cold list.  Returns false when the list is full. */
static bool cold_push(const struct cold_map *m)
{
	gr_lock(&cache_lock);
	int ncold = count(&xncold);
	if (ncold == cold_cap && ncold < COLD_MAX) {
		int cap = cold_cap ? cold_cap * 2 : 1024;
		struct cold_map *a = realloc(cold, cap * sizeof(*a));
		if (a) {
			cold = a;
			cold_cap = cap;
		}
	}
	bool ok = ncold < cold_cap;
	if (ok) {
		cold[ncold] = *m;
		count_add_locked(&xncold, 1);
	}
	gr_unlock(&cache_lock);
	return ok;
}

/* Lays out a G in the mapping [base, base + size) whose lowest guard bytes are PROT_NONE. */
static struct gr_g *place_g(char *base, size_t size, size_t guard)
{
	struct gr_g *gp = layout(base + guard, base + size, true);

	gp->map_base = base;
	gp->map_size = size;
	gp->guard_size = guard;
	tid_renew(gp, 0);
	return gp;
}

static struct gr_g *map_g(const struct gr_stack_req *req)
{
	size_t page = gr_stack_page();
	size_t guard = round_up(req->guard_size, page);
	size_t size = round_up(req->stack_size, page) + GR_TLS_DTV_TAIL;

	if (guard && atomic_fetch_add_explicit(&nguarded, 1, memory_order_relaxed) >= GUARDED_MAX) {
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
		if (!atomic_exchange_explicit(&warned_guard, true, memory_order_relaxed))
			gr_real_msg("green: more than " GR_STR(GUARDED_MAX) " thread stacks: ",
				    "new ones get no guard page (vm.max_map_count)", "\n");
		guard = 0;
	}
	/* Unguarded stacks come MAP_BATCH to a mapping call: the rest wait on the cold list
	 * (untouched, so they cost address space only). */
	size_t slot = size + guard, n = !guard && slot <= MAP_BATCH_MAX ? MAP_BATCH : 1;
	char *base = mmap(NULL, slot * n, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		goto out_unguard;
	if (guard && mprotect(base, guard, PROT_NONE) != 0)
		goto out_unmap;
	for (size_t i = 1; i < n; i++) {
		struct cold_map m = {base + i * slot, slot, 0};
		if (!cold_push(&m))
			munmap_g(&m);
	}
	return place_g(base, slot, guard);

out_unmap:
	munmap(base, slot * n);
out_unguard:
	if (guard)
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
	return NULL;
}

static void unmap_g(struct gr_g *gp)
{
	struct cold_map m = {gp->map_base, gp->map_size, gp->guard_size};

	tid_release(gp);
	gr_tls_fini(gp, true);
	munmap_g(&m);
}

/* A cached mapping serves a request with the same usable size and at least its guard, or
 * any guard once guards have run out (map_g would give none either). */
static bool fits_map(size_t map_size, size_t guard, const struct gr_stack_req *req)
{
	size_t page = gr_stack_page();
	size_t want_guard = round_up(req->guard_size, page);

	return map_size - guard - GR_TLS_DTV_TAIL == round_up(req->stack_size, page) &&
	       (guard >= want_guard ||
		atomic_load_explicit(&nguarded, memory_order_relaxed) >= GUARDED_MAX);
}

static bool fits(const struct gr_g *gp, const struct gr_stack_req *req)
{
	return fits_map(gp->map_size, gp->guard_size, req);
}

/* Takes a cached G matching req from *list (at most a few probes). */
static struct gr_g *take(struct gr_g **list, const struct gr_stack_req *req)
{
	int probes = 0;

	for (struct gr_g **pp = list; *pp && probes < 4; pp = &(*pp)->schedlink, probes++) {
		if (fits(*pp, req)) {
			struct gr_g *gp = *pp;
			*pp = gp->schedlink;
			return gp;
		}
	}
	return NULL;
}

/* Takes an emptied mapping that fits req from the cold list (the last few entries). */
static struct gr_g *take_cold(const struct gr_stack_req *req)
{
	struct gr_g *gp = NULL;

	gr_lock(&cache_lock);
	int ncold = count(&xncold);
	for (int i = ncold - 1; i >= 0 && i >= ncold - 4; i--) {
		struct cold_map *c = &cold[i];
		if (fits_map(c->size, c->guard, req)) {
			struct cold_map m = *c;
			*c = cold[ncold - 1];
			count_add_locked(&xncold, -1);
			gr_unlock(&cache_lock);
			return place_g(m.base, m.size, m.guard);
		}
	}
	gr_unlock(&cache_lock);
	return gp;
}

/* Empties gp's mapping and keeps its address range.  Returns false when the cold list is
 * full (the caller unmaps). */
static bool put_cold(struct gr_g *gp)
{
	struct cold_map m = {gp->map_base, gp->map_size, gp->guard_size};

	if (count(&xncold) >= COLD_MAX) /* cold_push decides */
		return false;
	tid_release(gp);
	gr_tls_fini(gp, true);
	madvise(m.base + m.guard, m.size - m.guard, MADV_DONTNEED);
	if (!cold_push(&m))
		munmap_g(&m);
	return true;
}

/* Resets a cached G's fields for a new thread, keeping its memory; a new life gets a new
 * tid. */
static struct gr_g *recycle(struct gr_g *old)
{
	struct gr_g *gp = old;
	void *tcb = old->tcb, *map_base = old->map_base, *stack_lo = old->stack_lo;
	size_t map_size = old->map_size, stack_size = old->stack_size;
	size_t guard_size = old->guard_size;
	pid_t tid = old->tid;

	memset(gp, 0, sizeof(*gp));
	gp->tcb = tcb;
	gp->map_base = map_base;
	gp->map_size = map_size;
	gp->stack_lo = stack_lo;
	gp->stack_size = stack_size;
	gp->guard_size = guard_size;
	tid_renew(gp, tid);
	if (gr_tls_reinit(gp) != 0) {
		unmap_g(gp);
		return NULL;
	}
	return gp;
}

static struct gr_g *user_g(const struct gr_stack_req *req)
{
	char *lo = req->user_addr, *hi = lo + req->user_size;
	struct gr_g *gp = layout(lo, hi, false);

	gp->user_stack = true;
	gp->map_size = req->user_size; /* reported by pthread_getattr_np; never unmapped */
	tid_renew(gp, 0);
	return gp;
}

struct gr_g *gr_stack_alloc_g(struct gr_p *pp, const struct gr_stack_req *req)
{
	struct gr_g *gp = NULL;

	if (req->user_addr) {
		gp = user_g(req);
	} else {
		if (pp && pp->gfree && (gp = take(&pp->gfree, req)))
			pp->ngfree--;
		if (!gp && count(&xnglobal_free)) { /* checked under the lock */
			gr_lock(&cache_lock);
			if ((gp = take(&global_free, req))) {
				count_add_locked(&xnglobal_free, -1);
				atomic_store_explicit(&xlast_global_take, gr_nanotime(),
						      memory_order_relaxed);
			}
			gr_unlock(&cache_lock);
		}
		if (gp)
			return recycle(gp);
		if (!(count(&xncold) && (gp = take_cold(req))) && !(gp = map_g(req)))
			return NULL;
	}
	if (gr_tls_init(gp, gp->tcb) != 0) {
		if (gp->map_base)
			unmap_g(gp);
		return NULL;
	}
	return gp;
}

void gr_stack_scavenge(int64_t now)
{
	struct gr_g *batch = NULL;

	if (count(&xnglobal_free) <= GLOBAL_KEEP ||
	    now - atomic_load_explicit(&xlast_global_take, memory_order_relaxed) <
		    SCAVENGE_QUIET_NS)
		return; /* checked under the lock */
	gr_lock(&cache_lock);
	for (int i = 0; i < SCAVENGE_BATCH && count(&xnglobal_free) > GLOBAL_KEEP; i++) {
		struct gr_g *gp = global_free;
		global_free = gp->schedlink;
		count_add_locked(&xnglobal_free, -1);
		gp->schedlink = batch;
		batch = gp;
	}
	gr_unlock(&cache_lock);
	while (batch) {
		struct gr_g *gp = batch;
		batch = gp->schedlink;
		if (!put_cold(gp))
			unmap_g(gp);
	}
}

void gr_stack_free_g(struct gr_p *pp, struct gr_g *gp)
{
	gp->magic = 0;
	if (gp->user_stack) {
		tid_release(gp);
		gr_tls_fini(gp, true);
		return;
	}
	if (pp && pp->ngfree < PCACHE_MAX) {
		gp->schedlink = pp->gfree;
		pp->gfree = gp;
		pp->ngfree++;
		return;
	}
	if (count(&xnglobal_free) < GLOBAL_MAX) { /* checked under the lock */
		gr_lock(&cache_lock);
		if (count(&xnglobal_free) < GLOBAL_MAX) {
			gp->schedlink = global_free;
			global_free = gp;
			count_add_locked(&xnglobal_free, 1);
			gp = NULL;
		}
		gr_unlock(&cache_lock);
		if (!gp)
			return;
	}
	if (!put_cold(gp))
		unmap_g(gp);
}

void gr_stack_fork_child(struct gr_g *gp)
{
	/* Another M may have held the lock mid-update: drop (leak) the global cache. */
	cache_lock = (struct gr_lock)GR_LOCK_INIT;
	global_free = NULL;
	atomic_store_explicit(&xnglobal_free, 0, memory_order_relaxed);
	tid_lock = (struct gr_lock)GR_LOCK_INIT;

	/* The child's one thread has the child's pid as its tid (glibc's fork stored it in
	 * the TCB already), and so has the G: gettid() == getpid() there, as natively.
	 * The parent's Gs live on and may meet the child's in process-shared objects
	 * (see tid_start). */
	free(tids); /* the other Gs are gone; their memory is the parent's copy */
	tids = NULL;
	tid_cap = ntids = 0;
	next_tid = tid_start();
	gr_stack_adopt_tid(gp, getpid());
	GR_PT(gp->tcb, GR_PT_TID, pid_t) = gp->tid;
}
