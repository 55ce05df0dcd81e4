/*
 * The real libc functions that green interposes, resolved once with dlsym(RTLD_NEXT)
 * (since glibc 2.36 that returns each symbol's default version; never dlvsym with an old
 * version, which returns old code such as the pre-2.3.2 condvar).  shim/ reaches the
 * functions interpose/ exports only through this table.
 */
#ifndef GR_REAL_H
#define GR_REAL_H

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <signal.h>
#include <stdio.h>
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
	X(int, clock_getres, (clockid_t, struct timespec *))                            \
	X(int, pthread_getcpuclockid, (pthread_t, clockid_t *))                         \
	X(int, pthread_getattr_np, (pthread_t, pthread_attr_t *))                       \
	X(int, pthread_setattr_default_np, (const pthread_attr_t *))                    \
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
	X(ssize_t, write, (int, const void *, size_t))                                  \
	/* Process events (fork.c, signal.c, cancel.c). */                                 \
	X(pid_t, fork, (void))                                                          \
	X(int, pthread_kill, (pthread_t, int))                                          \
	X(int, pthread_sigqueue, (pthread_t, int, const union sigval))                  \
	X(int, pthread_cancel, (pthread_t))                                             \
	X(void, pthread_testcancel, (void))                                             \
	X(int, __register_atfork, (void (*)(void), void (*)(void), void (*)(void), void *)) \
	X(FILE *, popen, (const char *, const char *))                                  \
	GR_REAL_NETPOLL(X)

/* The netpoller's calls (interpose/io.c, socket.c, poll.c). */
#define GR_REAL_NETPOLL(X)                                                               \
	X(ssize_t, readv, (int, const struct iovec *, int))                             \
	X(ssize_t, writev, (int, const struct iovec *, int))                            \
	X(ssize_t, recv, (int, void *, size_t, int))                                    \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                                \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned, int, struct timespec *))     \
	X(ssize_t, send, (int, const void *, size_t, int))                              \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))                          \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned, int))                        \
	X(int, accept, (int, struct sockaddr *, socklen_t *))                           \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                     \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                      \
	X(int, socket, (int, int, int))                                                 \
	X(int, socketpair, (int, int, int, int *))                                      \
	X(int, setsockopt, (int, int, int, const void *, socklen_t))                    \
	X(ssize_t, sendfile, (int, int, off_t *, size_t))                               \
	X(ssize_t, splice, (int, loff_t *, int, loff_t *, size_t, unsigned))            \
	X(int, fcntl, (int, int, ...))                                                  \
	X(int, fcntl64, (int, int, ...))                                                \
	X(int, ioctl, (int, unsigned long, ...))                                        \
	X(int, pipe, (int *))                                                           \
	X(int, pipe2, (int *, int))                                                     \
	X(int, close, (int))                                                            \
	X(int, dup2, (int, int))                                                        \
	X(int, dup3, (int, int, int))                                                   \
	X(int, close_range, (unsigned, unsigned, int))                                  \
	X(void, closefrom, (int))                                                       \
	X(int, poll, (struct pollfd *, nfds_t, int))                                    \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *))           \
	X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *,    \
			 const sigset_t *))                                             \
	X(int, epoll_wait, (int, struct epoll_event *, int, int))                       \
	X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *))    \
	X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *,  \
			      const sigset_t *))

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

/*
 * The real functions of the system-call wrappers and of preemption (interpose/syscall.c,
 * futex.c, shim/preempt.c), in a table of their own that resolves itself on first use: the
 * wrappers may run before gr_init, and none of them is needed to start green.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <mqueue.h>
#include <netdb.h>

struct sembuf;
#define GR_REAL_SYS_FUNCS(X)                                                             \
	X(int, sigaction, (int, const struct sigaction *, struct sigaction *))          \
	X(__sighandler_t, signal, (int, __sighandler_t))                                \
	X(int, open, (const char *, int, ...))                                          \
	X(int, open64, (const char *, int, ...))                                        \
	X(int, openat, (int, const char *, int, ...))                                   \
	X(int, openat64, (int, const char *, int, ...))                                 \
	X(int, creat, (const char *, mode_t))                                           \
	X(int, creat64, (const char *, mode_t))                                         \
	X(ssize_t, pread, (int, void *, size_t, off_t))                                 \
	X(ssize_t, pread64, (int, void *, size_t, off_t))                               \
	X(ssize_t, pwrite, (int, const void *, size_t, off_t))                          \
	X(ssize_t, pwrite64, (int, const void *, size_t, off_t))                        \
	X(ssize_t, preadv, (int, const struct iovec *, int, off_t))                     \
	X(ssize_t, preadv64, (int, const struct iovec *, int, off_t))                   \
	X(ssize_t, pwritev, (int, const struct iovec *, int, off_t))                    \
	X(ssize_t, pwritev64, (int, const struct iovec *, int, off_t))                  \
	X(ssize_t, preadv2, (int, const struct iovec *, int, off_t, int))               \
	X(ssize_t, pwritev2, (int, const struct iovec *, int, off_t, int))              \
	X(int, fsync, (int))                                                            \
	X(int, fdatasync, (int))                                                        \
	X(void, sync, (void))                                                           \
	X(int, syncfs, (int))                                                           \
	X(int, sync_file_range, (int, off_t, off_t, unsigned int))                      \
	X(int, fallocate, (int, int, off_t, off_t))                                     \
	X(int, fallocate64, (int, int, off_t, off_t))                                   \
	X(int, posix_fallocate, (int, off_t, off_t))                                    \
	X(int, posix_fallocate64, (int, off_t, off_t))                                  \
	X(int, ftruncate, (int, off_t))                                                 \
	X(int, ftruncate64, (int, off_t))                                               \
	X(int, truncate, (const char *, off_t))                                         \
	X(int, truncate64, (const char *, off_t))                                       \
	X(int, rename, (const char *, const char *))                                    \
	X(int, renameat, (int, const char *, int, const char *))                        \
	X(int, renameat2, (int, const char *, int, const char *, unsigned int))         \
	X(int, unlink, (const char *))                                                  \
	X(int, unlinkat, (int, const char *, int))                                      \
	X(int, mkdir, (const char *, mode_t))                                           \
	X(int, mkdirat, (int, const char *, mode_t))                                    \
	X(int, rmdir, (const char *))                                                   \
	X(int, link, (const char *, const char *))                                      \
	X(int, linkat, (int, const char *, int, const char *, int))                     \
	X(int, symlink, (const char *, const char *))                                   \
	X(int, symlinkat, (const char *, int, const char *))                            \
	X(pid_t, waitpid, (pid_t, int *, int))                                          \
	X(pid_t, wait, (int *))                                                         \
	X(pid_t, wait3, (int *, int, struct rusage *))                                  \
	X(pid_t, wait4, (pid_t, int *, int, struct rusage *))                           \
	X(int, waitid, (idtype_t, id_t, siginfo_t *, int))                              \
	X(int, flock, (int, int))                                                       \
	X(int, lockf, (int, int, off_t))                                                \
	X(int, lockf64, (int, int, off_t))                                              \
	X(int, fcntl, (int, int, ...))                                                  \
	X(int, fcntl64, (int, int, ...))                                                \
	X(int, getaddrinfo, (const char *, const char *, const struct addrinfo *,       \
			     struct addrinfo **))                                       \
	X(int, getnameinfo, (const struct sockaddr *, socklen_t, char *, socklen_t,     \
			     char *, socklen_t, int))                                   \
	X(struct hostent *, gethostbyname, (const char *))                              \
	X(struct hostent *, gethostbyname2, (const char *, int))                        \
	X(int, gethostbyname_r, (const char *, struct hostent *, char *, size_t,        \
				 struct hostent **, int *))                             \
	X(int, gethostbyname2_r, (const char *, int, struct hostent *, char *, size_t,  \
				  struct hostent **, int *))                            \
	X(struct hostent *, gethostbyaddr, (const void *, socklen_t, int))              \
	X(int, system, (const char *))                                                  \
	X(int, pclose, (FILE *))                                                        \
	X(ssize_t, msgrcv, (int, void *, size_t, long, int))                            \
	X(int, msgsnd, (int, const void *, size_t, int))                                \
	X(int, semop, (int, struct sembuf *, size_t))                                   \
	X(int, semtimedop, (int, struct sembuf *, size_t, const struct timespec *))     \
	X(ssize_t, mq_receive, (mqd_t, char *, size_t, unsigned int *))                 \
	X(int, mq_send, (mqd_t, const char *, size_t, unsigned int))                    \
	X(ssize_t, mq_timedreceive, (mqd_t, char *, size_t, unsigned int *,             \
				     const struct timespec *))                          \
	X(int, mq_timedsend, (mqd_t, const char *, size_t, unsigned int,                \
			      const struct timespec *))                                 \
	X(int, sigsuspend, (const sigset_t *))                                          \
	X(int, pause, (void))                                                           \
	X(void *, dlopen, (const char *, int))                                          \
	X(void *, dlmopen, (Lmid_t, const char *, int))                                 \
	X(long, syscall, (long, ...))

#define GR_REAL_FIELD(ret, name, args) ret(*name) args;
struct gr_real_sys {
	GR_REAL_SYS_FUNCS(GR_REAL_FIELD)
};
#undef GR_REAL_FIELD

extern struct gr_real_sys gr_real_sys_table;
extern _Atomic int gr_real_sys_ready;

/* Resolves gr_real_sys_table (idempotent; any thread).  A missing symbol stays NULL. */
void gr_real_sys_init(void);

static inline const struct gr_real_sys *gr_real_sys(void)
{
	if (!__atomic_load_n(&gr_real_sys_ready, __ATOMIC_ACQUIRE))
		gr_real_sys_init();
	return &gr_real_sys_table;
}
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
