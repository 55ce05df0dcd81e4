/* C11 <threads.h>.  glibc implements thrd_*, mtx_*, cnd_* and call_once by calling its
 * internal pthread functions directly, which no preload can intercept, so each is here.
 * tss_* go through glibc's keys, which work on Gs unchanged (tls.c). */
#include <errno.h>
#include <threads.h>

#include "interpose.h"

/* glibc's thrd_err_map. */
static int thrd_result(int err)
{
	switch (err) {
	case 0: return thrd_success;
	case ENOMEM: return thrd_nomem;
	case ETIMEDOUT: return thrd_timedout;
	case EBUSY: return thrd_busy;
	default: return thrd_error;
	}
}

GR_EXPORT int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
	if (!gr_is_ready())
		return thrd_error;
	struct gr_thread_attr a = {0};
	return thrd_result(gr_thread_create((pthread_t *)thr, &a, (void *(*)(void *))(void *)func,
					    arg, true));
}

GR_EXPORT int thrd_join(thrd_t thr, int *res)
{
	void *ret;
	int r = pthread_join((pthread_t)thr, &ret);

	if (r == 0 && res)
		*res = (int)(intptr_t)ret;
	return thrd_result(r);
}

GR_EXPORT int thrd_detach(thrd_t thr)
{
	return thrd_result(pthread_detach((pthread_t)thr));
}

GR_EXPORT _Noreturn void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

GR_EXPORT int thrd_sleep(const struct timespec *duration, struct timespec *remaining)
{
	int r = clock_nanosleep(CLOCK_REALTIME, 0, duration, remaining);

	return r == 0 ? 0 : r == EINTR ? -1 : -2;
}

GR_EXPORT void thrd_yield(void)
{
	sched_yield();
}

GR_EXPORT int mtx_init(mtx_t *mtx, int type)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	int r = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
	pthread_mutexattr_destroy(&attr);
	return thrd_result(r);
}

GR_EXPORT int mtx_lock(mtx_t *mtx)
{
	return thrd_result(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

GR_EXPORT int mtx_timedlock(mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	return thrd_result(pthread_mutex_timedlock((pthread_mutex_t *)mtx, ts));
}

GR_EXPORT int mtx_trylock(mtx_t *mtx)
{
	return thrd_result(pthread_mutex_trylock((pthread_mutex_t *)mtx));
}

GR_EXPORT int mtx_unlock(mtx_t *mtx)
{
	return thrd_result(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

GR_EXPORT void mtx_destroy(mtx_t *mtx)
{
	pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

GR_EXPORT int cnd_init(cnd_t *cond)
{
	return thrd_result(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

GR_EXPORT int cnd_signal(cnd_t *cond)
{
	return thrd_result(pthread_cond_signal((pthread_cond_t *)cond));
}

GR_EXPORT int cnd_broadcast(cnd_t *cond)
{
	return thrd_result(pthread_cond_broadcast((pthread_cond_t *)cond));
}

GR_EXPORT int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
	return thrd_result(pthread_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx));
}

GR_EXPORT int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx,
			    const struct timespec *restrict ts)
{
	return thrd_result(
		pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, ts));
}

GR_EXPORT void cnd_destroy(cnd_t *cond)
{
	pthread_cond_destroy((pthread_cond_t *)cond);
}

GR_EXPORT void call_once(once_flag *flag, void (*func)(void))
{
	pthread_once((pthread_once_t *)flag, func);
}
