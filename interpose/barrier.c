/* pthread_barrier_* on shim/barrier.c.  gr_barrier_init keeps count and shared where
 * glibc keeps them, so glibc's pthread_barrier_wait works on it before green is ready. */
#include "shim.h"

#define GR_EXPORT __attribute__((visibility("default")))

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
	if (!gr_is_ready()) {
		gr_real_sync_init();
		return gr_real_sync.pthread_barrier_wait(b);
	}
	return gr_barrier_wait((struct gr_barrier *)b);
}
