/* pthread_once on shim/once.c (glibc's waits with raw futex calls that would block the M). */
#include "interpose.h"

GR_EXPORT int pthread_once(pthread_once_t *once, void (*init)(void))
{
	if (!gr_is_ready())
		return gr_real.pthread_once(once, init);
	return gr_once((_Atomic int *)once, init);
}
