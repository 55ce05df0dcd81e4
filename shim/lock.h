/*
 * Runtime-internal locks and assertions.
 *
 * gr_lock is a small mutex for the scheduler's own data (run queues, wait-queue buckets,
 * timer heaps).  Critical sections are a few hundred nanoseconds at most, so it spins
 * first and only then sleeps its OS thread on a private kernel futex.  A lock may be taken
 * on a G and released on the same M's g0 (gr_park hands its bucket lock to g0), so the
 * owner recorded for GR_ASSERT_HELD is the OS thread, not the G.
 */
#ifndef GR_LOCK_H
#define GR_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* 4 bytes in a release build: locks are embedded by the thousand (a wait-queue bucket, a
 * descriptor's state), and only GR_ASSERT_HELD, compiled in from DEBUG=1, reads the owner. */
struct gr_lock {
	_Atomic uint32_t xstate; /* 0 free, 1 locked, 2 locked with sleepers */
#if GR_DEBUG >= 1
	const void *owner; /* the OS thread holding it (see gr_lock_self) */
#endif
};

#define GR_LOCK_INIT {0}

void gr_lock(struct gr_lock *l);
void gr_unlock(struct gr_lock *l);
bool gr_trylock(struct gr_lock *l);

/* An identity for the calling OS thread, stable while a G switches to its g0. */
const void *gr_lock_self(void);

/* Writes "green: fatal: msg" with a raw write(2) and aborts: for broken invariants. */
__attribute__((noreturn)) void gr_throw(const char *msg);

#define GR_STR2(x) #x
#define GR_STR(x) GR_STR2(x)
#define GR_ASSERT(x)                                                                     \
	do {                                                                             \
		if (__builtin_expect(!(x), 0))                                           \
			gr_throw("assertion failed: " #x " at " __FILE__ ":" GR_STR(__LINE__)); \
	} while (0)

#if GR_DEBUG >= 1
#define GR_DASSERT(x) GR_ASSERT(x)
#define GR_ASSERT_HELD(l) GR_ASSERT((l)->owner == gr_lock_self())
#else
#define GR_DASSERT(x) ((void)0)
#define GR_ASSERT_HELD(l) ((void)0)
#endif
#if GR_DEBUG >= 2
#define GR_XASSERT(x) GR_ASSERT(x)
#else
#define GR_XASSERT(x) ((void)0)
#endif

/* Private futex helpers for green's own words (runtime-internal, no errno).
 * gr_futex_wait sleeps while *addr == val, until woken or the CLOCK_MONOTONIC absolute
 * deadline (ns; 0 = none) passes.  Returns 0, -ETIMEDOUT, -EAGAIN or -EINTR. */
int gr_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
void gr_futex_wake(_Atomic uint32_t *addr, int n);

#endif
