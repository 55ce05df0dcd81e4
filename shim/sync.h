/*
 * Synchronization objects on the parking primitive, in glibc's object layouts (so static
 * initializers and zeroed objects work unchanged, and each object keeps glibc's size):
 * mutexes, condition variables, read-write locks, barriers, spinlocks, semaphores,
 * once-control, and the futex emulation behind syscall(SYS_futex).
 *
 * Every object is written futex-style: an atomic word, and "wait while the word holds v"
 * / "wake n" on it (gr_word_wait/gr_word_wake).  A private object waits on the parking
 * table (the G parks, its M runs other Gs); a process-shared one waits on the kernel
 * futex (no FUTEX_PRIVATE_FLAG: the other process may be native glibc or another green
 * program) inside gr_entersyscall/gr_exitsyscall, so the P goes to another M meanwhile.
 *
 * All functions return 0 or a positive POSIX error code (EBUSY, EDEADLK, EPERM,
 * ETIMEDOUT, EINVAL, EAGAIN, EOWNERDEAD, ENOTRECOVERABLE, EOVERFLOW) unless they say
 * otherwise.  Deadlines are CLOCK_MONOTONIC nanoseconds; 0 means none.
 */
#ifndef GR_SYNC_H
#define GR_SYNC_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "park.h"

/* ---- futex-style words --------------------------------------------------------------- */

/* The check of a private word wait, made under the queue's lock: *addr still holds the
 * value passed as arg. */
bool gr_word_is(const void *addr, void *arg);

/* gr_word_wait of a process-shared word: the kernel futex, with the P handed off. */
int gr_word_kwait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);

static inline int gr_word_result(int r)
{
	return r == -ETIMEDOUT || r == -EINTR ? r : 0;
}

/* Waits while *addr == val, until woken or deadline.  shared: the kernel futex (process-
 * shared memory) with the P handed off; else the parking table.  Returns 0 (woken, or the
 * word differed: the caller re-checks), -ETIMEDOUT, or -EINTR (kernel, shared only).
 * Inline, as is gr_word_wait_intr: a waiting G's frames between its code and its switch
 * are cache lines to bring back when it resumes (see struct gr_g), so a private wait
 * goes straight to the parking table. */
static inline int gr_word_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
			       bool shared)
{
	if (shared)
		return gr_word_kwait(addr, val, deadline);
	return gr_word_result(gr_park_wait(addr, gr_word_is, (void *)(uintptr_t)val, deadline, 0));
}

/* gr_word_wait that a signal or a cancellation request ends early with -EINTR (see
 * gr_park_wait_intr): for the waits that are cancellation points or EINTR-able. */
static inline int gr_word_wait_intr(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
				    bool shared)
{
	if (shared)
		return gr_word_kwait(addr, val, deadline);
	return gr_word_result(
		gr_park_wait_intr(addr, gr_word_is, (void *)(uintptr_t)val, deadline, 0));
}

/* Wakes up to n waiters of addr.  Returns how many were woken (parking table) or the
 * kernel's count. */
int gr_word_wake(_Atomic uint32_t *addr, int n, bool shared);

/* The kernel futex with the system-call hand-off.  op: FUTEX_* (shared, no private flag
 * added).  Returns the kernel's value (>= 0 or -errno). */
long gr_kfutex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts,
               _Atomic uint32_t *addr2, uint32_t val3);

/* A timeout as given to a pthread function, made a deadline: like gr_deadline, but a
 * deadline too far to represent (tv_sec near LONG_MAX, "forever") becomes 0 (none).
 * Returns -EINVAL for a malformed timespec or an unsupported clock. */
int64_t gr_sync_deadline(clockid_t clock, const struct timespec *ts, bool abs);

/* A spin-wait step: pause; after a few hundred, yield the P (gr_yield) so a lock holder
 * descheduled on this P can run.  i: the caller's iteration count. */
void gr_spin_pause(unsigned i);

/* ---- mutexes ----------------------------------------------------------------------- */

/* glibc's struct __pthread_mutex_s (40 bytes on x86-64); green uses its fields as glibc
 * does (lock word, recursion count, owner tid, kind) plus: nusers holds the robust state
 * (GR_ROBUST_*), elision the priority ceiling, list_* the robust list of the owner. */
struct gr_mutex {
	/* Private mutexes: bit 1 locked; 2 waiters may be parked; 4 starvation mode (on a
	 * locked word: unlock hands the lock to the oldest waiter); 8 a woken or spinning
	 * waiter is on its way (unlock wakes nobody else); 16 the holder took it in its
	 * slow path (the next contender parks without spinning).  A free word may carry 2
	 * and 8 (mutex.c).  Process-shared ones use glibc's 0/1/2 (and the kernel futex),
	 * so a native glibc process can share them. */
	_Atomic int xlock;
	unsigned count;     /* recursion depth (recursive kind), owned by the owner */
	_Atomic int xowner; /* tid of the owner (fake tid for Gs), 0 when free */
	unsigned nusers;    /* robust mutexes: GR_ROBUST_*; written by the owner */
	int kind;           /* PTHREAD_MUTEX_* type in the low 2 bits, glibc's flags above */
	/* Private mutexes: the gr_park_gen in which WOKEN was last set (mutex.c). */
	short spins;
	short elision; /* the priority ceiling of a PTHREAD_PRIO_PROTECT mutex */
	struct gr_mutex *list_prev, *list_next; /* robust list of the owner; owned by it */
};
_Static_assert(sizeof(struct gr_mutex) == sizeof(pthread_mutex_t), "mutex ABI");
_Static_assert(__builtin_offsetof(struct gr_mutex, kind) == 16, "mutex kind offset");
_Static_assert(__builtin_offsetof(struct gr_mutex, xowner) == 8, "mutex owner offset");

#define GR_MUTEX_KIND_MASK 3     /* glibc: PTHREAD_MUTEX_KIND_MASK_NP */
#define GR_MUTEX_ROBUST    16    /* glibc: PTHREAD_MUTEX_ROBUST_NORMAL_NP */
#define GR_MUTEX_PI        32    /* glibc: PTHREAD_MUTEX_PRIO_INHERIT_NP */
#define GR_MUTEX_PP        64    /* glibc: PTHREAD_MUTEX_PRIO_PROTECT_NP */
#define GR_MUTEX_PSHARED   128   /* glibc: PTHREAD_MUTEX_PSHARED_BIT */
#define GR_MUTEX_ELISION   0x300 /* glibc: PTHREAD_MUTEX_ELISION_FLAGS_NP (ignored) */

/* Robust state in gr_mutex.nusers (robust mutexes only). */
#define GR_ROBUST_OK             0
#define GR_ROBUST_DIED           1 /* the owner ended holding it; the next locker gets EOWNERDEAD */
#define GR_ROBUST_INCONSISTENT   2 /* held after EOWNERDEAD; pthread_mutex_consistent clears */
#define GR_ROBUST_NOTRECOVERABLE 3 /* unlocked while inconsistent: ENOTRECOVERABLE for all */

static inline struct gr_mutex *gr_mutex_of(pthread_mutex_t *m)
{
	return (struct gr_mutex *)m;
}

int gr_mutex_init(struct gr_mutex *m, const pthread_mutexattr_t *attr);
/* EBUSY while locked. */
int gr_mutex_destroy(struct gr_mutex *m);
/* May park.  EDEADLK, EAGAIN (recursion overflow), ETIMEDOUT, EOWNERDEAD, ENOTRECOVERABLE,
 * EINVAL (a destroyed or corrupt mutex). */
int gr_mutex_lock(struct gr_mutex *m, int64_t deadline);
int gr_mutex_trylock(struct gr_mutex *m);
/* pthread_mutex_clocklock: EINVAL for another clock, or for a bad timespec when the lock
 * is not free (glibc's order). */
int gr_mutex_clocklock(struct gr_mutex *m, clockid_t clock, const struct timespec *abstime);
int gr_mutex_unlock(struct gr_mutex *m);
int gr_mutex_consistent(struct gr_mutex *m);
int gr_mutex_getprioceiling(const struct gr_mutex *m, int *ceiling);
int gr_mutex_setprioceiling(struct gr_mutex *m, int ceiling, int *old);
/* True when the calling thread holds m (recursive and error-checking answers). */
bool gr_mutex_held(const struct gr_mutex *m);
/* Called as gp exits (thread.c g_finish): marks every robust mutex it still holds as
 * owner-died and releases it, waking a waiter (which gets EOWNERDEAD). */
void gr_mutex_robust_exit(struct gr_g *gp);

/* ---- condition variables ----------------------------------------------------------- */

/* glibc's condvar is 48 bytes: green keeps a wake sequence in the low word of __wseq, a
 * count of kernel-futex waiters (process-shared only) in the next word, and glibc's flag
 * bits in __wrefs (bit 0 process-shared, bit 1 CLOCK_MONOTONIC), where
 * pthread_cond_init puts them. */
struct gr_cond {
	_Atomic uint32_t xseq;
	_Atomic uint32_t xkwaiters;
	uint32_t unused0[7];
	uint32_t wrefs;
	uint32_t unused1[2];
};
_Static_assert(sizeof(struct gr_cond) == sizeof(pthread_cond_t), "cond ABI");
_Static_assert(__builtin_offsetof(struct gr_cond, wrefs) == 36, "cond __wrefs offset");

#define GR_COND_SHARED    1u
#define GR_COND_MONOTONIC 2u

static inline struct gr_cond *gr_cond_of(pthread_cond_t *c)
{
	return (struct gr_cond *)c;
}

int gr_cond_init(struct gr_cond *c, const pthread_condattr_t *attr);
int gr_cond_destroy(struct gr_cond *c);
/* May park.  Returns ETIMEDOUT, EPERM (an error-checking mutex not held), or what
 * re-locking the mutex returned (EOWNERDEAD). */
int gr_cond_wait(struct gr_cond *c, struct gr_mutex *m, int64_t deadline);
int gr_cond_signal(struct gr_cond *c);
int gr_cond_broadcast(struct gr_cond *c);
/* The clock the condvar's timed waits measure (pthread_condattr_setclock). */
clockid_t gr_cond_clock(const struct gr_cond *c);

/* ---- read-write locks -------------------------------------------------------------- */

/* glibc's pthread_rwlock_t (56 bytes).  green keeps its own state in the first words and
 * glibc's __cur_writer (24), __shared (28) and __flags (48, the kind) where glibc's
 * initializers and attribute functions put them. */
struct gr_rwlock {
	_Atomic uint32_t xlock; /* internal word lock: 0 free, 1 held, 2 held + waiters */
	uint32_t readers;       /* readers holding it; under xlock */
	uint32_t rwaiting;      /* readers parked; under xlock */
	uint32_t wwaiting;      /* writers parked; under xlock */
	_Atomic uint32_t xrseq; /* bumped to wake readers */
	_Atomic uint32_t xwseq; /* bumped to wake writers */
	int cur_writer;         /* tid of the writer holding it, 0 if none; under xlock */
	int shared;             /* glibc: __shared, FUTEX_PRIVATE_FLAG (glibc's FUTEX_SHARED)
				     * when process-shared, else 0 */
	uint64_t unused[2];
	unsigned flags; /* glibc: __flags, PTHREAD_RWLOCK_PREFER_* */
	unsigned unused1;
};
_Static_assert(sizeof(struct gr_rwlock) == sizeof(pthread_rwlock_t), "rwlock ABI");
_Static_assert(__builtin_offsetof(struct gr_rwlock, cur_writer) == 24, "rwlock __cur_writer");
_Static_assert(__builtin_offsetof(struct gr_rwlock, shared) == 28, "rwlock __shared");
_Static_assert(__builtin_offsetof(struct gr_rwlock, flags) == 48, "rwlock __flags");

static inline struct gr_rwlock *gr_rwlock_of(pthread_rwlock_t *l)
{
	return (struct gr_rwlock *)l;
}

int gr_rwlock_init(struct gr_rwlock *l, const pthread_rwlockattr_t *attr);
int gr_rwlock_destroy(struct gr_rwlock *l);
/* May park.  EDEADLK, EAGAIN (too many readers), ETIMEDOUT. */
int gr_rwlock_rdlock(struct gr_rwlock *l, int64_t deadline);
int gr_rwlock_wrlock(struct gr_rwlock *l, int64_t deadline);
int gr_rwlock_tryrdlock(struct gr_rwlock *l);
int gr_rwlock_trywrlock(struct gr_rwlock *l);
int gr_rwlock_unlock(struct gr_rwlock *l);
/* The EDEADLK check glibc makes before validating a timeout. */
bool gr_rwlock_held_for_write(const struct gr_rwlock *l);

/* ---- barriers, spinlocks ----------------------------------------------------------- */

/* glibc's pthread_barrier_t is 32 bytes.  xstate: the round in the high 32 bits, the
 * threads arrived in this round in the low 32; waiters wait on the high word. */
struct gr_barrier {
	_Atomic uint64_t xstate;
	uint32_t count;  /* threads per round */
	uint32_t shared; /* process-shared */
	uint64_t unused[2];
};
_Static_assert(sizeof(struct gr_barrier) == sizeof(pthread_barrier_t), "barrier ABI");

int gr_barrier_init(struct gr_barrier *b, const pthread_barrierattr_t *attr, unsigned count);
int gr_barrier_destroy(struct gr_barrier *b);
/* May park.  Returns PTHREAD_BARRIER_SERIAL_THREAD to exactly one thread per round. */
int gr_barrier_wait(struct gr_barrier *b);
/* The same on the kernel futex when kernel is true (process-shared, or before green is
 * ready, when the calling thread must not be adopted). */
int gr_barrier_wait_kernel(struct gr_barrier *b, bool kernel);

_Static_assert(sizeof(pthread_spinlock_t) == 4, "spinlock ABI");
int gr_spin_lock(_Atomic int *l);
int gr_spin_trylock(_Atomic int *l);
int gr_spin_unlock(_Atomic int *l);

/* ---- semaphores -------------------------------------------------------------------- */

/* glibc's struct new_sem (x86-64): the value in the low 32 bits of data, the number of
 * waiters in the high 32, then private (glibc's FUTEX_PRIVATE, 0, or FUTEX_SHARED, which
 * is FUTEX_PRIVATE_FLAG, as in sem_open's objects).  green keeps glibc's protocol exactly, so a named
 * semaphore can be shared with a native process. */
struct gr_sem {
	_Atomic uint64_t xdata;
	int private;
	int pad;
	uint64_t unused[2];
};
_Static_assert(sizeof(struct gr_sem) == sizeof(sem_t), "sem_t ABI");

int gr_sem_init(struct gr_sem *s, int pshared, unsigned value);
/* May park.  ETIMEDOUT, EINTR (process-shared, kernel). */
int gr_sem_wait(struct gr_sem *s, int64_t deadline);
int gr_sem_trywait(struct gr_sem *s);
int gr_sem_post(struct gr_sem *s);
int gr_sem_getvalue(struct gr_sem *s, int *value);

/* ---- once -------------------------------------------------------------------------- */

/* pthread_once and call_once; init may park.  May park waiting for another caller.
 * If init is cancelled (pthread_exit, pthread_cancel), the control is reset to "not run"
 * and a waiter runs it instead, as glibc does. */
int gr_once(_Atomic int *once, void (*init)(void));
_Static_assert(sizeof(pthread_once_t) == 4, "once ABI");

/* ---- futex emulation --------------------------------------------------------------- */

/* syscall(SYS_futex, uaddr, op, val, timeout/val2, uaddr2, val3).  Private futex
 * operations (FUTEX_PRIVATE_FLAG) WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE,
 * CMP_REQUEUE and WAKE_OP run on the parking table; everything else goes to the kernel
 * with the system-call hand-off.  Returns the kernel's convention: >= 0 or -errno. */
long gr_futex(uint32_t *uaddr, int op, uint32_t val, long arg4, uint32_t *uaddr2, uint32_t val3);

#endif
