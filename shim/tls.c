/*
 * Per-G TLS: each G has its own struct pthread and static TLS block, allocated by ld.so's
 * own allocator, so errno, __thread variables and C++ thread_local are per G and keep
 * their addresses when the G migrates between Ms.  The thread pointer (fs base) switches
 * with the G in gr_ctx_switch.
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
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
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
			       : gp->map_size;
	GR_PT(tcb, GR_PT_GUARDSIZE, size_t) = gp->guard_size;
	GR_PT(tcb, GR_PT_REPORTED_GUARDSIZE, size_t) = gp->guard_size;
	GR_PT(tcb, GR_PT_USER_STACK, bool) = gp->user_stack;
	if (gr_glibc.rseq_offset)
		GR_PT(tcb, gr_glibc.rseq_offset + 4, int32_t) = -2; /* rseq cpu_id: unregistered */
}

struct alloc_tls {
	void *tcb;
	void *ret;
};

static void call_allocate_tls(void *arg)
{
	struct alloc_tls *a = arg;

	a->ret = gr_glibc.dl_allocate_tls(a->tcb);
}

static void call_deallocate_tls(void *tcb)
{
	gr_glibc.dl_deallocate_tls(tcb, false);
}

int gr_tls_init(struct gr_g *gp, void *tcb)
{
	struct alloc_tls a = {tcb, NULL};
	void *donor = NULL;

	gp->tcb = tcb;
	fill_pthread(gp, tcb);
	gr_tls_on_m(call_allocate_tls, &a);
	if (!a.ret)
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

void gr_tls_fini(struct gr_g *gp, bool donate)
{
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
	gr_tls_on_m(call_deallocate_tls, gp->tcb);
}

/* glibc's dtv entry (dl-tls.h): a counter, or a module's block and what to free. */
union gr_dtv {
	size_t counter;
	struct {
		void *val;
		void *to_free;
	} pointer;
};

static void call_allocate_tls_init(void *arg)
{
	struct alloc_tls *a = arg;

	a->ret = gr_glibc.dl_allocate_tls_init(a->tcb);
}

/* As glibc does for a cached thread stack: the dtv stays; the blocks of modules loaded
 * with dlopen are freed and every entry cleared, and _dl_allocate_tls_init fills it in
 * again (resizing it if modules were loaded since) and copies every static TLS image. */
int gr_tls_reinit(struct gr_g *gp)
{
	size_t n = gr_glibc.libc_tls_size;
	char saved[n];
	void *tcb = gp->tcb;
	union gr_dtv *dtv = GR_PT(tcb, GR_PT_DTV, union gr_dtv *);
	struct alloc_tls a = {tcb, NULL};

	memcpy(saved, libc_block(tcb), n);
	for (size_t i = 1; i <= dtv[-1].counter; i++)
		if (dtv[i].pointer.to_free) /* a dlopen'd module's block: most have none */
			free(dtv[i].pointer.to_free);
	memset(dtv, 0, (dtv[-1].counter + 1) * sizeof(*dtv));
	fill_pthread(gp, tcb);
	GR_PT(tcb, GR_PT_DTV, union gr_dtv *) = dtv;
	gr_tls_on_m(call_allocate_tls_init, &a);
	if (!a.ret)
		return -EAGAIN;
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

void gr_tls_fork_child(void)
{
	donor_lock = (struct gr_lock)GR_LOCK_INIT;
}
