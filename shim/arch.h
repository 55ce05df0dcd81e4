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
