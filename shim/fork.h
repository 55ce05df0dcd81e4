/* fork() and pthread_atfork at G granularity (fork.c). */
#ifndef GR_FORK_H
#define GR_FORK_H

#include <stdbool.h>
#include <sys/types.h>

/* Registers fork handlers (pthread_atfork, __register_atfork); dso identifies the
 * registering object for gr_atfork_unregister.  Any thread, before or after green starts.
 * Returns 0 or ENOMEM. */
int gr_atfork_register(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso);
void gr_atfork_unregister(void *dso);

/* fork() from a G: runs the prepare handlers on the G, glibc's fork on the M's kernel TCB,
 * rebuilds the runtime in the child around the calling G, then runs the parent or child
 * handlers on the G.  handlers false: none run (vfork, _Fork).  Returns the child's pid,
 * 0 in the child, or a negative errno. */
pid_t gr_fork(bool run_handlers);

#endif
