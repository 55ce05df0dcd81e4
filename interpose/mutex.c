/* pthread_mutex_* on shim/mutex.c. */
#include <errno.h>

#include "shim.h"

#define GR_EXPORT __attribute__((visibility("default")))

GR_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	return gr_mutex_init(gr_mutex_of(m), attr);
}

GR_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	return gr_mutex_destroy(gr_mutex_of(m));
}

GR_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (!gr_is_ready())
		return gr_real.pthread_mutex_lock(m);
	return gr_mutex_lock(gr_mutex_of(m), 0);
}

GR_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (!gr_is_ready())
		return gr_real.pthread_mutex_trylock(m);
	return gr_mutex_trylock(gr_mutex_of(m));
}

GR_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
				      const struct timespec *abstime)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	if (!gr_is_ready())
		return gr_real.pthread_mutex_clocklock(m, clock, abstime);
	/* As glibc: the timeout is checked only when the lock is not free. */
	int r = gr_mutex_trylock(gr_mutex_of(m));
	if (r != EBUSY)
		return r;
	int64_t deadline = gr_deadline(clock, abstime, true);
	if (deadline < 0)
		return EINVAL;
	return gr_mutex_lock(gr_mutex_of(m), deadline);
}

GR_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	return pthread_mutex_clocklock(m, CLOCK_REALTIME, abstime);
}

GR_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (!gr_is_ready())
		return gr_real.pthread_mutex_unlock(m);
	return gr_mutex_unlock(gr_mutex_of(m));
}
