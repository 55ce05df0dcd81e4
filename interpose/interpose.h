/* What every interposer file shares: the export marker and the conversion of a shim
 * result to the syscall convention.  The exported names are listed in exports.map. */
#ifndef GR_INTERPOSE_H
#define GR_INTERPOSE_H

#include <errno.h>

#include "shim.h"

#define GR_EXPORT __attribute__((visibility("default")))

/* A raw result (>= 0, or -errno) as libc returns it: -1 with errno set on failure, errno
 * untouched on success (musl's __syscall_ret). */
static inline long gr_ret_errno(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#endif
