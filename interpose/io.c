/* Blocking I/O: for now every read and write brackets the system call, so a G that
 * blocks in the kernel lets sysmon hand its P to another M (shim/sysmon.c). */
#include <unistd.h>

#include "shim.h"

#define GR_EXPORT __attribute__((visibility("default")))

GR_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!gr_is_ready())
		return gr_real.read(fd, buf, n);
	gr_entersyscall();
	ssize_t r = gr_real.read(fd, buf, n);
	gr_exitsyscall();
	return r;
}

GR_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!gr_is_ready())
		return gr_real.write(fd, buf, n);
	gr_entersyscall();
	ssize_t r = gr_real.write(fd, buf, n);
	gr_exitsyscall();
	return r;
}
