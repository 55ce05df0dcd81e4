/* CPU-specific primitives: context switch, thread pointer, pause, cycle counter.
 * The implementation lives in shim/arch/x86_64/. */
#ifndef GR_ARCH_H
#define GR_ARCH_H

#include <stdbool.h>
#include <stdint.h>

/* A saved execution context: the stack pointer at which gr_ctx_switch pushed the
 * callee-saved registers, and the thread pointer (fs base) to install on resume. */
struct gr_ctx {
	void *sp;
	void *fs;
};

/* Nonzero when wrfsbase is usable (AT_HWCAP2 bit 1); read by switch.S. */
extern bool gr_arch_fsgsbase;

/* Saves the current context into *from and resumes *to.  Returns when some other
 * context switches back to *from. */
void gr_ctx_switch(struct gr_ctx *from, const struct gr_ctx *to);

/* Bytes above a saved context's sp that resuming it reads back (the registers the switch
 * saved and the frames it returns through: for a park, park_wait, the hook and the
 * program's callers), and bytes below it that its first calls write.  See
 * gr_ctx_prefetch. */
#define GR_CTX_PREFETCH_UP 1024
#define GR_CTX_PREFETCH_DOWN 256

/* Starts loading, all at once, the stack lines that resuming ctx will touch, up to limit
 * (the top of its stack), and the head of its TCB.  Resumed cold, a G's returns each
 * wait for the line holding their return address before the next can start: with a
 * thousand Gs the lines come from memory, one miss after another.  Prefetches never
 * fault, so a limit that is not above sp (the main G's) only means none are made. */
static inline void gr_ctx_prefetch(const struct gr_ctx *ctx, const void *limit)
{
	const char *p = (const char *)ctx->sp - GR_CTX_PREFETCH_DOWN;
	const char *end = (const char *)ctx->sp + GR_CTX_PREFETCH_UP;

	if ((const char *)limit < end)
		end = limit;
	for (; p < end; p += 64)
		__builtin_prefetch(p, 1);
	/* Its TCB's first line, where green finds the running G (another page). */
	__builtin_prefetch(ctx->fs);
}

/* The first frame of every new context (switch.S); never called directly. */
void gr_ctx_entry(void);

/* Prepares *ctx to run fn(arg) on the stack whose highest usable address is stack_top,
 * with thread pointer fs.  fn must not return. */
static inline void gr_ctx_init(struct gr_ctx *ctx, void *stack_top, void *fs,
			       void (*fn)(void *), void *arg)
{
	/* After the final ret, rsp is 16-aligned, so gr_ctx_entry's call keeps the ABI. */
	uint64_t *sp = (uint64_t *)((uintptr_t)stack_top & ~(uintptr_t)15);
	uint32_t mxcsr = 0x1f80, fcw = 0x37f; /* the ABI's initial values */

	*--sp = (uint64_t)gr_ctx_entry; /* return address of gr_ctx_switch */
	*--sp = 0;			 /* rbp */
	*--sp = 0;			 /* rbx */
	*--sp = (uint64_t)arg;		 /* r12 */
	*--sp = (uint64_t)fn;		 /* r13 */
	*--sp = 0;			 /* r14 */
	*--sp = 0;			 /* r15 */
	*--sp = (uint64_t)fcw << 32 | mxcsr; /* bytes 6-7 zero, as switch.S saves them */
	ctx->sp = sp;
	ctx->fs = fs;
}

/* The current thread pointer: every TCB green uses holds its own address at fs:0x10. */
static inline void *gr_arch_tp(void)
{
	void *tp;
	__asm__("mov %%fs:0x10, %0" : "=r"(tp));
	return tp;
}

/* Installs a new thread pointer outside a context switch (the calls that must run on the
 * M's own TCB).  The compiler must not cache TLS addresses across this: callers are
 * noinline functions in glibc.c that touch no TLS of their own. */
void gr_arch_set_tp(void *tp);

/* The time-stamp counter (constant rate on the CPUs green supports; see timer.c). */
static inline uint64_t gr_arch_cputicks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void gr_arch_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif
