/*
 * Alternate signal stacks (Go: gsignal, minitSignalStack; sigaltstack(2)).
 *
 * The kernel keeps one alternate signal stack per OS thread, but the program sets one per
 * thread of its own, which here is a G that migrates between Ms.  Passing its calls
 * through left a G's stack installed on whichever M it ran on: Rust's std gives every
 * thread a stack at start and, at exit, disables the altstack of the M the thread then
 * runs on and unmaps the memory, while the M it started on still had it installed.  The
 * next handler with SA_ONSTACK on that M (green's preemption handler, Rust's SIGSEGV
 * handler) made the kernel push its frame onto unmapped memory: SIGSEGV (SI_KERNEL)
 * right after a system call (sync_rust, a few runs in 40).
 *
 * So, as Go does: every M has an alternate stack of green's own, installed on its OS
 * thread when the M starts and never changed, and the program's sigaltstack (the libc
 * function and syscall(SYS_sigaltstack)) is per G: recorded in gp->altstack, reported
 * back by later calls with the kernel's error rules, never loaded into the kernel.
 * Every SA_ONSTACK handler then runs on the M's stack, which lives as long as the M.
 * Foreign threads and calls before green is ready keep the real call.
 *
 * Rejected: loading the G's stack into the kernel at every switch (like the signal mask):
 * every Rust thread has a stack of its own, so nearly every switch would cost a system
 * call, and a stack freed by its G on another M would still be installed until the next
 * switch.
 *
 * A handler that parks its G while on the M's stack (a contended mutex inside a handler)
 * leaves its frames there: the G is locked to the M until it runs again, and the M runs
 * no other G meanwhile (proc.c, lock_to_m), so the frames never meet another handler.
 *
 * A handler running on the G's own stack may leave on one M and return on another (Boehm
 * GC's suspend handler waits in sigsuspend, a system call whose G can lose its P).  The
 * kernel's sigreturn then installs, on the second M, the alternate stack saved in the
 * frame: the first M's.  Two Ms sharing one stack corrupted each other's preemption
 * frames (gc_boehm: a jump to a garbage address in about 1 run of 200).  So green's own
 * handlers write the current M's stack into their frame before they return
 * (gr_altstack_frame_own), and a delivery by tgkill (signal.c) reinstalls the current
 * M's stack when the program's handler returned on another M (gr_altstack_moved).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>

#include "arch/x86_64/syscall.h"
#include "runtime.h"
#include "sig.h"
#include "stack.h"

/* The kernel's MINSIGSTKSZ for x86-64 (glibc's macro may call sysconf under _GNU_SOURCE). */
#define KERNEL_MINSIGSTKSZ 2048
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1u << 31) /* linux/signal.h; glibc 2.36 does not define it */
#endif

void gr_altstack_m_init(struct gr_m *mp, stack_t *prev)
{
	size_t guard = gr_stack_page();
	stack_t ss;

	if (prev)
		gr_syscall(SYS_sigaltstack, NULL, prev, 0);
	char *base = mmap(NULL, guard + GR_ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return;
	if (mprotect(base, guard, PROT_NONE) != 0)
		goto out_unmap;
	ss.ss_sp = base + guard;
	ss.ss_size = GR_ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (gr_syscall(SYS_sigaltstack, &ss, NULL, 0) == 0) {
		mp->sigstk_lo = ss.ss_sp;
		mp->sigstk_size = ss.ss_size;
		return;
	}
out_unmap:
	munmap(base, guard + GR_ALTSTACK_SIZE);
}

void gr_altstack_moved(struct gr_m *mp)
{
	stack_t ss = {.ss_sp = mp->sigstk_lo, .ss_size = mp->sigstk_size, .ss_flags = 0};

	if (mp->sigstk_size)
		gr_syscall(SYS_sigaltstack, &ss, NULL, 0);
}

void gr_altstack_frame_own(struct gr_m *mp, ucontext_t *uc)
{
	if (!mp->sigstk_size)
		return;
	uc->uc_stack.ss_sp = mp->sigstk_lo;
	uc->uc_stack.ss_size = mp->sigstk_size;
	uc->uc_stack.ss_flags = 0;
}

/* Copies n bytes from the program's src (write false) or to the program's dst (write
 * true), as the kernel's copy_from_user/copy_to_user: -EFAULT for a bad address instead
 * of a fault. */
static int copy_user(void *dst, const void *src, size_t n, bool write)
{
	struct iovec mine = { write ? (void *)src : dst, n };
	struct iovec theirs = { write ? dst : (void *)src, n };
	long pid = gr_syscall(SYS_getpid, 0, 0, 0);
	long r = gr_syscall6(write ? SYS_process_vm_writev : SYS_process_vm_readv, pid, (long)&mine,
	                     1, (long)&theirs, 1, 0);

	if (r == (long)n)
		return 0;
	if (r >= 0 || r == -EFAULT)
		return -EFAULT;
	/* process_vm_* refused (a seccomp filter): plain copies, as far as we can. */
	__builtin_memcpy(dst, src, n);
	return 0;
}

/* Whether the calling code runs on the M's alternate stack (in an SA_ONSTACK handler). */
static bool on_m_stack(void)
{
	stack_t k;

	return gr_syscall(SYS_sigaltstack, NULL, &k, 0) == 0 && (k.ss_flags & SS_ONSTACK);
}

/* Whether the program would be running on its alternate stack: it has one, and the
 * calling code runs either inside it or in an SA_ONSTACK handler that the kernel put on
 * the M's stack in its place (unless the G had none when that handler began). */
static bool on_altstack(const struct gr_g *gp)
{
	const stack_t *rec = &gp->altstack;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	if (rec->ss_size == 0)
		return false;
	if (sp > (uintptr_t)rec->ss_sp && sp - (uintptr_t)rec->ss_sp <= rec->ss_size)
		return true;
	return !gp->altstack_late && on_m_stack();
}

int gr_altstack_set(const stack_t *ss, stack_t *old)
{
	struct gr_g *gp = gr_getg();
	stack_t in, out;
	int r;

	if (!gr_g_schedulable(gp))
		return (int)gr_syscall(SYS_sigaltstack, ss, old, 0);
	if (ss && (r = copy_user(&in, ss, sizeof(in), false)) != 0)
		return r;
	/* The order of checks is the kernel's (do_sigaltstack). */
	bool onstack = on_altstack(gp);
	out.ss_sp = gp->altstack.ss_sp;
	out.ss_size = gp->altstack.ss_size;
	out.ss_flags = (gp->altstack.ss_size == 0 ? SS_DISABLE :
	                onstack                   ? SS_ONSTACK :
	                                            0) |
	               (int)((unsigned)gp->altstack.ss_flags & SS_AUTODISARM);
	if (ss) {
		int mode = (int)((unsigned)in.ss_flags & ~SS_AUTODISARM);
		if (onstack)
			return -EPERM;
		if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
			return -EINVAL;
		if (mode == SS_DISABLE) {
			in.ss_sp = NULL;
			in.ss_size = 0;
		} else if (in.ss_size < KERNEL_MINSIGSTKSZ) {
			return -ENOMEM;
		}
		gp->altstack_late = mode != SS_DISABLE && on_m_stack();
		gp->altstack = in;
	}
	if (old)
		return copy_user(old, &out, sizeof(out), true);
	return 0;
}
