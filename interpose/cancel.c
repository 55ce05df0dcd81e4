/* pthread_cancel and pthread_testcancel (shim/cancel.c).  pthread_setcancelstate and
 * pthread_setcanceltype are glibc's own: they work on a G's struct pthread unchanged. */
#include <pthread.h>

#include "interpose.h"

GR_EXPORT int pthread_cancel(pthread_t t)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t)))
		return gr_real.pthread_cancel(t);
	return gr_cancel(gp);
}

GR_EXPORT void pthread_testcancel(void)
{
	if (!gr_is_ready()) {
		gr_real.pthread_testcancel();
		return;
	}
	gr_cancel_point();
}
