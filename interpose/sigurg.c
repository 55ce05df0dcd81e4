/*
 * sigaction and signal for the preemption signal (SIGURG unless GREEN_PREEMPT_SIGNAL):
 * green's handler stays installed and the program's is recorded, to be called for every
 * such signal green did not send itself (shim/preempt.c).  Every other signal passes
 * straight to glibc.  When the signals work interposes sigaction for all signals, its
 * interposer calls gr_preempt_sigaction first and this file goes away.
 */
#include <signal.h>
#include <string.h>

#include "interpose.h"

GR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (gr_preempt_sigaction(sig, act, old))
		return 0;
	return gr_real_sys()->sigaction(sig, act, old);
}

GR_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	act.sa_flags = SA_RESTART; /* glibc's signal() has BSD semantics */
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	if (gr_preempt_sigaction(sig, &act, &old))
		return old.sa_handler;
	return gr_real_sys()->signal(sig, handler);
}
