/* fork, vfork, the atfork registry and popen (shim/fork.c). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "interpose.h"

static pid_t do_fork(bool handlers)
{
	gr_is_ready(); /* starts green if nobody did yet; a failed start forks plainly */
	pid_t r = gr_fork(handlers);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

GR_EXPORT pid_t fork(void)
{
	return do_fork(true);
}

/* vfork's child would borrow the G's stack and the parent's runtime state (a hooked call
 * in the child, perror after a failed exec, would change the parent's P): green forks
 * instead, which POSIX allows; like vfork, without the atfork handlers. */
GR_EXPORT pid_t vfork(void)
{
	return do_fork(false);
}

/* glibc 2.34's _Fork: fork without the atfork handlers. */
GR_EXPORT pid_t _Fork(void)
{
	return do_fork(false);
}

/* pthread_atfork in libc_nonshared.a calls this with the caller's __dso_handle. */
int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso);
GR_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                                void *dso)
{
	return gr_atfork_register(prepare, parent, child, dso);
}

/* Binaries linked before glibc 2.28 call libc's own pthread_atfork. */
GR_EXPORT int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return gr_atfork_register(prepare, parent, child, NULL);
}

/* popen waits for the spawned child to exec: a system call.  (pclose, which waits for it
 * to exit, hands the P off at once: interpose/syscall.c.) */
GR_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	if (!gr_is_ready())
		return gr_real.popen(cmd, mode);
	gr_entersyscall();
	FILE *f = gr_real.popen(cmd, mode);
	gr_exitsyscall();
	return f;
}
