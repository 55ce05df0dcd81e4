/*
 * Blocking system calls that no poller can wait for: regular-file and directory
 * operations, process waits, file locks, System V and POSIX message queues and
 * semaphores, name resolution, system/pclose (sigsuspend/pause: signal.c).  Each is bracketed by
 * gr_entersyscall/gr_exitsyscall (shim/proc.c, Go's entersyscall/exitsyscall): the P
 * stays with the M for a call that returns quickly, and sysmon hands it to another M when
 * the call blocks for more than a tick.  Calls that wait for something unbounded (waits
 * without WNOHANG, blocking locks, message queues, DNS, sigsuspend, system) hand the P off
 * at once, as Go's entersyscallblock does.  fsync and friends stay lazy: a hand-off costs
 * a wake-up of another M, and a call that returns before sysmon's next look keeps its P
 * without one (a G whose P was taken meanwhile is served first: proc.c).  errno is the
 * G's own (per-G TLS) and is preserved across the exit bracket, which may move the G to
 * another M.
 *
 * Not here: read/write/readv/writev, sockets and poll (io.c, the netpoller), the sleep
 * family (sleep.c), syscall() (the futex emulation), signal waits beyond the plain
 * bracket (the signals work).  fcntl brackets only F_SETLKW and F_OFD_SETLKW: every other
 * command returns at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interpose.h"

/* Defines an interposer that brackets the real call.  args repeats params' names.  When
 * blocks (an expression of the arguments) is true, the call is expected to block and the
 * P is handed off at once (gr_entersyscallblock); otherwise sysmon retakes it only if the
 * call outlasts a tick. */
#define GR_SYSCALL_WRAP_IF(ret, name, params, args, blocks)                              \
	GR_SYSCALL_WRAP_AGAIN_IF(ret, name, params, args, blocks, 0)

/* The same, for a call that the kernel never restarts once a handler has run (signal(7)):
 * one that only a quiet signal (green's own: sig.h) ended with EINTR is made again.  A
 * relative timeout starts over then, as in the kernel's own restart. */
#define GR_SYSCALL_WRAP_RESTART_IF(ret, name, params, args, blocks)                      \
	GR_SYSCALL_WRAP_AGAIN_IF(ret, name, params, args, blocks, 1)

#define GR_SYSCALL_WRAP_AGAIN_IF(ret, name, params, args, blocks, restart)               \
	GR_EXPORT ret name params                                                        \
	{                                                                                \
		const struct gr_real_sys *r = gr_real_sys();                             \
		if (!gr_is_ready())                                                      \
			return r->name args;                                             \
		if (blocks)                                                              \
			gr_entersyscallblock();                                          \
		else                                                                     \
			gr_entersyscall();                                               \
		ret gr_v_;                                                               \
		int gr_e_;                                                               \
		uint32_t gr_n_ = 0;                                                      \
		do {                                                                     \
			if (restart)                                                     \
				gr_n_ = gr_sig_quiet_count();                            \
			gr_v_ = r->name args;                                            \
			gr_e_ = errno;                                                   \
		} while (restart && (intptr_t)gr_v_ == -1 && gr_e_ == EINTR &&           \
			 gr_sig_call_again(gr_n_));                                      \
		gr_exitsyscall();                                                        \
		errno = gr_e_;                                                           \
		return gr_v_;                                                            \
	}

#define GR_SYSCALL_WRAP(ret, name, params, args) GR_SYSCALL_WRAP_IF(ret, name, params, args, 0)
#define GR_SYSCALL_WRAP_BLOCK(ret, name, params, args)                                   \
	GR_SYSCALL_WRAP_IF(ret, name, params, args, 1)

#define GR_SYSCALL_WRAP_VOID(name, params, args)                                         \
	GR_EXPORT void name params                                                       \
	{                                                                                \
		const struct gr_real_sys *r = gr_real_sys();                             \
		if (!gr_is_ready()) {                                                    \
			r->name args;                                                    \
			return;                                                          \
		}                                                                        \
		gr_entersyscallblock();                                                  \
		r->name args;                                                            \
		int gr_e_ = errno;                                                          \
		gr_exitsyscall();                                                        \
		errno = gr_e_;                                                               \
	}

/* ---- open: variadic; the mode is read only when the flags need it -------------------- */

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

#define GR_OPEN_WRAP(name)                                                               \
	GR_EXPORT int name(const char *path, int flags, ...)                             \
	{                                                                                \
		va_list ap;                                                              \
		va_start(ap, flags);                                                     \
		mode_t mode = open_mode(flags, ap);                                      \
		va_end(ap);                                                              \
		const struct gr_real_sys *r = gr_real_sys();                             \
		if (!gr_is_ready())                                                      \
			return r->name(path, flags, mode);                               \
		gr_entersyscall();                                                       \
		int gr_v_ = r->name(path, flags, mode);                                      \
		int gr_e_ = errno;                                                          \
		gr_exitsyscall();                                                        \
		errno = gr_e_;                                                               \
		return gr_v_;                                                              \
	}

#define GR_OPENAT_WRAP(name)                                                             \
	GR_EXPORT int name(int dirfd, const char *path, int flags, ...)                  \
	{                                                                                \
		va_list ap;                                                              \
		va_start(ap, flags);                                                     \
		mode_t mode = open_mode(flags, ap);                                      \
		va_end(ap);                                                              \
		const struct gr_real_sys *r = gr_real_sys();                             \
		if (!gr_is_ready())                                                      \
			return r->name(dirfd, path, flags, mode);                        \
		gr_entersyscall();                                                       \
		int gr_v_ = r->name(dirfd, path, flags, mode);                               \
		int gr_e_ = errno;                                                          \
		gr_exitsyscall();                                                        \
		errno = gr_e_;                                                               \
		return gr_v_;                                                              \
	}

GR_OPEN_WRAP(open)
GR_OPEN_WRAP(open64)
GR_OPENAT_WRAP(openat)
GR_OPENAT_WRAP(openat64)
GR_SYSCALL_WRAP(int, creat, (const char *p, mode_t m), (p, m))
GR_SYSCALL_WRAP(int, creat64, (const char *p, mode_t m), (p, m))

/* ---- file data ----------------------------------------------------------------------- */

GR_SYSCALL_WRAP(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
GR_SYSCALL_WRAP(ssize_t, pread64, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
GR_SYSCALL_WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
GR_SYSCALL_WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
GR_SYSCALL_WRAP(ssize_t, preadv, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
GR_SYSCALL_WRAP(ssize_t, preadv64, (int fd, const struct iovec *v, int n, off_t o),
		(fd, v, n, o))
GR_SYSCALL_WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int n, off_t o),
		(fd, v, n, o))
GR_SYSCALL_WRAP(ssize_t, pwritev64, (int fd, const struct iovec *v, int n, off_t o),
		(fd, v, n, o))
GR_SYSCALL_WRAP(ssize_t, preadv2, (int fd, const struct iovec *v, int n, off_t o, int f),
		(fd, v, n, o, f))
GR_SYSCALL_WRAP(ssize_t, pwritev2, (int fd, const struct iovec *v, int n, off_t o, int f),
		(fd, v, n, o, f))
GR_SYSCALL_WRAP(int, fsync, (int fd), (fd))
GR_SYSCALL_WRAP(int, fdatasync, (int fd), (fd))
GR_SYSCALL_WRAP_VOID(sync, (void), ())
GR_SYSCALL_WRAP(int, syncfs, (int fd), (fd))
GR_SYSCALL_WRAP(int, sync_file_range, (int fd, off_t o, off_t n, unsigned int f), (fd, o, n, f))
GR_SYSCALL_WRAP(int, fallocate, (int fd, int m, off_t o, off_t n), (fd, m, o, n))
GR_SYSCALL_WRAP(int, fallocate64, (int fd, int m, off_t o, off_t n), (fd, m, o, n))
GR_SYSCALL_WRAP(int, posix_fallocate, (int fd, off_t o, off_t n), (fd, o, n))
GR_SYSCALL_WRAP(int, posix_fallocate64, (int fd, off_t o, off_t n), (fd, o, n))
GR_SYSCALL_WRAP(int, ftruncate, (int fd, off_t n), (fd, n))
GR_SYSCALL_WRAP(int, ftruncate64, (int fd, off_t n), (fd, n))
GR_SYSCALL_WRAP(int, truncate, (const char *p, off_t n), (p, n))
GR_SYSCALL_WRAP(int, truncate64, (const char *p, off_t n), (p, n))

/* ---- directories --------------------------------------------------------------------- */

GR_SYSCALL_WRAP(int, rename, (const char *a, const char *b), (a, b))
GR_SYSCALL_WRAP(int, renameat, (int d1, const char *a, int d2, const char *b), (d1, a, d2, b))
GR_SYSCALL_WRAP(int, renameat2, (int d1, const char *a, int d2, const char *b, unsigned f),
		(d1, a, d2, b, f))
GR_SYSCALL_WRAP(int, unlink, (const char *p), (p))
GR_SYSCALL_WRAP(int, unlinkat, (int d, const char *p, int f), (d, p, f))
GR_SYSCALL_WRAP(int, mkdir, (const char *p, mode_t m), (p, m))
GR_SYSCALL_WRAP(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m))
GR_SYSCALL_WRAP(int, rmdir, (const char *p), (p))
GR_SYSCALL_WRAP(int, link, (const char *a, const char *b), (a, b))
GR_SYSCALL_WRAP(int, linkat, (int d1, const char *a, int d2, const char *b, int f),
		(d1, a, d2, b, f))
GR_SYSCALL_WRAP(int, symlink, (const char *a, const char *b), (a, b))
GR_SYSCALL_WRAP(int, symlinkat, (const char *a, int d, const char *b), (a, d, b))

/* ---- processes ----------------------------------------------------------------------- */

GR_SYSCALL_WRAP_IF(pid_t, waitpid, (pid_t p, int *s, int o), (p, s, o), !(o & WNOHANG))
GR_SYSCALL_WRAP_BLOCK(pid_t, wait, (int *s), (s))
GR_SYSCALL_WRAP_IF(pid_t, wait3, (int *s, int o, struct rusage *u), (s, o, u), !(o & WNOHANG))
GR_SYSCALL_WRAP_IF(pid_t, wait4, (pid_t p, int *s, int o, struct rusage *u), (p, s, o, u),
		   !(o & WNOHANG))
GR_SYSCALL_WRAP_IF(int, waitid, (idtype_t t, id_t i, siginfo_t *s, int o), (t, i, s, o),
		   !(o & WNOHANG))
GR_SYSCALL_WRAP_BLOCK(int, system, (const char *c), (c))
GR_SYSCALL_WRAP_BLOCK(int, pclose, (FILE *f), (f))

/* ---- locks --------------------------------------------------------------------------- */

GR_SYSCALL_WRAP_IF(int, flock, (int fd, int op), (fd, op), !(op & LOCK_NB))
GR_SYSCALL_WRAP_IF(int, lockf, (int fd, int c, off_t n), (fd, c, n), c == F_LOCK)
GR_SYSCALL_WRAP_IF(int, lockf64, (int fd, int c, off_t n), (fd, c, n), c == F_LOCK)

/* ---- name resolution (DNS traffic inside libc never reaches the I/O hooks) ----------- */

GR_SYSCALL_WRAP_BLOCK(int, getaddrinfo,
		(const char *n, const char *s, const struct addrinfo *h, struct addrinfo **r_),
		(n, s, h, r_))
GR_SYSCALL_WRAP_BLOCK(int, getnameinfo,
		(const struct sockaddr *a, socklen_t al, char *h, socklen_t hl, char *s,
		 socklen_t sl, int f),
		(a, al, h, hl, s, sl, f))
GR_SYSCALL_WRAP_BLOCK(struct hostent *, gethostbyname, (const char *n), (n))
GR_SYSCALL_WRAP_BLOCK(struct hostent *, gethostbyname2, (const char *n, int af), (n, af))
GR_SYSCALL_WRAP_BLOCK(int, gethostbyname_r,
		(const char *n, struct hostent *h, char *b, size_t bl, struct hostent **res,
		 int *e_),
		(n, h, b, bl, res, e_))
GR_SYSCALL_WRAP_BLOCK(int, gethostbyname2_r,
		(const char *n, int af, struct hostent *h, char *b, size_t bl,
		 struct hostent **res, int *e_),
		(n, af, h, b, bl, res, e_))
GR_SYSCALL_WRAP_BLOCK(struct hostent *, gethostbyaddr, (const void *a, socklen_t l, int t), (a, l, t))

/* ---- System V and POSIX IPC ---------------------------------------------------------- */

GR_SYSCALL_WRAP_RESTART_IF(ssize_t, msgrcv, (int q, void *m, size_t n, long t, int f),
			   (q, m, n, t, f), !(f & IPC_NOWAIT))
GR_SYSCALL_WRAP_RESTART_IF(int, msgsnd, (int q, const void *m, size_t n, int f), (q, m, n, f), 0)
GR_SYSCALL_WRAP_RESTART_IF(int, semop, (int s, struct sembuf *o, size_t n), (s, o, n), 0)
GR_SYSCALL_WRAP_RESTART_IF(int, semtimedop,
			   (int s, struct sembuf *o, size_t n, const struct timespec *t),
			   (s, o, n, t), 0)
GR_SYSCALL_WRAP(ssize_t, mq_receive, (mqd_t q, char *m, size_t n, unsigned int *p), (q, m, n, p))
GR_SYSCALL_WRAP(int, mq_send, (mqd_t q, const char *m, size_t n, unsigned int p), (q, m, n, p))
GR_SYSCALL_WRAP(ssize_t, mq_timedreceive,
		(mqd_t q, char *m, size_t n, unsigned int *p, const struct timespec *t),
		(q, m, n, p, t))
GR_SYSCALL_WRAP(int, mq_timedsend,
		(mqd_t q, const char *m, size_t n, unsigned int p, const struct timespec *t),
		(q, m, n, p, t))
