/* GREEN_* configuration, read once at start-up (see README.md for the table). */
#ifndef GR_ENV_H
#define GR_ENV_H

#include <stddef.h>

struct gr_config {
	int maxprocs;	   /* GREEN_MAXPROCS, else GOMAXPROCS, else the usable CPUs */
	size_t stacksize;  /* GREEN_STACKSIZE; 0: glibc's default (RLIMIT_STACK) */
	int maxthreads;	   /* GREEN_MAXTHREADS: cap on Ms */
};

extern struct gr_config gr_config;

/* Parses the environment.  A bad value gets one "green: " line on stderr and the default. */
void gr_env_read(struct gr_config *cfg);

/* The CPUs this process may use: its affinity mask, capped by a cgroup v2 cpu.max quota
 * (rounded up).  At least 1. */
int gr_env_ncpu(void);

/* Parses a decimal integer with an optional K, M or G suffix (powers of 1024) into *out.
 * Returns 0 or -EINVAL (empty, junk, overflow). */
int gr_env_parse_size(const char *s, size_t *out);

#endif
