/* Thread lifecycle: create, join, detach, exit, and the per-G attributes. */
#ifndef GR_THREAD_H
#define GR_THREAD_H

#include <pthread.h>

#include "runtime.h"

struct gr_thread_attr {
	size_t stack_size;  /* usable stack; 0: the default */
	size_t guard_size;
	void *stack_addr;   /* pthread_attr_setstack: lowest address, or NULL */
	bool detached;
	bool explicit_sched;
	int policy, priority;
	cpu_set_t *affinity; /* copied */
	size_t affinity_size;
};

/* Creates a G running start(arg) and stores its pthread_t in *out before it can run.
 * c11: start is a thrd_start_t returning int.  Returns 0, EAGAIN or EINVAL. */
int gr_thread_create(pthread_t *out, const struct gr_thread_attr *attr, void *(*start)(void *),
		     void *arg, bool c11);

/* The G behind a pthread_t, or NULL when it is not a G green created (a foreign thread
 * or the main thread before green started: glibc's own functions apply). */
struct gr_g *gr_thread_g(pthread_t t);

/* Joins gp.  deadline: monotonic ns, 0 = none; try: EBUSY instead of waiting.  Returns 0,
 * EDEADLK, EINVAL, EBUSY or ETIMEDOUT.  May park. */
int gr_thread_join(struct gr_g *gp, void **result, int64_t deadline, bool try);

/* Returns 0 or EINVAL (already detached, or being joined). */
int gr_thread_detach(struct gr_g *gp);

/* pthread_exit in a G green created or in the main G.  Never returns. */
__attribute__((noreturn)) void gr_thread_exit(void *result);

/* The stack pthread_getattr_np reports: the whole block above the guard, TLS included,
 * as glibc reports it. */
void gr_thread_stack(struct gr_g *gp, void **lo, size_t *size);

/* The calling thread's id as the program sees it (gettid, syscall(SYS_gettid)): a G's
 * own (the main G's is the pid, as natively; others' are fake, above pid_max), the
 * kernel's for a thread green did not create and for g0. */
pid_t gr_thread_gettid(void);

/* set_tid_address(2) for the calling thread.  A G records addr as its clear_child_tid,
 * which its exit zeroes and wakes with a shared FUTEX_WAKE of 1 (the kernel's) after
 * every destructor ran (the main G's pthread_exit leaves it alone: glibc ends the OS
 * thread after green's last word).  The kernel's word is the M's, never changed.  Any
 * other thread asks the kernel.  Returns the caller's tid, as gr_thread_gettid. */
pid_t gr_thread_set_tid_address(int *addr);

/* prctl(PR_GET_TID_ADDRESS) for the calling G: stores its clear_child_tid in *addr and
 * returns true.  Returns false for a thread that is not a G: the kernel's answer is
 * right there. */
bool gr_thread_tid_address(int **addr);

/* The default stack size for new Gs (GREEN_STACKSIZE, else RLIMIT_STACK, as glibc). */
size_t gr_thread_default_stack(void);
void gr_thread_set_default_stack(size_t size);

#endif
