/* pthread_rwlock_* on shim/rwlock.c.  The rwlockattr functions stay glibc's.  Before green
 * is ready the lock calls go to glibc (gr_rwlock_init writes a layout glibc accepts). */
#include <errno.h>

#include "interpose.h"

#define PRE_READY(call)                           \
	do {                                      \
		if (!gr_is_ready()) {             \
			gr_real_sync_init();      \
			return gr_real_sync.call; \
		}                                 \
	} while (0)

GR_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
	return gr_rwlock_init(gr_rwlock_of(l), attr);
}

GR_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	return gr_rwlock_destroy(gr_rwlock_of(l));
}

GR_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	PRE_READY(pthread_rwlock_rdlock(l));
	return gr_rwlock_rdlock(gr_rwlock_of(l), 0);
}

GR_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	PRE_READY(pthread_rwlock_wrlock(l));
	return gr_rwlock_wrlock(gr_rwlock_of(l), 0);
}

GR_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	PRE_READY(pthread_rwlock_tryrdlock(l));
	return gr_rwlock_tryrdlock(gr_rwlock_of(l));
}

GR_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	PRE_READY(pthread_rwlock_trywrlock(l));
	return gr_rwlock_trywrlock(gr_rwlock_of(l));
}

/* glibc's order: the clock and the timespec are checked first, then EDEADLK. */
static int64_t clock_deadline(clockid_t clock, const struct timespec *abstime)
{
	return gr_sync_deadline(clock, abstime, true);
}

GR_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock,
                                         const struct timespec *abstime)
{
	PRE_READY(pthread_rwlock_clockrdlock(l, clock, abstime));
	int64_t deadline = clock_deadline(clock, abstime);
	if (deadline < 0)
		return EINVAL;
	return gr_rwlock_rdlock(gr_rwlock_of(l), deadline);
}

GR_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock,
                                         const struct timespec *abstime)
{
	PRE_READY(pthread_rwlock_clockwrlock(l, clock, abstime));
	int64_t deadline = clock_deadline(clock, abstime);
	if (deadline < 0)
		return EINVAL;
	return gr_rwlock_wrlock(gr_rwlock_of(l), deadline);
}

GR_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
	return pthread_rwlock_clockrdlock(l, CLOCK_REALTIME, abstime);
}

GR_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
	return pthread_rwlock_clockwrlock(l, CLOCK_REALTIME, abstime);
}

GR_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	PRE_READY(pthread_rwlock_unlock(l));
	return gr_rwlock_unlock(gr_rwlock_of(l));
}
