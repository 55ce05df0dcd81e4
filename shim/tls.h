/* Per-G thread control block and static TLS (see tls.c). */
#ifndef GR_TLS_H
#define GR_TLS_H

#include "runtime.h"

/* Room for a G's dtv (its table of TLS blocks by module id) in the G's own mapping, just
 * above the TCB (tls.c): GR_TLS_DTV_HEAD bytes in the TCB's page, enough for fourteen
 * modules, and GR_TLS_DTV_TAIL more above, untouched until more modules are loaded. */
#define GR_TLS_DTV_HEAD 256
#define GR_TLS_DTV_TAIL 16384

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

/* A dlopen as green brackets it: glibc gives a module loaded with static TLS (initial-exec
 * TLS, DF_STATIC_TLS) its initial image only in the threads on its own lists, which hold
 * no G.  gr_tls_load_begin notes the modules with TLS before the load; gr_tls_load_end
 * copies the image of each new static one into every live G (tls.c).  Neither touches
 * errno or dlerror. */
struct gr_tls_load {
	unsigned long long adds; /* dl_iterate_phdr's count of loads, before */
	size_t n;		 /* modules with TLS before: their ids and bases */
	struct gr_tls_mod *mods; /* NULL: unknown (no memory); the load is not followed */
};
void gr_tls_load_begin(struct gr_tls_load *ld);
void gr_tls_load_end(struct gr_tls_load *ld);

/* In the child of fork: resets the locks of the donor list and of the followed modules. */
void gr_tls_fork_child(void);

#endif
