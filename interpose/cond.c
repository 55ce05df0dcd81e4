/* pthread_cond_* on shim/cond.c.  The condattr functions stay glibc's. */
#include <errno.h>

#include "interpose.h"

GR_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
	return gr_cond_init(gr_cond_of(c), attr);
}

GR_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
	return gr_cond_destroy(gr_cond_of(c));
}

GR_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (!gr_is_ready())
		return gr_real.pthread_cond_wait(c, m);
	int r = gr_cond_wait(gr_cond_of(c), gr_mutex_of(m), 0);
	gr_cancel_point(); /* a cancellation point, acted on with the mutex held */
	return r;
}

GR_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
                                     const struct timespec *abstime)
{
	if (!gr_is_ready())
		return gr_real.pthread_cond_clockwait(c, m, clock, abstime);
	/* glibc checks the clock and the timespec before anything else. */
	int64_t deadline = gr_sync_deadline(clock, abstime, true);
	if (deadline < 0)
		return EINVAL;
	int r = gr_cond_wait(gr_cond_of(c), gr_mutex_of(m), deadline);
	gr_cancel_point();
	return r;
}

GR_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *abstime)
{
	return pthread_cond_clockwait(c, m, gr_cond_clock(gr_cond_of(c)), abstime);
}

GR_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	if (!gr_is_ready())
		return gr_real.pthread_cond_signal(c);
	return gr_cond_signal(gr_cond_of(c));
}

GR_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (!gr_is_ready())
		return gr_real.pthread_cond_broadcast(c);
	return gr_cond_broadcast(gr_cond_of(c));
}
