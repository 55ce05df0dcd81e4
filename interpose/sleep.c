/* The sleep family and sched_yield: a G sleeps on a timer and its M runs other Gs. */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "interpose.h"

GR_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
			      struct timespec *rem)
{
	if (!gr_is_ready())
		return gr_real.clock_nanosleep(clock, flags, req, rem);
	int64_t deadline = gr_deadline(clock, req, flags & TIMER_ABSTIME);
	if (deadline == -EINVAL) {
		if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
			return EINVAL;
		/* A CPU-time clock: only the kernel can measure it. */
		return gr_real.clock_nanosleep(clock, flags, req, rem);
	}
	if (gr_park_sleep(deadline) == -EINTR) {
		/* A cancellation point; else a handler ran: EINTR even under SA_RESTART. */
		gr_cancel_point();
		if (rem && !(flags & TIMER_ABSTIME)) {
			int64_t left = deadline - gr_nanotime();
			if (left < 0)
				left = 0;
			*rem = (struct timespec){left / 1000000000, left % 1000000000};
		}
		return EINTR;
	}
	if (rem && !(flags & TIMER_ABSTIME))
		*rem = (struct timespec){0, 0};
	return 0;
}

GR_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!gr_is_ready())
		return gr_real.nanosleep(req, rem);
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GR_EXPORT int usleep(useconds_t usec)
{
	struct timespec ts = {usec / 1000000, (long)(usec % 1000000) * 1000};

	return nanosleep(&ts, NULL);
}

GR_EXPORT unsigned sleep(unsigned seconds)
{
	struct timespec ts = {seconds, 0};

	nanosleep(&ts, NULL);
	return 0;
}

GR_EXPORT int sched_yield(void)
{
	if (!gr_is_ready())
		return gr_real.sched_yield();
	gr_yield();
	return 0;
}

/* pthread.h redirects pthread_yield to sched_yield; the binary symbol still exists. */
GR_EXPORT int gr_pthread_yield(void) __asm__("pthread_yield");
GR_EXPORT int gr_pthread_yield(void)
{
	return sched_yield();
}
