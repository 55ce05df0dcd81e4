/* Signals per G (shim/signal.c): masks, pthread_kill, sigwait and sigsuspend; the
 * alternate signal stack per G (shim/altstack.c). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "interpose.h"

GR_EXPORT int pthread_kill(pthread_t t, int sig)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t)))
		return gr_real.pthread_kill(t, sig);
	return gr_sig_kill(gp, sig, NULL);
}

/* The tid of a G (gettid) names that G, as a kernel tid names its thread. */
GR_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
	int err;

	if (gr_is_ready() && gr_sig_kill_tid(tgid, tid, sig, &err)) {
		errno = err;
		return err ? -1 : 0;
	}
	return (int)syscall(SYS_tgkill, tgid, tid, sig);
}

GR_EXPORT int pthread_sigqueue(pthread_t t, int sig, const union sigval value)
{
	struct gr_g *gp;

	if (!gr_is_ready() || !(gp = gr_thread_g(t)))
		return gr_real.pthread_sigqueue(t, sig, value);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value = value;
	return gr_sig_kill(gp, sig, &si);
}

GR_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!gr_is_ready()) {
		/* Before green runs: the kernel's mask is the thread's. */
		return sigprocmask(how, set, old) ? errno : 0;
	}
	return gr_sig_setmask(how, set, old);
}

GR_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r;

	if (!gr_is_ready()) {
		sigset_t s;
		if (set) {
			s = *set;
			sigdelset(&s, 32);
			sigdelset(&s, 33);
		}
		long k = syscall(SYS_rt_sigprocmask, how, set ? &s : NULL, old, 8);
		return k ? -1 : 0;
	}
	if ((r = gr_sig_setmask(how, set, old)) != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

GR_EXPORT int sigpending(sigset_t *set)
{
	if (!gr_is_ready())
		return (int)syscall(SYS_rt_sigpending, set, 8);
	gr_sig_pending(set);
	return 0;
}

GR_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	int r = gr_is_ready() ? gr_altstack_set(ss, old) :
	                        (int)gr_syscall(SYS_sigaltstack, ss, old, 0);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

static int wait_common(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	int r = gr_sig_wait(set, info, ts);

	if (r == -EINTR)
		gr_cancel_point();
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

GR_EXPORT int sigwait(const sigset_t *set, int *sig)
{
	int r;

	do
		r = gr_sig_wait(set, NULL, NULL);
	while (r == -EINTR && (gr_cancel_point(), true));
	if (r < 0)
		return -r;
	*sig = r;
	return 0;
}

GR_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return wait_common(set, info, NULL);
}

GR_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	return wait_common(set, info, ts);
}

GR_EXPORT int sigsuspend(const sigset_t *mask)
{
	int r = gr_sig_suspend(mask);

	gr_cancel_point();
	errno = -r;
	return -1;
}

GR_EXPORT int pause(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigsuspend(&cur);
}
