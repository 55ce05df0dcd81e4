/*
 * Per-G TLS: each G has its own struct pthread, static TLS block and dtv, in its own
 * memory and initialised by ld.so, so errno, __thread variables and C++ thread_local are
 * per G and keep their addresses when the G migrates between Ms.  The thread pointer
 * (fs base) switches with the G in gr_ctx_switch.
 *
 * The struct pthread is built field by field from zero (never copied from the M's: a
 * copied cleanup_jmp_buf makes pthread_exit jump into the M's frame, copied stack fields
 * make pthread_getattr_np report the M's stack).  What glibc reads through the thread
 * pointer of a G, and what each field holds:
 *   header.tcb, header.self        the TCB itself
 *   multiple_threads = 1           catomic operations (malloc) take the lock prefix
 *   sysinfo, stack/pointer guards, feature_1   copied from the M (setjmp mangling, SSP, CET)
 *   tid                            a unique fake tid above pid_max: glibc's recursive locks
 *                                  (the loader's) use it as the owner; never given to the kernel
 *   robust_head.list               points at itself (an empty robust list)
 *   specific[0]                    specific_1stblock: glibc's own pthread_getspecific and
 *                                  setspecific then work on a G unchanged
 *   stackblock, stackblock_size, guardsize, user_stack   the G's stack
 *   rseq_area.cpu_id = -2          unregistered: sched_getcpu asks the kernel
 *   GR_TCB_G                       the G (runtime.h)
 * and in libc's static TLS: __resp = &tcb->res, so each G has its own resolver state.
 *
 * glibc does not export __libc_thread_freeres, so the malloc cache (tcache) hanging off
 * libc's TLS block of an exited thread would leak.  A recycled G keeps its libc block in
 * place; a G whose memory is unmapped donates its block to the next new G.
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
#include "stack.h"
#include "tls.h"

#define MAX_DONORS 4096

/* Protected by donor_lock: copies of libc TLS blocks of unmapped Gs.  xndonors is also
 * read without the lock as a hint, so it is atomic (see stack.c's cache counts). */
static struct gr_lock donor_lock = GR_LOCK_INIT;
static void *donors[MAX_DONORS];
static _Atomic int xndonors;

static int ndonors(void)
{
	return atomic_load_explicit(&xndonors, memory_order_relaxed);
}

/* Requires donor_lock. */
static void set_ndonors_locked(int n)
{
	atomic_store_explicit(&xndonors, n, memory_order_relaxed);
}

void gr_tls_on_m(void (*fn)(void *), void *arg)
{
	struct gr_g *gp = gr_getg();

	if (!gr_g_schedulable(gp)) {
		fn(arg);
		return;
	}
	gr_arch_set_tp(gp->m->g0->tcb);
	fn(arg);
	gr_arch_set_tp(gp->tcb);
}

void gr_tls_on_kernel_tcb(void (*fn)(void *), void *arg)
{
	struct gr_g *gp = gr_getg();

	if (!gp || gp->foreign) {
		fn(arg);
		return;
	}
	gr_arch_set_tp(gp->m->kernel_tcb);
	fn(arg);
	gr_arch_set_tp(gp->tcb);
}

static void *libc_block(void *tcb)
{
	return (char *)tcb + gr_glibc.libc_tls_off;
}

static void reset_libc_words(void *tcb)
{
	GR_PT(tcb, gr_glibc.errno_off, int) = 0;
	GR_PT(tcb, gr_glibc.resp_off, void *) = (char *)tcb + GR_PT_RES;
}

static void fill_pthread(struct gr_g *gp, void *tcb)
{
	void *mtcb = gr_arch_tp(); /* the creator's TCB: guards are process-wide */

	memset(tcb, 0, GR_PT_SIZE);
	GR_PT(tcb, 0, void *) = tcb;
	GR_PT(tcb, 16, void *) = tcb;
	GR_PT(tcb, GR_PT_MULTIPLE_THREADS, int) = 1;
	GR_PT(tcb, GR_PT_SYSINFO, uintptr_t) = GR_PT(mtcb, GR_PT_SYSINFO, uintptr_t);
	GR_PT(tcb, GR_PT_STACK_GUARD, uintptr_t) = GR_PT(mtcb, GR_PT_STACK_GUARD, uintptr_t);
	GR_PT(tcb, GR_PT_POINTER_GUARD, uintptr_t) = GR_PT(mtcb, GR_PT_POINTER_GUARD, uintptr_t);
	GR_PT(tcb, GR_PT_FEATURE_1, unsigned) = GR_PT(mtcb, GR_PT_FEATURE_1, unsigned);
	GR_PT(tcb, GR_TCB_G, struct gr_g *) = gp;
	GR_PT(tcb, GR_PT_TID, pid_t) = gp->tid;
	GR_PT(tcb, GR_PT_ROBUST_HEAD, void *) = (char *)tcb + GR_PT_ROBUST_HEAD;
	GR_PT(tcb, GR_PT_SPECIFIC, void *) = (char *)tcb + GR_PT_SPECIFIC_1STBLOCK;
	GR_PT(tcb, GR_PT_STACKBLOCK, void *) = gp->user_stack ? gp->stack_lo : gp->map_base;
	GR_PT(tcb, GR_PT_STACKBLOCK_SIZE, size_t) =
		gp->user_stack ? (size_t)((char *)tcb + GR_PT_SIZE - (char *)gp->stack_lo)
			       : gr_stack_block(gp);
	GR_PT(tcb, GR_PT_GUARDSIZE, size_t) = gp->guard_size;
	GR_PT(tcb, GR_PT_REPORTED_GUARDSIZE, size_t) = gp->guard_size;
	GR_PT(tcb, GR_PT_USER_STACK, bool) = gp->user_stack;
	if (gr_glibc.rseq_offset)
		GR_PT(tcb, gr_glibc.rseq_offset + 4, int32_t) = -2; /* rseq cpu_id: unregistered */
}

/* glibc's dtv entry (dl-tls.h): a counter, or a module's block and what to free. */
union gr_dtv {
	size_t counter;
	struct {
		void *val;
		void *to_free;
	} pointer;
};

/*
 * The dtv: dtv[-1].counter is its capacity, dtv[0] the generation it is current with,
 * dtv[id] module id's TLS block.  glibc mallocs it per thread and reallocs it when a
 * module id beyond the capacity comes into use.  A G's dtv lies instead in the room its
 * mapping keeps above the TCB (stack.c), a thousand entries of which the first fourteen
 * share the TCB's page: what a module id beyond those costs is a page more per G, not an
 * allocation.  glibc must never realloc or free it, so:
 *   - it is used only while ld.so's highest module id (gr_glibc.tls_max_dtv_idx) is at
 *     most half its capacity (a G made past that gets glibc's malloc'd dtv, and so does a
 *     G recycled past it); glibc grows a dtv only past its capacity;
 *   - green releases the blocks it lists itself (release_blocks), instead of
 *     _dl_deallocate_tls, which would free the dtv.
 * Only the entries up to the highest module id ever in use can have been written (by
 * _dl_allocate_tls_init and __tls_get_addr): dtv_written bounds them, from the highest id
 * seen so far.  An id that came and went unseen leaves its block unfreed (a leak, as
 * glibc's own dlclose leaves one in each thread), never a stale entry that matters:
 * _dl_allocate_tls_init resets the entries of loaded modules, and __tls_get_addr frees
 * a reused id's old block before it sets the entry.
 */
static _Atomic size_t xdtv_high; /* the highest module id seen in use */

static size_t dtv_written(void)
{
	size_t high = atomic_load_explicit(&xdtv_high, memory_order_relaxed);
	size_t now = gr_glibc.tls_max_dtv_idx ? *(const volatile size_t *)gr_glibc.tls_max_dtv_idx
					      : 0;

	while (now > high && !atomic_compare_exchange_weak_explicit(&xdtv_high, &high, now,
								    memory_order_relaxed,
								    memory_order_relaxed))
		;
	return now > high ? now : high;
}

/* The dtv room of gp's mapping (dtv[-1] first) and its capacity, or NULL (a program's
 * stack, or ld.so's module count unknown). */
static union gr_dtv *dtv_room(const struct gr_g *gp, size_t *cap)
{
	if (gp->user_stack || !gr_glibc.tls_max_dtv_idx)
		return NULL;
	uintptr_t lo = ((uintptr_t)gp->tcb + GR_PT_SIZE + 15) & ~(uintptr_t)15;
	uintptr_t hi = (uintptr_t)gp->map_base + gp->map_size;
	*cap = (hi - lo) / sizeof(union gr_dtv) - 2;
	return (union gr_dtv *)lo;
}

/* Whether gp's dtv is the one in its room. */
static bool dtv_in_room(const struct gr_g *gp, const union gr_dtv *dtv)
{
	size_t cap;
	const union gr_dtv *room = dtv_room(gp, &cap);

	return room && dtv == room + 1;
}

/* Points gp's TCB at its dtv room (whose entries are clear) while the modules in use fill
 * at most half of it; false when gp needs glibc's malloc'd dtv. */
static bool use_dtv_room(struct gr_g *gp)
{
	size_t cap;
	union gr_dtv *room = dtv_room(gp, &cap);

	if (!room || dtv_written() > cap / 2)
		return false;
	room[0].counter = cap;
	GR_PT(gp->tcb, GR_PT_DTV, union gr_dtv *) = room + 1;
	return true;
}

/* Frees the blocks of modules loaded with dlopen that dtv's first n entries list (most
 * list none), and clears those entries and the generation. */
static void release_blocks(union gr_dtv *dtv, size_t n)
{
	for (size_t i = 1; i <= n; i++)
		free(dtv[i].pointer.to_free);
	memset(dtv, 0, (n + 1) * sizeof(*dtv));
}

/* How many entries of a dtv may have been written: all of glibc's, and of one in a G's
 * room (in_room) those up to the highest module id seen. */
static size_t dtv_entries(const union gr_dtv *dtv, bool in_room)
{
	size_t n = dtv[-1].counter, written = in_room ? dtv_written() : n;

	return written < n ? written : n;
}

static void call_allocate_tls(void *tcb)
{
	if (!gr_glibc.dl_allocate_tls(tcb))
		GR_PT(tcb, GR_PT_DTV, void *) = NULL;
}

static void call_allocate_tls_init(void *tcb)
{
	gr_glibc.dl_allocate_tls_init(tcb, true);
}

/* Gives gp's TCB, built by fill_pthread, a dtv (the room's, or glibc's malloc'd one) and
 * has ld.so fill it and copy every static TLS image. */
static int allocate_tls(struct gr_g *gp)
{
	gr_tls_on_m(use_dtv_room(gp) ? call_allocate_tls_init : call_allocate_tls, gp->tcb);
	return GR_PT(gp->tcb, GR_PT_DTV, void *) ? 0 : -EAGAIN;
}

int gr_tls_init(struct gr_g *gp, void *tcb)
{
	void *donor = NULL;

	gp->tcb = tcb;
	fill_pthread(gp, tcb);
	if (allocate_tls(gp) != 0)
		return -EAGAIN;
	if (ndonors()) { /* checked again under the lock */
		gr_lock(&donor_lock);
		int n = ndonors();
		if (n) {
			donor = donors[n - 1];
			set_ndonors_locked(n - 1);
		}
		gr_unlock(&donor_lock);
	}
	if (donor) {
		memcpy(libc_block(tcb), donor, gr_glibc.libc_tls_size);
		free(donor);
	}
	reset_libc_words(tcb);
	return 0;
}

static void call_deallocate_tls(void *tcb)
{
	gr_glibc.dl_deallocate_tls(tcb, false);
}

void gr_tls_fini(struct gr_g *gp, bool donate)
{
	union gr_dtv *dtv = GR_PT(gp->tcb, GR_PT_DTV, union gr_dtv *);
	void *copy = NULL;

	if (donate && ndonors() < MAX_DONORS && (copy = malloc(gr_glibc.libc_tls_size))) {
		memcpy(copy, libc_block(gp->tcb), gr_glibc.libc_tls_size);
		gr_lock(&donor_lock);
		int n = ndonors();
		if (n < MAX_DONORS) {
			donors[n] = copy;
			set_ndonors_locked(n + 1);
			copy = NULL;
		}
		gr_unlock(&donor_lock);
		free(copy);
	}
	if (!dtv) /* gr_tls_init failed */
		return;
	if (dtv_in_room(gp, dtv))
		release_blocks(dtv, dtv_entries(dtv, true));
	else
		gr_tls_on_m(call_deallocate_tls, gp->tcb);
}

/* As glibc does for a cached thread stack: the blocks of modules loaded with dlopen are
 * freed and every entry cleared, and _dl_allocate_tls_init fills the dtv in again
 * (glibc's own grows if modules were loaded since; the room's is left for glibc's when
 * the modules outgrow it) and copies every static TLS image. */
int gr_tls_reinit(struct gr_g *gp)
{
	size_t n = gr_glibc.libc_tls_size;
	char saved[n];
	void *tcb = gp->tcb;
	union gr_dtv *dtv = GR_PT(tcb, GR_PT_DTV, union gr_dtv *);
	bool in_room = dtv_in_room(gp, dtv);

	memcpy(saved, libc_block(tcb), n);
	release_blocks(dtv, dtv_entries(dtv, in_room));
	fill_pthread(gp, tcb);
	if (in_room) {
		if (allocate_tls(gp) != 0)
			return -EAGAIN;
	} else {
		GR_PT(tcb, GR_PT_DTV, union gr_dtv *) = dtv;
		gr_tls_on_m(call_allocate_tls_init, tcb);
	}
	memcpy(libc_block(tcb), saved, n);
	reset_libc_words(tcb);
	return 0;
}

void gr_tls_start(void)
{
	gr_glibc.ctype_init();
}

/* glibc's __nptl_deallocate_tsd, over the TCB's own key arrays and glibc's key table. */
static void run_tsd_destructors(void *tcb)
{
	struct gr_pthread_key_data { uintptr_t seq; void *data; };
	struct gr_pthread_key_data **specific =
		(struct gr_pthread_key_data **)((char *)tcb + GR_PT_SPECIFIC);
	bool *used = &GR_PT(tcb, GR_PT_SPECIFIC_USED, bool);

	for (int round = 0; *used && round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		*used = false;
		for (int i = 0; i < PTHREAD_KEYS_MAX / 32; i++) {
			struct gr_pthread_key_data *level2 = specific[i];
			if (!level2)
				continue;
			for (int j = 0; j < 32; j++) {
				void *data = level2[j].data;
				if (!data)
					continue;
				level2[j].data = NULL;
				struct gr_pthread_key *k = &gr_glibc.keys[i * 32 + j];
				if (level2[j].seq == k->seq && k->destr)
					k->destr(data);
			}
		}
	}
	for (int i = 1; i < PTHREAD_KEYS_MAX / 32; i++) {
		free(specific[i]);
		specific[i] = NULL;
	}
	*used = false;
}

void gr_tls_exit(struct gr_g *gp)
{
	gr_glibc.call_tls_dtors();
	if (GR_PT(gp->tcb, GR_PT_SPECIFIC_USED, bool))
		run_tsd_destructors(gp->tcb);
	if (uselocale(NULL) != LC_GLOBAL_LOCALE)
		uselocale(LC_GLOBAL_LOCALE);
}

/*
 * Static TLS of modules loaded with dlopen.  A module whose code uses initial-exec TLS
 * (DF_STATIC_TLS: libGL, some allocators) gets a block at a fixed offset below every
 * thread's thread pointer, in the static TLS surplus, and glibc copies its initial image
 * into that block in each thread on its lists (_dl_init_static_tls), which the Gs are
 * not on: a G that existed before the load would read zeros.  So after the load the
 * image is copied into each G too, except the main G and adopted threads (glibc's own)
 * and Gs whose dtv already points at the block (_dl_allocate_tls_init made them after the
 * module was in, and copied the image itself; they may have written to it since).
 *
 * Known gaps: the copy comes after dlopen returns, so the module's constructors and a
 * thread they start see the block before it; modules loaded by glibc itself (NSS, iconv)
 * and loads green does not bracket (see interpose/dl.c) are not followed.
 */
struct gr_tls_mod {
	size_t id;
	ElfW(Addr) base;
};

struct load_scan {
	struct gr_tls_load *ld;
	size_t cap;
	bool failed;
};

static int note_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct load_scan *sc = arg;
	struct gr_tls_load *ld = sc->ld;

	(void)size;
	ld->adds = info->dlpi_adds;
	if (!info->dlpi_tls_modid || sc->failed)
		return 0;
	if (ld->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 16;
		struct gr_tls_mod *m = realloc(ld->mods, cap * sizeof(*m));
		if (!m) {
			sc->failed = true;
			return 0;
		}
		ld->mods = m;
		sc->cap = cap;
	}
	ld->mods[ld->n++] = (struct gr_tls_mod){info->dlpi_tls_modid, info->dlpi_addr};
	return 0;
}

void gr_tls_load_begin(struct gr_tls_load *ld)
{
	struct load_scan sc = {ld, 0, false};

	*ld = (struct gr_tls_load){0, 0, NULL};
	dl_iterate_phdr(note_module, &sc);
	if (sc.failed || !ld->mods) {
		free(ld->mods);
		ld->mods = NULL; /* also with no TLS module at all: libc has one, so never */
	}
}

static bool known_before(const struct gr_tls_load *ld, const struct dl_phdr_info *info)
{
	for (size_t i = 0; i < ld->n; i++)
		if (ld->mods[i].id == info->dlpi_tls_modid && ld->mods[i].base == info->dlpi_addr)
			return true;
	return false;
}

/* True when the module's dynamic section has DF_STATIC_TLS. */
static bool static_tls_module(const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		     d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_FLAGS)
				return d->d_un.d_val & DF_STATIC_TLS;
	}
	return false;
}

struct image_copy {
	size_t modid;
	size_t off; /* below the thread pointer */
	const char *image;
	size_t filesz, memsz;
	const struct gr_g *self;
};

static void copy_image(struct gr_g *gp, void *arg)
{
	const struct image_copy *c = arg;

	if (gp->is_main || gp->foreign || !gp->tcb ||
	    atomic_load_explicit(&gp->xstatus, memory_order_relaxed) == GR_G_DEAD)
		return;
	char *dest = (char *)gp->tcb - c->off;
	union gr_dtv *dtv = GR_PT(gp->tcb, GR_PT_DTV, union gr_dtv *);
	if (gp != c->self && dtv && c->modid <= dtv[-1].counter &&
	    dtv[c->modid].pointer.val == dest)
		return;
	memcpy(dest, c->image, c->filesz);
	memset(dest + c->filesz, 0, c->memsz - c->filesz);
}

struct tls_index {
	unsigned long module, offset;
};
extern void *__tls_get_addr(struct tls_index *ti);

/* Static-TLS modules whose image green has copied into the Gs, by (id, base): two loads
 * that race (the second began before the first's module was in) both find that module
 * new, and a second copy would undo what Gs wrote to its block in between.  Protected by
 * followed_lock.  Never pruned: static TLS space is never given back, so only a few
 * modules a process can ever load fit (one unloaded and another loaded at its base with
 * its id would be missed). */
static struct gr_lock followed_lock = GR_LOCK_INIT;
static struct gr_tls_mod *followed;
static size_t nfollowed, followed_cap;

/* Records m as followed; false when it already was (or memory ran out). */
static bool follow_once(const struct gr_tls_mod *m)
{
	bool fresh = true;

	gr_lock(&followed_lock);
	for (size_t i = 0; i < nfollowed && fresh; i++)
		fresh = followed[i].id != m->id || followed[i].base != m->base;
	if (fresh && nfollowed == followed_cap) {
		size_t cap = followed_cap ? 2 * followed_cap : 8;
		struct gr_tls_mod *f = realloc(followed, cap * sizeof(*f));
		if (f) {
			followed = f;
			followed_cap = cap;
		}
	}
	if (fresh && nfollowed < followed_cap)
		followed[nfollowed++] = *m;
	else
		fresh = false;
	gr_unlock(&followed_lock);
	return fresh;
}

static int follow_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	const struct gr_tls_load *ld = arg;
	const ElfW(Phdr) *tls = NULL;

	(void)size;
	if (!info->dlpi_tls_modid || known_before(ld, info) || !static_tls_module(info))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && !tls; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS)
			tls = &info->dlpi_phdr[i];
	if (!tls || tls->p_filesz > tls->p_memsz)
		return 0;
	/* Where the block lies below the thread pointer: ld.so's answer for this thread (for
	 * a static module, an address in the static area, never an allocation). */
	struct tls_index ti = {info->dlpi_tls_modid, 0};
	char *tp = gr_arch_tp(), *block = __tls_get_addr(&ti);
	size_t below = gr_glibc.tls_static_size - GR_PT_SIZE;
	if (!block || block >= tp || (size_t)(tp - block) > below ||
	    (size_t)(tp - block) < tls->p_memsz)
		return 0;
	struct gr_tls_mod m = {info->dlpi_tls_modid, info->dlpi_addr};
	if (!follow_once(&m))
		return 0;
	struct image_copy c = {info->dlpi_tls_modid, (size_t)(tp - block),
			       (const char *)(info->dlpi_addr + tls->p_vaddr), tls->p_filesz,
			       tls->p_memsz, gr_getg()};
	gr_stack_each_g(copy_image, &c);
	return 0;
}

void gr_tls_load_end(struct gr_tls_load *ld)
{
	struct load_scan sc = {NULL, 0, false};
	struct gr_tls_load now = {0, 0, NULL};
	int saved = errno;

	if (!ld->mods)
		return;
	sc.ld = &now;
	sc.failed = true; /* only the count */
	dl_iterate_phdr(note_module, &sc);
	if (now.adds != ld->adds)
		dl_iterate_phdr(follow_module, ld);
	free(ld->mods);
	ld->mods = NULL;
	errno = saved;
}

void gr_tls_fork_child(void)
{
	donor_lock = (struct gr_lock)GR_LOCK_INIT;
	followed_lock = (struct gr_lock)GR_LOCK_INIT;
}
