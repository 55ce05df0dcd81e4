/* Unit tests of shim/stack.c, shim/tls.c and the context switch: G memory is laid out as
 * glibc lays out a thread, each G's static TLS is its own and initialised from the image,
 * recycling keeps the memory and resets the TLS, and a G runs on its own stack and TLS. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "arch.h"
#include "glibc.h"
#include "real.h"
#include "stack.h"
#include "tls.h"

static __thread int tls_int = 1234;
static __thread char tls_zero[64];

static void setup(void)
{
	cr_assert_eq(gr_real_init(), 0);
	cr_assert_eq(gr_glibc_init(), 0, "this glibc matches the one green knows");
	gr_arch_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
}

TestSuite(stack, .init = setup);

static struct gr_stack_req default_req(void)
{
	return (struct gr_stack_req){.stack_size = 1 << 20, .guard_size = gr_stack_page()};
}

/* The address of this thread's variable v in the TLS of the thread whose TCB is tcb. */
static void *tls_in(void *tcb, void *v)
{
	return (char *)tcb + ((char *)v - (char *)gr_arch_tp());
}

Test(stack, layout_matches_glibc)
{
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(gp);
	char *tcb = gp->tcb;
	char *top = (char *)gp->map_base + gr_stack_block(gp);
	cr_assert_eq(top + GR_TLS_DTV_TAIL, (char *)gp->map_base + gp->map_size);
	cr_assert(tcb + GR_PT_SIZE + GR_TLS_DTV_HEAD <= top &&
		  tcb + GR_PT_SIZE + GR_TLS_DTV_HEAD + 64 > top, "TCB at the top, below the dtv");
	cr_assert_eq(GR_PT(tcb, 0, void *), tcb);
	cr_assert_eq(GR_PT(tcb, 16, void *), tcb);
	cr_assert_eq(GR_PT(tcb, GR_PT_MULTIPLE_THREADS, int), 1);
	cr_assert_eq(GR_PT(tcb, GR_TCB_G, struct gr_g *), gp);
	cr_assert_gt(GR_PT(tcb, GR_PT_TID, pid_t), 1 << 22, "fake tid above pid_max");
	cr_assert_eq(GR_PT(tcb, GR_PT_STACK_GUARD, uintptr_t),
		     GR_PT(gr_arch_tp(), GR_PT_STACK_GUARD, uintptr_t));
	cr_assert_eq(GR_PT(tcb, GR_PT_STACKBLOCK, void *), gp->map_base);
	cr_assert_eq(GR_PT(tcb, GR_PT_GUARDSIZE, size_t), gr_stack_page());
	cr_assert_eq(*(int32_t *)(tcb + gr_glibc.rseq_offset + 4), -2, "rseq unregistered");
	cr_assert((char *)gp < tcb && (char *)gp->stack_lo + gp->stack_size == (char *)gp);
	cr_assert_geq(gp->stack_size, (1 << 20) - 16384);
	gr_stack_free_g(NULL, gp);
}

Test(stack, tls_is_initialised_from_the_image)
{
	struct gr_stack_req req = default_req();
	tls_int = 99;
	memset(tls_zero, 7, sizeof(tls_zero));
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(gp);
	cr_assert_eq(*(int *)tls_in(gp->tcb, &tls_int), 1234);
	char zero[64] = {0};
	cr_assert_arr_eq(tls_in(gp->tcb, tls_zero), zero, 64);
	cr_assert_eq(*(int *)tls_in(gp->tcb, &errno), 0);
	gr_stack_free_g(NULL, gp);
}

Test(stack, recycled_g_keeps_memory_and_resets_tls)
{
	struct gr_p p = {0};
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(&p, &req);
	void *tcb = gp->tcb;
	pid_t tid = gp->tid;
	*(int *)tls_in(tcb, &tls_int) = 5;
	*(int *)tls_in(tcb, &errno) = EBADF;
	gr_stack_free_g(&p, gp);
	cr_assert_eq(p.ngfree, 1);
	struct gr_g *again = gr_stack_alloc_g(&p, &req);
	cr_assert_eq(again, gp, "the P's cache serves the next G");
	cr_assert_eq(again->tcb, tcb);
	cr_assert_neq(again->tid, tid, "a new life gets a new tid, as a native thread does");
	cr_assert_eq(GR_PT(tcb, GR_PT_TID, pid_t), again->tid);
	cr_assert_eq(*(int *)tls_in(tcb, &tls_int), 1234);
	cr_assert_eq(*(int *)tls_in(tcb, &errno), 0);
	gr_stack_free_g(NULL, again);
}

/* Fake tids live in a hash table (stack.c): grow it past its first size, forget every
 * other entry (deletion shifts probe runs back), and every live G is still found under
 * its own tid, every ended one under none. */
Test(stack, tids_map_to_live_gs_only)
{
	enum { N = 5000 };
	static struct gr_g *gs[N];
	static pid_t old[N];
	struct gr_stack_req req = {.stack_size = gr_stack_min(), .guard_size = 0};

	for (int i = 0; i < N; i++) {
		gs[i] = gr_stack_alloc_g(NULL, &req);
		cr_assert_not_null(gs[i]);
		gs[i]->magic = GR_G_MAGIC;
		old[i] = gs[i]->tid;
		for (int j = i - 1; j >= 0 && j >= i - 64; j--)
			cr_assert_neq(old[j], old[i]);
	}
	struct gr_p p = {0};
	for (int i = 0; i < N; i += 2) {
		gr_stack_free_g(&p, gs[i]); /* cached: its tid ends with its life */
		gs[i] = gr_stack_alloc_g(&p, &req);
		gs[i]->magic = GR_G_MAGIC;
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(gr_stack_g_by_tid(gs[i]->tid), gs[i], "G %d", i);
		if (i % 2 == 0)
			cr_assert_null(gr_stack_g_by_tid(old[i]), "ended G %d", i);
	}
	for (int i = 0; i < N; i++)
		gr_stack_free_g(NULL, gs[i]);
	for (int i = 0; i < N; i++)
		cr_assert_null(gr_stack_g_by_tid(gs[i]->tid));
}

/* The main G takes the kernel's tid (the pid): recorded, found, and never handed out. */
Test(stack, adopted_tid_is_recorded)
{
	static struct gr_g main_g;
	struct gr_stack_req req = {.stack_size = gr_stack_min(), .guard_size = 0};

	main_g.magic = GR_G_MAGIC;
	gr_stack_adopt_tid(&main_g, getpid());
	cr_assert_eq(main_g.tid, getpid());
	cr_assert_eq(gr_stack_g_by_tid(getpid()), &main_g);
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(gp);
	cr_assert_neq(gp->tid, getpid());
	gr_stack_free_g(NULL, gp);
	cr_assert_eq(gr_stack_g_by_tid(getpid()), &main_g);
}

/* Tids that share a home slot: adopted ones make a probe run that the next fake tids
 * land behind, then half of those Gs are recycled (their slots deleted by backward shift
 * through the run, the new tids inserted).  Every entry must still be found. */
Test(stack, tids_sharing_a_home_are_all_found)
{
	enum { NRUN = 8, N = 16 };
	static struct gr_g adopted[NRUN];
	struct gr_g *gs[N];
	struct gr_stack_req req = {.stack_size = gr_stack_min(), .guard_size = 0};
	struct gr_p p = {0};

	struct gr_g *first = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(first);
	first->magic = GR_G_MAGIC;
	for (int k = 0; k < NRUN; k++) { /* the same home in any table up to 2^20 slots */
		adopted[k].magic = GR_G_MAGIC;
		gr_stack_adopt_tid(&adopted[k], first->tid + 1 + (k + 1) * (1 << 20));
	}
	for (int i = 0; i < N; i++) {
		gs[i] = gr_stack_alloc_g(NULL, &req);
		cr_assert_not_null(gs[i]);
		gs[i]->magic = GR_G_MAGIC;
	}
	cr_assert_eq(gs[0]->tid, first->tid + 1, "fake tids count up: they share the homes");
	for (int i = 0; i < N; i += 2) {
		gr_stack_free_g(&p, gs[i]);
		gs[i] = gr_stack_alloc_g(&p, &req); /* the same memory, a new tid */
		gs[i]->magic = GR_G_MAGIC;
	}
	for (int k = 0; k < NRUN; k++)
		cr_assert_eq(gr_stack_g_by_tid(adopted[k].tid), &adopted[k], "adopted %d", k);
	for (int i = 0; i < N; i++)
		cr_assert_eq(gr_stack_g_by_tid(gs[i]->tid), gs[i], "G %d", i);
	cr_assert_eq(gr_stack_g_by_tid(first->tid), first);
}

Test(stack, user_stack_holds_tcb_at_its_top)
{
	static char buf[256 << 10] __attribute__((aligned(4096)));
	struct gr_stack_req req = {.user_addr = buf, .user_size = sizeof(buf)};
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(gp);
	cr_assert(gp->user_stack);
	cr_assert((char *)gp->tcb > buf && (char *)gp->tcb + GR_PT_SIZE <= buf + sizeof(buf));
	cr_assert_eq(gp->stack_lo, buf);
	gr_stack_free_g(NULL, gp);
}

Test(stack, min_size_fits_tls_and_stack)
{
	cr_assert_geq(gr_stack_min(), (size_t)PTHREAD_STACK_MIN + gr_glibc.tls_static_size);
	cr_assert_eq(gr_stack_min() % gr_stack_page(), 0);
}

/* A G runs on its own stack with its own thread pointer, and switches back. */
static struct gr_ctx main_ctx;
static void *seen_tls, *seen_errno, *seen_sp;

static void on_g(void *arg)
{
	struct gr_g *gp = arg;
	int local;
	seen_tls = &tls_int;
	seen_errno = &errno;
	seen_sp = &local;
	errno = ENOENT;
	gr_ctx_switch(&gp->ctx, &main_ctx);
	__builtin_trap(); /* never resumed */
}

Test(stack, context_switch_runs_g_on_its_stack_and_tls)
{
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	main_ctx.fs = gr_arch_tp();
	gr_ctx_init(&gp->ctx, gp, gp->tcb, on_g, gp);
	errno = 0;
	gr_ctx_switch(&main_ctx, &gp->ctx);
	cr_assert_eq(gr_arch_tp(), main_ctx.fs, "thread pointer restored");
	cr_assert_eq(seen_tls, tls_in(gp->tcb, &tls_int));
	cr_assert_eq(seen_errno, tls_in(gp->tcb, &errno));
	cr_assert((char *)seen_sp > (char *)gp->stack_lo && (char *)seen_sp < (char *)gp);
	cr_assert_eq(errno, 0, "the G's errno is its own");
	cr_assert_eq(*(int *)tls_in(gp->tcb, &errno), ENOENT);
	gr_stack_free_g(NULL, gp);
}

/* glibc's dtv entry, as tls.c reads it. */
union dtv {
	size_t counter;
	struct {
		void *val;
		void *to_free;
	} pointer;
};

static union dtv *dtv_of(const struct gr_g *gp)
{
	return GR_PT(gp->tcb, GR_PT_DTV, union dtv *);
}

static bool dtv_in_mapping(const struct gr_g *gp)
{
	char *dtv = (char *)dtv_of(gp);

	return dtv > (char *)gp->tcb && dtv < (char *)gp->map_base + gp->map_size;
}

/* A G's dtv lies in its mapping, above the TCB, its first fourteen module entries in the
 * TCB's page, and lists each module's static TLS block below the TCB. */
Test(stack, dtv_lies_above_the_tcb)
{
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	cr_assert_not_null(gp);
	cr_assert_not_null(gr_glibc.tls_max_dtv_idx, "ld.so's module count was found");
	size_t max = *gr_glibc.tls_max_dtv_idx, page = gr_stack_page();
	union dtv *dtv = dtv_of(gp);
	char *tcb = gp->tcb;
	cr_assert(dtv_in_mapping(gp));
	cr_assert_geq((char *)(dtv - 1), tcb + GR_PT_SIZE);
	cr_assert_eq((uintptr_t)(tcb + GR_PT_SIZE - 1) / page, (uintptr_t)((char *)(dtv + 15) - 1) / page,
		     "entries up to 14 in the TCB's page");
	cr_assert_geq(dtv[-1].counter, 1000, "room for a thousand modules");
	cr_assert_geq(max, 2, "the test and libc have TLS");
	for (size_t i = 1; i <= max; i++) {
		char *block = dtv[i].pointer.val;
		cr_assert(block < tcb && block >= tcb - (gr_glibc.tls_static_size - GR_PT_SIZE),
			  "module %zu's block in the static TLS", i);
		cr_assert_null(dtv[i].pointer.to_free);
	}
	gr_stack_free_g(NULL, gp);
}

/* The dynamic TLS of a module loaded with dlopen, allocated when a G first touches it, is
 * freed when the G is recycled, and the next life gets a fresh block. */
static int *(*dyn_counter)(void);
static int *seen_counter;
static int seen_value;

static void touch_dynamic_tls(void *arg)
{
	struct gr_g *gp = arg;
	seen_counter = dyn_counter();
	seen_value = *seen_counter;
	*seen_counter = 7;
	gr_ctx_switch(&gp->ctx, &main_ctx);
	__builtin_trap(); /* never resumed */
}

static void run_touch(struct gr_g *gp)
{
	main_ctx.fs = gr_arch_tp();
	gr_ctx_init(&gp->ctx, gp, gp->tcb, touch_dynamic_tls, gp);
	gr_ctx_switch(&main_ctx, &gp->ctx);
}

Test(stack, dynamic_tls_block_is_freed_with_the_life)
{
	void *h = dlopen(GR_TEST_PROGS "/libtlsmod.so", RTLD_NOW);
	cr_assert_not_null(h, "%s", dlerror());
	dyn_counter = (int *(*)(void))dlsym(h, "tlsmod_counter_addr");
	size_t id = 0;
	cr_assert(dyn_counter && dlinfo(h, RTLD_DI_TLS_MODID, &id) == 0 && id > 0);
	struct gr_p p = {0};
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(&p, &req);
	cr_assert(gp && dtv_in_mapping(gp));
	run_touch(gp);
	cr_assert_eq(seen_value, 42);
	union dtv *dtv = dtv_of(gp);
	cr_assert_not_null(dtv[id].pointer.to_free, "a block allocated on first use");
	gr_stack_free_g(&p, gp);
	struct gr_g *again = gr_stack_alloc_g(&p, &req);
	cr_assert_eq(again, gp);
	cr_assert_eq(dtv_of(again), dtv, "the same dtv, emptied");
	cr_assert_null(dtv[id].pointer.to_free);
	run_touch(again);
	cr_assert_eq(seen_value, 42, "a new life sees the initial value");
	gr_stack_free_g(NULL, again);
}

/* When ld.so's modules would outgrow a dtv in G memory (past half its room), new and
 * recycled Gs get glibc's malloc'd dtv, which glibc may grow. */
Test(stack, dtv_moves_to_malloc_when_modules_outgrow_the_room)
{
	struct gr_p p = {0};
	struct gr_stack_req req = default_req();
	struct gr_g *old = gr_stack_alloc_g(&p, &req);
	cr_assert(old && dtv_in_mapping(old));
	static size_t many = 600;
	const size_t *real = gr_glibc.tls_max_dtv_idx;
	gr_glibc.tls_max_dtv_idx = &many;
	struct gr_g *fresh = gr_stack_alloc_g(NULL, &req);
	cr_assert(fresh && !dtv_in_mapping(fresh));
	gr_stack_free_g(&p, old);
	struct gr_g *again = gr_stack_alloc_g(&p, &req);
	cr_assert_eq(again, old);
	cr_assert(!dtv_in_mapping(again));
	gr_glibc.tls_max_dtv_idx = real;
	cr_assert_eq(*(int *)tls_in(again->tcb, &tls_int), 1234, "TLS still initialised");
	gr_stack_free_g(NULL, again);
	gr_stack_free_g(NULL, fresh);
}

static void count_g(struct gr_g *gp, void *arg)
{
	struct gr_g **gs = arg;

	for (int i = 0; i < 64; i++)
		if (gs[i] == gp)
			gs[64 + i] = gp; /* seen */
}

/* gr_stack_each_g visits every G that holds a tid. */
Test(stack, each_g_visits_the_recorded_gs)
{
	static struct gr_g *gs[128];
	struct gr_stack_req req = {.stack_size = gr_stack_min(), .guard_size = 0};

	for (int i = 0; i < 64; i++)
		cr_assert_not_null(gs[i] = gr_stack_alloc_g(NULL, &req));
	gr_stack_each_g(count_g, gs);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(gs[64 + i], gs[i], "G %d not visited", i);
	for (int i = 0; i < 64; i++)
		gr_stack_free_g(NULL, gs[i]);
}

/* A module with initial-exec TLS loaded while Gs exist: the bracket copies its image into
 * them (glibc initialised it only in this thread, which is on its lists). */
Test(stack, static_tls_of_a_loaded_module_reaches_existing_gs)
{
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req), *dead = gr_stack_alloc_g(NULL, &req);
	struct gr_tls_load ld;

	cr_assert(gp && dead);
	atomic_store(&dead->xstatus, GR_G_DEAD);
	gr_tls_load_begin(&ld);
	void *h = dlopen(GR_TEST_PROGS "/libtlsie.so", RTLD_NOW);
	gr_tls_load_end(&ld);
	cr_assert_not_null(h, "%s", dlerror());
	int *(*counter)(void) = (int *(*)(void))dlsym(h, "tlsmod_counter_addr");
	char *(*buf)(void) = (char *(*)(void))dlsym(h, "tlsmod_buf_addr");
	cr_assert(counter && buf);
	cr_assert_eq(*counter(), 42, "this thread: glibc's own copy");
	cr_assert_eq(*(int *)tls_in(gp->tcb, counter()), 42);
	cr_assert_str_eq((char *)tls_in(gp->tcb, buf()), "initial");
	cr_assert_eq(*(int *)tls_in(dead->tcb, counter()), 0, "an exited G is left alone");
	atomic_store(&dead->xstatus, 0);
	gr_stack_free_g(NULL, gp);
	gr_stack_free_g(NULL, dead);
}

/* Two loads that race (the second began before the first's module was in) both find the
 * module new: the image goes into the Gs once, so what a G wrote between stays. */
Test(stack, racing_loads_copy_a_module_once)
{
	struct gr_stack_req req = default_req();
	struct gr_g *gp = gr_stack_alloc_g(NULL, &req);
	struct gr_tls_load first, second;

	cr_assert_not_null(gp);
	gr_tls_load_begin(&first);
	gr_tls_load_begin(&second);
	void *h = dlopen(GR_TEST_PROGS "/libtlsie.so", RTLD_NOW);
	cr_assert_not_null(h, "%s", dlerror());
	gr_tls_load_end(&first);
	int *(*counter)(void) = (int *(*)(void))dlsym(h, "tlsmod_counter_addr");
	cr_assert_not_null(counter);
	int *in_g = tls_in(gp->tcb, counter());
	cr_assert_eq(*in_g, 42);
	*in_g = 7; /* the G's own write */
	gr_tls_load_end(&second);
	cr_assert_eq(*in_g, 7, "the second load copied the image again");
	gr_stack_free_g(NULL, gp);
}
