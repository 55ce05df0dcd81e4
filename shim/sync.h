/*
 * Mutexes, condition variables and once-control on the parking primitive, in glibc's
 * object layouts (so static initializers and zeroed objects work unchanged).
 * All return 0 or a positive POSIX error code (EBUSY, EDEADLK, EPERM, ETIMEDOUT,
 * EINVAL, EAGAIN), as the pthread functions do.
 */
#ifndef GR_SYNC_H
#define GR_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* glibc's struct __pthread_mutex_s (40 bytes on x86-64); green uses its fields as
 * glibc does: lock word, recursion count, owner tid, kind. */
struct gr_mutex {
	_Atomic int xlock;  /* 0 free, 1 locked, 2 locked and someone may be parked */
	unsigned count;	    /* recursion depth (recursive kind), owned by the owner */
	_Atomic int xowner; /* tid of the owner (fake tid for Gs), 0 when free */
	unsigned nusers;
	int kind;	    /* PTHREAD_MUTEX_* type in the low 7 bits, glibc's flags above */
	short spins;
	short elision;
	void *list_prev, *list_next;
};
_Static_assert(sizeof(struct gr_mutex) == sizeof(pthread_mutex_t), "mutex ABI");
_Static_assert(__builtin_offsetof(struct gr_mutex, kind) == 16, "mutex kind offset");

/* glibc's condvar is 48 bytes: green keeps a wake sequence in the low word of __wseq and
 * glibc's flag bits in __wrefs (bit 0 process-shared, bit 1 CLOCK_MONOTONIC). */
struct gr_cond {
	_Atomic uint32_t xseq;
	uint32_t unused0[8];
	uint32_t wrefs;
	uint32_t unused1[2];
};
_Static_assert(sizeof(struct gr_cond) == sizeof(pthread_cond_t), "cond ABI");
_Static_assert(__builtin_offsetof(struct gr_cond, wrefs) == 36, "cond __wrefs offset");

#define GR_COND_MONOTONIC 2u
#define GR_MUTEX_KIND_MASK 3 /* glibc: PTHREAD_MUTEX_KIND_MASK_NP */

static inline struct gr_mutex *gr_mutex_of(pthread_mutex_t *m)
{
	return (struct gr_mutex *)m;
}

static inline struct gr_cond *gr_cond_of(pthread_cond_t *c)
{
	return (struct gr_cond *)c;
}

int gr_mutex_init(struct gr_mutex *m, const pthread_mutexattr_t *attr);
int gr_mutex_destroy(struct gr_mutex *m);
/* deadline: monotonic ns, 0 = none.  May park. */
int gr_mutex_lock(struct gr_mutex *m, int64_t deadline);
int gr_mutex_trylock(struct gr_mutex *m);
int gr_mutex_unlock(struct gr_mutex *m);

int gr_cond_init(struct gr_cond *c, const pthread_condattr_t *attr);
int gr_cond_destroy(struct gr_cond *c);
/* deadline: monotonic ns, 0 = none.  May park. */
int gr_cond_wait(struct gr_cond *c, struct gr_mutex *m, int64_t deadline);
int gr_cond_signal(struct gr_cond *c);
int gr_cond_broadcast(struct gr_cond *c);
/* The clock the condvar's timed waits measure (pthread_condattr_setclock). */
clockid_t gr_cond_clock(const struct gr_cond *c);

/* pthread_once and call_once; init may park.  May park waiting for another caller. */
int gr_once(_Atomic int *once, void (*init)(void));

#endif
