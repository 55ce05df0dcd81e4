/* pthread_mutex_* on shim/mutex.c.  The mutexattr functions stay glibc's: they only read
 * and write the attribute object, which gr_mutex_init reads with glibc's getters. */
#include <errno.h>

#include "interpose.h"

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
	int r = gr_mutex_trylock(gr_mutex_of(m));
	if (r == EBUSY)
		gr_preempt_check(); /* a trylock spin loop must not keep the owner off the P */
	return r;
}

GR_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
                                      const struct timespec *abstime)
{
	if (!gr_is_ready())
		return gr_real.pthread_mutex_clocklock(m, clock, abstime);
	return gr_mutex_clocklock(gr_mutex_of(m), clock, abstime);
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

GR_EXPORT int pthread_mutex_consistent(pthread_mutex_t *m)
{
	if (!gr_is_ready())
		return EINVAL;
	return gr_mutex_consistent(gr_mutex_of(m));
}

/* The pre-POSIX name, still exported by glibc. */
GR_EXPORT int
gr_pthread_mutex_consistent_np(pthread_mutex_t *m) __asm__("pthread_mutex_consistent_np");
GR_EXPORT int gr_pthread_mutex_consistent_np(pthread_mutex_t *m)
{
	return pthread_mutex_consistent(m);
}

GR_EXPORT int pthread_mutex_getprioceiling(const pthread_mutex_t *m, int *ceiling)
{
	return gr_mutex_getprioceiling((const struct gr_mutex *)m, ceiling);
}

GR_EXPORT int pthread_mutex_setprioceiling(pthread_mutex_t *m, int ceiling, int *old)
{
	if (!gr_is_ready())
		return EINVAL;
	return gr_mutex_setprioceiling(gr_mutex_of(m), ceiling, old);
}
