/* Per-G thread control block and static TLS (see tls.c). */
#ifndef GR_TLS_H
#define GR_TLS_H

#include "runtime.h"

/* Builds gp's struct pthread at tcb, field by field, and has ld.so initialise the static
 * TLS below it.  Returns 0 or -EAGAIN (ld.so could not allocate the DTV). */
int gr_tls_init(struct gr_g *gp, void *tcb);

/* Releases what gr_tls_init allocated (the DTV, dynamic TLS blocks).  With donate, keeps
 * libc's TLS block (its malloc cache) for a future G. */
void gr_tls_fini(struct gr_g *gp, bool donate);

/* Re-initialises a recycled G's TLS for a new thread, keeping libc's block in place. */
int gr_tls_reinit(struct gr_g *gp);

/* At the start of a G, on the G: per-thread libc set-up (ctype tables). */
void gr_tls_start(void);

/* At the exit of a G, on the G: C++ thread_local destructors, TSD destructors
 * (PTHREAD_DESTRUCTOR_ITERATIONS rounds), global locale.  May run user code that parks. */
void gr_tls_exit(struct gr_g *gp);

/* Runs fn(arg) with the thread pointer set to the TCB glibc associates with the calling
 * OS thread (the M's), as the calls that need a real glibc thread require. */
void gr_tls_on_m(void (*fn)(void *), void *arg);

/* Runs fn(arg) on the M's kernel TCB, the one on glibc's thread list (set*id, fork). */
void gr_tls_on_kernel_tcb(void (*fn)(void *), void *arg);

/* In the child of fork: resets the lock of the donor list. */
void gr_tls_fork_child(void);

#endif
