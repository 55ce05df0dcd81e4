/*
 * G memory.  Each G gets one mapping, laid out top-down as glibc lays out a thread:
 *
 *     top  [ struct pthread (TCB) ][ static TLS ][ struct gr_g ][ stack ... ][ guard ]  base
 *
 * so a new G touches only its top pages.  The mapping is MAP_NORESERVE: an 8 MiB default
 * stack costs the pages the G touches, not 8 MiB, which is what lets a million Gs fit.
 *
 * Guard pages split mappings, and the kernel allows vm.max_map_count (65530) mappings per
 * process, so a guarded stack costs two.  green guards the first GUARDED_MAX stacks and
 * gives later ones none, with one warning on stderr (glibc would fail with EAGAIN there;
 * failing the program was judged worse than an unguarded stack).  Unguarded mappings with
 * equal flags merge in the kernel, so they cost almost nothing.
 *
 * Exited Gs are cached with their memory still mapped and their TLS block kept: first in
 * the P's own list (no lock), then in a global list whose stacks are returned to the kernel
 * with MADV_DONTNEED (the top pages stay), and past GLOBAL_MAX they are unmapped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "glibc.h"
#include "real.h"
#include "stack.h"
#include "tls.h"

#define PCACHE_MAX 32
#define GLOBAL_MAX 1024
#define GUARDED_MAX 16384
#define KEEP_TOP 16384 /* bytes under the TCB kept resident in the global cache */

/* Protected by cache_lock. */
static struct gr_lock cache_lock = GR_LOCK_INIT;
static struct gr_g *global_free;
static int nglobal_free;

static _Atomic int nguarded;
static _Atomic bool warned_guard;
static _Atomic pid_t next_tid = 0x400001; /* above the largest pid_max (2^22) */

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
	return round_up(gr_glibc.tls_static_size + sizeof(struct gr_g) + 64, 64) + 64;
}

size_t gr_stack_min(void)
{
	return round_up(PTHREAD_STACK_MIN + top_reserve(), gr_stack_page());
}

/* Places TCB, TLS and the G at the top of [lo, hi) and fills the G's memory fields. */
static struct gr_g *layout(char *lo, char *hi)
{
	uintptr_t align = gr_glibc.tls_static_align > 64 ? gr_glibc.tls_static_align : 64;
	char *tcb = (char *)(((uintptr_t)hi - GR_PT_SIZE) & ~(align - 1));
	char *tls_lo = (char *)(((uintptr_t)tcb + GR_PT_SIZE - gr_glibc.tls_static_size) & ~63ul);
	struct gr_g *gp = (struct gr_g *)(((uintptr_t)tls_lo - sizeof(struct gr_g)) & ~63ul);

	memset(gp, 0, sizeof(*gp));
	gp->tcb = tcb;
	gp->stack_lo = lo;
	gp->stack_size = (size_t)((char *)gp - lo);
	return gp;
}

static struct gr_g *map_g(const struct gr_stack_req *req)
{
	size_t page = gr_stack_page();
	size_t guard = round_up(req->guard_size, page);
	size_t size = round_up(req->stack_size, page);

	if (guard && atomic_fetch_add_explicit(&nguarded, 1, memory_order_relaxed) >= GUARDED_MAX) {
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
		if (!atomic_exchange_explicit(&warned_guard, true, memory_order_relaxed))
			gr_real_msg("green: more than " GR_STR(GUARDED_MAX) " thread stacks: ",
				    "new ones get no guard page (vm.max_map_count)", "\n");
		guard = 0;
	}
	char *base = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		goto out_unguard;
	if (guard && mprotect(base, guard, PROT_NONE) != 0)
		goto out_unmap;
	struct gr_g *gp = layout(base + guard, base + guard + size);
	gp->map_base = base;
	gp->map_size = size + guard;
	gp->guard_size = guard;
	gp->tid = atomic_fetch_add_explicit(&next_tid, 1, memory_order_relaxed);
	return gp;

out_unmap:
	munmap(base, size + guard);
out_unguard:
	if (guard)
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
	return NULL;
}

static void unmap_g(struct gr_g *gp)
{
	gr_tls_fini(gp, true);
	if (gp->guard_size)
		atomic_fetch_sub_explicit(&nguarded, 1, memory_order_relaxed);
	gp->magic = 0;
	munmap(gp->map_base, gp->map_size);
}

static bool fits(const struct gr_g *gp, const struct gr_stack_req *req)
{
	size_t page = gr_stack_page();

	return gp->map_size == round_up(req->stack_size, page) + round_up(req->guard_size, page) &&
	       (gp->guard_size != 0) == (req->guard_size != 0);
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

/* Resets a cached G's fields for a new thread, keeping its memory and tid. */
static struct gr_g *recycle(struct gr_g *old)
{
	struct gr_g keep = *old;
	struct gr_g *gp = old;

	memset(gp, 0, sizeof(*gp));
	gp->tcb = keep.tcb;
	gp->map_base = keep.map_base;
	gp->map_size = keep.map_size;
	gp->stack_lo = keep.stack_lo;
	gp->stack_size = keep.stack_size;
	gp->guard_size = keep.guard_size;
	gp->tid = keep.tid;
	if (gr_tls_reinit(gp) != 0) {
		unmap_g(gp);
		return NULL;
	}
	return gp;
}

static struct gr_g *user_g(const struct gr_stack_req *req)
{
	char *lo = req->user_addr, *hi = lo + req->user_size;
	struct gr_g *gp = layout(lo, hi);

	gp->user_stack = true;
	gp->map_size = req->user_size; /* reported by pthread_getattr_np; never unmapped */
	gp->tid = atomic_fetch_add_explicit(&next_tid, 1, memory_order_relaxed);
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
		if (!gp && nglobal_free) { /* racy hint; checked under the lock */
			gr_lock(&cache_lock);
			if ((gp = take(&global_free, req)))
				nglobal_free--;
			gr_unlock(&cache_lock);
		}
		if (gp)
			return recycle(gp);
		gp = map_g(req);
		if (!gp)
			return NULL;
	}
	if (gr_tls_init(gp, gp->tcb) != 0) {
		if (gp->map_base)
			unmap_g(gp);
		return NULL;
	}
	return gp;
}

void gr_stack_free_g(struct gr_p *pp, struct gr_g *gp)
{
	gp->magic = 0;
	if (gp->user_stack) {
		gr_tls_fini(gp, true);
		return;
	}
	if (pp && pp->ngfree < PCACHE_MAX) {
		gp->schedlink = pp->gfree;
		pp->gfree = gp;
		pp->ngfree++;
		return;
	}
	if (nglobal_free < GLOBAL_MAX) {
		uintptr_t keep = ((uintptr_t)gp->tcb - KEEP_TOP) & ~(gr_stack_page() - 1);
		uintptr_t lo = (uintptr_t)gp->map_base + gp->guard_size;
		if (keep > lo)
			madvise((void *)lo, keep - lo, MADV_DONTNEED);
		gr_lock(&cache_lock);
		if (nglobal_free < GLOBAL_MAX) {
			gp->schedlink = global_free;
			global_free = gp;
			nglobal_free++;
			gp = NULL;
		}
		gr_unlock(&cache_lock);
		if (!gp)
			return;
	}
	unmap_g(gp);
}

void gr_stack_fork_child(void)
{
	/* Another M may have held the lock mid-update: drop (leak) the global cache. */
	cache_lock = (struct gr_lock)GR_LOCK_INIT;
	global_free = NULL;
	nglobal_free = 0;
}
