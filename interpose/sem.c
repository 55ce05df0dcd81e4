/* sem_* on shim/sem.c, with errno and -1 as POSIX wants.  sem_open, sem_close and
 * sem_unlink stay glibc's (see shim/sem.c).  shim/sem.c keeps glibc's protocol, so
 * calls made before green is ready can go to glibc on the same objects. */
#include <errno.h>
#include <semaphore.h>

#include "interpose.h"

static int ret(int r)
{
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

static struct gr_sem *sem_of(sem_t *s)
{
	return (struct gr_sem *)s;
}

GR_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
	return ret(gr_sem_init(sem_of(s), pshared, value));
}

GR_EXPORT int sem_destroy(sem_t *s)
{
	(void)s;
	return 0;
}

/* sem_wait and sem_timedwait are cancellation points, and a signal handler ends them with
 * EINTR whatever its SA_RESTART (POSIX: semaphore waits are never restarted). */
static int wait_point(int r)
{
	if (r == EINTR)
		gr_cancel_point();
	return r;
}

GR_EXPORT int sem_wait(sem_t *s)
{
	if (!gr_is_ready()) {
		gr_real_sync_init();
		return gr_real_sync.sem_wait(s);
	}
	return ret(wait_point(gr_sem_wait(sem_of(s), 0)));
}

GR_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	if (!gr_is_ready()) {
		gr_real_sync_init();
		return gr_real_sync.sem_clockwait(s, clock, abstime);
	}
	/* glibc: the clock and the timespec are checked before trying. */
	int64_t deadline = gr_sync_deadline(clock, abstime, true);
	if (deadline < 0)
		return ret(EINVAL);
	return ret(wait_point(gr_sem_wait(sem_of(s), deadline)));
}

GR_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	return sem_clockwait(s, CLOCK_REALTIME, abstime);
}

GR_EXPORT int sem_trywait(sem_t *s)
{
	return ret(gr_sem_trywait(sem_of(s)));
}

GR_EXPORT int sem_post(sem_t *s)
{
	if (!gr_is_ready()) {
		gr_real_sync_init();
		return gr_real_sync.sem_post(s);
	}
	return ret(gr_sem_post(sem_of(s)));
}

GR_EXPORT int sem_getvalue(sem_t *s, int *value)
{
	return ret(gr_sem_getvalue(sem_of(s), value));
}
