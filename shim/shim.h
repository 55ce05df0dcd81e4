/*
 * The contract interpose/ calls: the only shim header interpose/ includes.  Everything
 * here returns 0 or a positive POSIX error code unless it says otherwise, and never
 * touches errno (the interposers convert at the edge).
 */
#ifndef GR_SHIM_H
#define GR_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fd.h"
#include "netpoll.h"
#include "fork.h"
#include "park.h"
#include "preempt.h"
#include "proc.h"
#include "real.h"
#include "runtime.h"
#include "sig.h"
#include "sync.h"
#include "thread.h"
#include "timer.h"

/* Starts green (once; any thread may call it).  Returns true when green runs the
 * program's threads, false while starting up or when it could not start (then every
 * interposer passes straight through to glibc). */
bool gr_init(void);

/* Fast check used by every interposer. */
extern _Atomic int gr_init_state;
#define GR_INIT_READY 2
static inline bool gr_is_ready(void)
{
	return __builtin_expect(atomic_load_explicit(&gr_init_state, memory_order_acquire) ==
					GR_INIT_READY,
				1) ||
	       gr_init();
}

/* Runs fn(arg) on the calling M's kernel TCB (set*id, fork). */
void gr_tls_on_kernel_tcb(void (*fn)(void *), void *arg);

#endif
