/*
 * The set*id family.  glibc changes credentials of every thread: the caller signals each
 * thread on glibc's thread list with SIGSETXID (33) and waits until each has run the
 * handler, which marks a flag in its own struct pthread (THREAD_SELF).  Under green both
 * sides must see the kernel thread's own TCB, not a G's: the caller runs the call on its
 * M's kernel TCB (gr_tls_on_kernel_tcb), and glibc's handler is wrapped so that it runs
 * on the interrupted M's kernel TCB.  Otherwise setuid in a program with Gs waits forever.
 *
 * glibc's sigaction refuses signal 33, so the wrapper is installed with rt_sigaction.
 */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "arch/x86_64/syscall.h"
#include "glibc.h"
#include "runtime.h"

#define SIGSETXID 33

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void (*glibc_handler)(int, siginfo_t *, void *);

static void setxid_wrapper(int sig, siginfo_t *si, void *uc)
{
	void *tp = gr_arch_tp();
	struct gr_g *gp = GR_PT(tp, GR_TCB_G, struct gr_g *);
	void *ktcb = gp && !gp->foreign && gp->m ? gp->m->kernel_tcb : tp;

	if (ktcb != tp)
		gr_arch_set_tp(ktcb);
	glibc_handler(sig, si, uc);
	if (ktcb != tp)
		gr_arch_set_tp(tp);
}

int gr_setxid_init(void)
{
	struct kernel_sigaction old, sa;

	if (gr_syscall4(SYS_rt_sigaction, SIGSETXID, NULL, &old, 8) != 0)
		return -1;
	if (!(old.flags & SA_SIGINFO) || !old.handler)
		return 0; /* glibc has none yet (until the first pthread_create): nothing to wrap */
	if (old.handler == setxid_wrapper)
		return 0;
	glibc_handler = old.handler;
	sa = old;
	sa.handler = setxid_wrapper;
	return (int)gr_syscall4(SYS_rt_sigaction, SIGSETXID, &sa, NULL, 8);
}
