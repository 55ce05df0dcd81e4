/* pthread_create, join, detach, exit and the calls that take a pthread_t. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose.h"

/* The attributes of threads created without an attr: glibc's defaults, which only
 * pthread_setattr_default_np changes, read once and kept parsed.  Protected by
 * default_lock. */
static struct gr_lock default_lock = GR_LOCK_INIT;
static struct gr_thread_attr default_attr;
static bool have_default;
static bool default_changed; /* the program set its own defaults: their stack size rules */

/* Reads the attributes green honours from a glibc pthread_attr_t.  Returns 0 or ENOMEM. */
static int read_attr(const pthread_attr_t *attr, struct gr_thread_attr *a, bool is_default)
{
	int detach, inherit;

	memset(a, 0, sizeof(*a));
	pthread_attr_getdetachstate(attr, &detach);
	pthread_attr_getguardsize(attr, &a->guard_size);
	pthread_attr_getstacksize(attr, &a->stack_size);
	a->detached = detach == PTHREAD_CREATE_DETACHED;
	if (is_default && !default_changed)
		a->stack_size = 0; /* green's default: GREEN_STACKSIZE, else glibc's */
	/* getstack reports top - size: with no stack set (top NULL) that is -size. */
	void *addr = NULL;
	size_t size = 0;
	pthread_attr_getstack(attr, &addr, &size);
	if ((uintptr_t)addr + size != 0) {
		a->stack_addr = addr;
		a->stack_size = size;
	}
	pthread_attr_getinheritsched(attr, &inherit);
	if (inherit == PTHREAD_EXPLICIT_SCHED) {
		struct sched_param sp;
		a->explicit_sched = true;
		pthread_attr_getschedpolicy(attr, &a->policy);
		pthread_attr_getschedparam(attr, &sp);
		a->priority = sp.sched_priority;
	}
	/* glibc reports a full mask when no affinity was set. */
	static const unsigned char all[sizeof(cpu_set_t)] = {[0 ... sizeof(cpu_set_t) - 1] = 0xff};
	cpu_set_t set;
	if (pthread_attr_getaffinity_np(attr, sizeof(set), &set) == 0 &&
	    memcmp(&set, all, sizeof(set)) != 0) {
		if (!(a->affinity = malloc(sizeof(set))))
			return ENOMEM;
		memcpy(a->affinity, &set, sizeof(set));
		a->affinity_size = sizeof(set);
	}
	return 0;
}

static int read_default_attr(struct gr_thread_attr *a)
{
	int r = 0;

	gr_lock(&default_lock);
	if (!have_default) {
		pthread_attr_t attr;
		free(default_attr.affinity);
		memset(&default_attr, 0, sizeof(default_attr));
		if ((r = pthread_getattr_default_np(&attr)) == 0) {
			r = read_attr(&attr, &default_attr, true);
			pthread_attr_destroy(&attr);
		}
		have_default = r == 0;
	}
	*a = default_attr;
	a->affinity = NULL;
	if (r == 0 && default_attr.affinity) {
		if ((a->affinity = malloc(default_attr.affinity_size)))
			memcpy(a->affinity, default_attr.affinity, default_attr.affinity_size);
		else
			r = ENOMEM;
	}
	gr_unlock(&default_lock);
	return r;
}

GR_EXPORT int pthread_setattr_default_np(const pthread_attr_t *attr)
{
	int r = gr_real.pthread_setattr_default_np(attr);

	if (r == 0 && gr_is_ready()) {
		gr_lock(&default_lock);
		have_default = false;
		default_changed = true;
		gr_unlock(&default_lock);
	}
	return r;
}

static int create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg,
		  bool c11)
{
	struct gr_thread_attr a;
	int r = attr ? read_attr(attr, &a, false) : read_default_attr(&a);

	if (r == 0)
		r = gr_thread_create(t, &a, fn, arg, c11);
	free(a.affinity);
	return r;
}

GR_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	if (!gr_is_ready())
		return gr_real.pthread_create(t, attr, fn, arg);
	return create(t, attr, fn, arg, false);
}

static int join(pthread_t t, void **ret, int64_t deadline, bool try)
{
	struct gr_g *gp = gr_thread_g(t);

	if (!gp) {
		if (try || deadline)
			return EINVAL; /* green only joins Gs it created */
		return gr_real.pthread_join(t, ret);
	}
	return gr_thread_join(gp, ret, deadline, try);
}

GR_EXPORT int pthread_join(pthread_t t, void **ret)
{
	if (!gr_is_ready())
		return gr_real.pthread_join(t, ret);
	return join(t, ret, 0, false);
}

GR_EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
	if (!gr_is_ready())
		return EBUSY;
	return join(t, ret, 0, true);
}

GR_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clock,
				   const struct timespec *abstime)
{
	if (!gr_is_ready())
		return EINVAL;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	if (!abstime)
		return join(t, ret, 0, false);
	int64_t deadline = gr_deadline(clock, abstime, true);
	if (deadline < 0)
		return EINVAL;
	return join(t, ret, deadline, false);
}

GR_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abstime)
{
	return pthread_clockjoin_np(t, ret, CLOCK_REALTIME, abstime);
}

GR_EXPORT int pthread_detach(pthread_t t)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t)))
		return gr_real.pthread_detach(t);
	return gr_thread_detach(gp);
}

GR_EXPORT void pthread_exit(void *ret)
{
	struct gr_g *gp;

	if (gr_is_ready() && (gp = gr_getg()) && !gp->foreign && !gp->is_g0)
		gr_thread_exit(ret);
	gr_real.pthread_exit(ret);
	__builtin_unreachable();
}

GR_EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct gr_g *gp;

	/* The main G keeps glibc's own description of the main thread's stack. */
	if (!gr_is_ready() || !(gp = gr_thread_g(t)) || gp->is_main)
		return gr_real.pthread_getattr_np(t, attr);
	void *lo;
	size_t size;
	pthread_attr_init(attr);
	gr_thread_stack(gp, &lo, &size);
	pthread_attr_setstack(attr, lo, size);
	pthread_attr_setguardsize(attr, gp->guard_size);
	unsigned join = atomic_load_explicit(&gp->xjoin, memory_order_acquire);
	pthread_attr_setdetachstate(attr, join & GR_JOIN_DETACHED ? PTHREAD_CREATE_DETACHED
								   : PTHREAD_CREATE_JOINABLE);
	gr_lock(&gp->attrlock);
	struct sched_param sp = {.sched_priority = gp->sched_priority};
	pthread_attr_setschedpolicy(attr, gp->sched_policy);
	pthread_attr_setschedparam(attr, &sp);
	if (gp->affinity)
		pthread_attr_setaffinity_np(attr, gp->affinity_size, gp->affinity);
	gr_unlock(&gp->attrlock);
	return 0;
}

/* A G's own id, as a native thread's (see gr_thread_gettid); glibc's asks the kernel. */
GR_EXPORT pid_t gettid(void)
{
	if (!gr_is_ready())
		return (pid_t)syscall(SYS_gettid);
	return gr_thread_gettid();
}

/* glibc's prctl is the bare system call; syscall() answers PR_GET_TID_ADDRESS with the
 * G's own clear_child_tid, where the kernel would answer the M's. */
GR_EXPORT int prctl(int option, ...)
{
	va_list ap;
	unsigned long a[4];

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
}
