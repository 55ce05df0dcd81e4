/* pthread_spin_*: glibc's spin forever, which on a P whose lock holder is descheduled
 * would livelock; green's spin a little, then yield the P (shim/futex.c). */
#include <errno.h>

#include "interpose.h"

GR_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	(void)pshared; /* the same code serves both */
	*l = 0;
	return 0;
}

GR_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
	(void)l;
	return 0;
}

GR_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	if (!gr_is_ready()) {
		gr_real_sync_init();
		return gr_real_sync.pthread_spin_lock(l);
	}
	return gr_spin_lock((_Atomic int *)l);
}

GR_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	return gr_spin_trylock((_Atomic int *)l);
}

GR_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	return gr_spin_unlock((_Atomic int *)l);
}
