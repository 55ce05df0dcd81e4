/* pthread_barrier_* on shim/barrier.c.  Before green is ready a barrier waits on the
 * kernel futex (the thread must not be adopted yet); the protocol is the same. */
#include "interpose.h"

GR_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr,
                                   unsigned count)
{
	return gr_barrier_init((struct gr_barrier *)b, attr, count);
}

GR_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	return gr_barrier_destroy((struct gr_barrier *)b);
}

GR_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	if (!gr_is_ready())
		return gr_barrier_wait_kernel((struct gr_barrier *)b, true);
	return gr_barrier_wait((struct gr_barrier *)b);
}
