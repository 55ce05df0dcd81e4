/* Thread CPU clocks of Gs.  glibc encodes a thread's CPU clock from its tid, which for a
 * G is a fake one the kernel does not know; green encodes the same way and answers for
 * those clocks itself, from the time each G has spent running (shim/proc.c).  Every other
 * clock goes straight to glibc (the vDSO). */
#include <errno.h>
#include <time.h>

#include "interpose.h"
#include "stack.h"

/* The kernel's encoding (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD_MASK). */
#define THREAD_CPUCLOCK(tid) ((clockid_t)(~(unsigned)(tid) << 3) | 6)
#define IS_THREAD_CPUCLOCK(c) ((c) < 0 && ((c)&7) == 6)
#define CPUCLOCK_TID(c) ((pid_t)~((c) >> 3)) /* arithmetic shift, as the kernel */

/* The G whose CPU clock c names, or NULL when the clock is not a G's. */
static struct gr_g *clock_g(clockid_t c)
{
	if (c == CLOCK_THREAD_CPUTIME_ID) {
		struct gr_g *gp = gr_getg();
		return gr_g_schedulable(gp) ? gp : NULL;
	}
	if (!IS_THREAD_CPUCLOCK(c))
		return NULL;
	return gr_stack_g_by_tid(CPUCLOCK_TID(c));
}

GR_EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *c)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t)))
		return gr_real.pthread_getcpuclockid(t, c);
	*c = THREAD_CPUCLOCK(gp->tid);
	return 0;
}

GR_EXPORT int clock_gettime(clockid_t c, struct timespec *ts)
{
	struct gr_g *gp;

	if (__builtin_expect(!gr_real.clock_gettime, 0) && gr_real_init() != 0)
		return -1;
	if (__builtin_expect(c >= 0 && c != CLOCK_THREAD_CPUTIME_ID, 1) ||
	    atomic_load_explicit(&gr_init_state, memory_order_acquire) != GR_INIT_READY ||
	    !(gp = clock_g(c)))
		return gr_real.clock_gettime(c, ts);
	int64_t ns = gr_g_cputime_ns(gp);
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

GR_EXPORT int clock_getres(clockid_t c, struct timespec *ts)
{
	if (__builtin_expect(!gr_real.clock_getres, 0) && gr_real_init() != 0)
		return -1;
	if (c >= 0 || atomic_load_explicit(&gr_init_state, memory_order_acquire) != GR_INIT_READY ||
	    !clock_g(c))
		return gr_real.clock_getres(c, ts);
	if (ts)
		*ts = (struct timespec){0, 1};
	return 0;
}
