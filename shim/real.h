/*
 * The real libc functions that green interposes, resolved once with dlsym(RTLD_NEXT)
 * (since glibc 2.36 that returns each symbol's default version; never dlvsym with an old
 * version, which returns old code such as the pre-2.3.2 condvar).  shim/ reaches the
 * functions interpose/ exports only through this table.
 */
#ifndef GR_REAL_H
#define GR_REAL_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#define GR_REAL_FUNCS(X)                                                                 \
	X(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
	X(void, pthread_exit, (void *))                                                 \
	X(int, pthread_join, (pthread_t, void **))                                      \
	X(int, pthread_detach, (pthread_t))                                             \
	X(int, nanosleep, (const struct timespec *, struct timespec *))                 \
	X(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *)) \
	X(int, sched_yield, (void))                                                     \
	X(int, setuid, (uid_t))                                                         \
	X(int, setgid, (gid_t))                                                         \
	X(int, seteuid, (uid_t))                                                        \
	X(int, setegid, (gid_t))                                                        \
	X(int, setreuid, (uid_t, uid_t))                                                \
	X(int, setregid, (gid_t, gid_t))                                                \
	X(int, setresuid, (uid_t, uid_t, uid_t))                                        \
	X(int, setresgid, (gid_t, gid_t, gid_t))                                        \
	X(int, setgroups, (size_t, const gid_t *))                                      \
	X(int, clock_gettime, (clockid_t, struct timespec *))                           \
	X(int, pthread_getattr_np, (pthread_t, pthread_attr_t *))                       \
	X(int, pthread_setname_np, (pthread_t, const char *))                           \
	X(int, pthread_getname_np, (pthread_t, char *, size_t))                         \
	X(int, pthread_setschedparam, (pthread_t, int, const struct sched_param *))     \
	X(int, pthread_getschedparam, (pthread_t, int *, struct sched_param *))         \
	X(int, pthread_setschedprio, (pthread_t, int))                                  \
	X(int, pthread_setaffinity_np, (pthread_t, size_t, const cpu_set_t *))          \
	X(int, pthread_getaffinity_np, (pthread_t, size_t, cpu_set_t *))               \
	X(int, pthread_mutex_lock, (pthread_mutex_t *))                                 \
	X(int, pthread_mutex_trylock, (pthread_mutex_t *))                              \
	X(int, pthread_mutex_unlock, (pthread_mutex_t *))                               \
	X(int, pthread_mutex_clocklock, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
	X(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *))                \
	X(int, pthread_cond_clockwait,                                                  \
	  (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *))   \
	X(int, pthread_cond_signal, (pthread_cond_t *))                                 \
	X(int, pthread_cond_broadcast, (pthread_cond_t *))                              \
	X(int, pthread_once, (pthread_once_t *, void (*)(void)))                         \
	X(ssize_t, read, (int, void *, size_t))                                         \
	X(ssize_t, write, (int, const void *, size_t))

#define GR_REAL_FIELD(ret, name, args) ret(*name) args;
struct gr_real {
	GR_REAL_FUNCS(GR_REAL_FIELD)
};
#undef GR_REAL_FIELD

extern struct gr_real gr_real;

/* Fills gr_real.  Returns 0 or -ENOSYS naming the missing symbol on stderr. */
int gr_real_init(void);

/* Writes up to three strings to stderr with a raw write (no stdio, no malloc). */
void gr_real_msg(const char *a, const char *b, const char *c);

/* ---- synchronization (interpose/rwlock.c, barrier.c, spin.c, sem.c) ----------------
 * glibc's own functions for calls made before green is ready (or when it could not
 * start).  A separate table, resolved on first use by gr_real_sync_init (futex.c), so
 * this block needs nothing from real.c. */
#include <semaphore.h>

#define GR_REAL_SYNC_FUNCS(X)                                                            \
	X(int, pthread_rwlock_rdlock, (pthread_rwlock_t *))                              \
	X(int, pthread_rwlock_wrlock, (pthread_rwlock_t *))                              \
	X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t *))                           \
	X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t *))                           \
	X(int, pthread_rwlock_clockrdlock,                                              \
	  (pthread_rwlock_t *, clockid_t, const struct timespec *))                     \
	X(int, pthread_rwlock_clockwrlock,                                              \
	  (pthread_rwlock_t *, clockid_t, const struct timespec *))                     \
	X(int, pthread_rwlock_unlock, (pthread_rwlock_t *))                              \
	X(int, pthread_spin_lock, (pthread_spinlock_t *))                                \
	X(int, sem_wait, (sem_t *))                                                      \
	X(int, sem_clockwait, (sem_t *, clockid_t, const struct timespec *))             \
	X(int, sem_post, (sem_t *))                                                      \
	X(long, syscall, (long, ...))

#define GR_REAL_FIELD(ret, name, args) ret(*name) args;
struct gr_real_sync {
	GR_REAL_SYNC_FUNCS(GR_REAL_FIELD)
};
#undef GR_REAL_FIELD

extern struct gr_real_sync gr_real_sync;

/* Fills gr_real_sync once; any thread, any time. */
void gr_real_sync_init(void);

#endif
