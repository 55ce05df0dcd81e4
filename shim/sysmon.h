/* sysmon (see sysmon.c). */
#ifndef GR_SYSMON_H
#define GR_SYSMON_H

/* Starts the sysmon thread.  Call from the main thread's own TCB, before the first G
 * runs: creating it also switches glibc to multi-threaded mode.  Returns 0 or -errno. */
int gr_sysmon_start(void);

#endif
