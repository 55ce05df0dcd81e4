/* Per-thread attributes of Gs: name, scheduling parameters, affinity, CPU clock.
 * glibc's own versions would read the G's struct pthread (its fake tid) and act on
 * the wrong kernel thread, so every one that takes a pthread_t is here. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interpose.h"

#define NAME_MAX_LEN 16 /* TASK_COMM_LEN, with the terminating NUL */

GR_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_setname_np(t, name);
	}
	size_t len = strlen(name);
	if (len >= NAME_MAX_LEN)
		return ERANGE;
	gr_lock(&gp->attrlock);
	memcpy(gp->name, name, len + 1);
	gr_unlock(&gp->attrlock);
	return 0;
}

/* The process's name, which a new thread inherits natively. */
static void process_name(char *buf, size_t len)
{
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
}

GR_EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_getname_np(t, buf, len);
	}
	if (len < NAME_MAX_LEN)
		return ERANGE;
	gr_lock(&gp->attrlock);
	bool set = gp->name[0] != 0;
	if (set)
		memcpy(buf, gp->name, NAME_MAX_LEN);
	gr_unlock(&gp->attrlock);
	if (!set)
		process_name(buf, NAME_MAX_LEN);
	return 0;
}

static int check_sched(int policy, int prio)
{
	if (policy != SCHED_OTHER && policy != SCHED_FIFO && policy != SCHED_RR &&
	    policy != SCHED_BATCH && policy != SCHED_IDLE)
		return EINVAL;
	if (prio < sched_get_priority_min(policy) || prio > sched_get_priority_max(policy))
		return EINVAL;
	return 0;
}

GR_EXPORT int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *sp)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_setschedparam(t, policy, sp);
	}
	int r = check_sched(policy, sp->sched_priority);
	if (r)
		return r;
	gr_lock(&gp->attrlock);
	gp->sched_policy = policy;
	gp->sched_priority = sp->sched_priority;
	gr_unlock(&gp->attrlock);
	return 0;
}

GR_EXPORT int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *sp)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_getschedparam(t, policy, sp);
	}
	gr_lock(&gp->attrlock);
	*policy = gp->sched_policy;
	memset(sp, 0, sizeof(*sp));
	sp->sched_priority = gp->sched_priority;
	gr_unlock(&gp->attrlock);
	return 0;
}

GR_EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_setschedprio(t, prio);
	}
	gr_lock(&gp->attrlock);
	int r = check_sched(gp->sched_policy, prio);
	if (r == 0)
		gp->sched_priority = prio;
	gr_unlock(&gp->attrlock);
	return r;
}

GR_EXPORT int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_setaffinity_np(t, size, set);
	}
	/* As the kernel: the mask must name at least one CPU the process may use. */
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return errno;
	bool any = false;
	for (size_t cpu = 0; cpu < size * 8 && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET_S(cpu, size, set) && CPU_ISSET(cpu, &allowed))
			any = true;
	if (!any)
		return EINVAL;
	cpu_set_t *copy = malloc(size);
	if (!copy)
		return ENOMEM;
	memcpy(copy, set, size);
	gr_lock(&gp->attrlock);
	cpu_set_t *old = gp->affinity;
	gp->affinity = copy;
	gp->affinity_size = size;
	gr_unlock(&gp->attrlock);
	free(old);
	return 0;
}

GR_EXPORT int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t))) {
		return gr_real.pthread_getaffinity_np(t, size, set);
	}
	if (sched_getaffinity(0, size, set) != 0) /* also checks size as the kernel does */
		return errno;
	gr_lock(&gp->attrlock);
	if (gp->affinity) {
		memset(set, 0, size);
		memcpy(set, gp->affinity, size < gp->affinity_size ? size : gp->affinity_size);
	}
	gr_unlock(&gp->attrlock);
	return 0;
}
