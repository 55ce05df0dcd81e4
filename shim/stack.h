/* G memory: one mapping per G holding its stack, static TLS and TCB (see stack.c). */
#ifndef GR_STACK_H
#define GR_STACK_H

#include "runtime.h"

struct gr_stack_req {
	size_t stack_size; /* usable size the program asked for (pthread_attr_setstacksize) */
	size_t guard_size; /* pthread_attr_setguardsize */
	void *user_addr;   /* pthread_attr_setstack: the program's memory, or NULL */
	size_t user_size;
};

/* Allocates a G with its memory and TLS initialised, from pp's cache when a G of the same
 * size is there (pp may be NULL).  Returns NULL when memory or address space runs out. */
struct gr_g *gr_stack_alloc_g(struct gr_p *pp, const struct gr_stack_req *req);

/* Returns a dead G's memory: to pp's cache, the global cache, or the kernel.  pp may be
 * NULL.  Must not run on gp's own stack. */
void gr_stack_free_g(struct gr_p *pp, struct gr_g *gp);

/* Returns cached G memory beyond a warm reserve to the kernel, a batch at a time, once the
 * global cache has gone unused for a while.  Called by sysmon each tick (no P needed). */
void gr_stack_scavenge(int64_t now);

/* Records the kernel's tid as gp's: the main G's (the pid), the forking G's in a child. */
void gr_stack_adopt_tid(struct gr_g *gp, pid_t tid);

/* The live G owning a fake tid, or NULL. */
struct gr_g *gr_stack_g_by_tid(pid_t tid);

/* Calls fn(gp, arg) for every G with a recorded tid: the live ones and the exited ones
 * whose memory a cache keeps.  Runs under the tid table's lock, which fn must not take:
 * no G leaves the table, nor its memory the process, meanwhile. */
void gr_stack_each_g(void (*fn)(struct gr_g *gp, void *arg), void *arg);

/* The size of gp's stack block as glibc reports one, from gp->map_base (or the program's
 * stack) up: guard, stack, the G, TLS and TCB; the dtv's room above is not part of it. */
size_t gr_stack_block(const struct gr_g *gp);

/* The smallest stack a G can have: static TLS, the G and PTHREAD_STACK_MIN of stack. */
size_t gr_stack_min(void);

/* Page size, and round-up to it. */
size_t gr_stack_page(void);

/* In the child of fork: forgets the global cache of dead Gs, resets its locks, and gives
 * gp (the one G left) the child's pid as its id, as the kernel gives the child's thread. */
void gr_stack_fork_child(struct gr_g *gp);

#endif
