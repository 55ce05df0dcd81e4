/*
 * syscall(): libc's generic system-call entry, which Rust's std and libstdc++ use for
 * futexes.  SYS_futex goes to the emulation (shim/futex.c); sched_yield yields the G;
 * SYS_sigaltstack sets the G's own alternate stack (shim/altstack.c);
 * SYS_gettid answers the G's own tid; SYS_set_tid_address and prctl's PR_GET_TID_ADDRESS
 * set and read the G's own clear_child_tid (prctl() itself: thread.c).  The rest go to
 * libc's syscall(), so the instruction runs in libc's text as natively: a short list of
 * calls that never block goes straight there; every other call runs between
 * gr_entersyscall and gr_exitsyscall, so the P goes on with another M if it blocks.
 * Returns -1 with errno set on failure, as glibc's syscall() does.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "interpose.h"

/* System calls that return without blocking: no hand-off needed. */
static bool never_blocks(long n)
{
	switch (n) {
	case SYS_gettid:
	case SYS_getpid:
	case SYS_getppid:
	case SYS_getuid:
	case SYS_geteuid:
	case SYS_getgid:
	case SYS_getegid:
	case SYS_gettimeofday:
	case SYS_clock_gettime:
	case SYS_clock_getres:
	case SYS_time:
	case SYS_getcpu:
	case SYS_getrandom:
	case SYS_mmap:
	case SYS_munmap:
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_brk:
	case SYS_mremap:
	case SYS_rt_sigprocmask:
	case SYS_rt_sigaction:
	case SYS_membarrier:
	case SYS_prctl:
	case SYS_getrusage:
	case SYS_getrlimit:
	case SYS_prlimit64:
	case SYS_sched_getaffinity:
	case SYS_uname:
	case SYS_tgkill:
	case SYS_tkill:
	case SYS_kill:
	case SYS_rseq:
	case SYS_set_robust_list:
	case SYS_get_robust_list:
	case SYS_arch_prctl:
	case SYS_pidfd_open:
	case SYS_eventfd2:
	case SYS_dup:
	case SYS_dup3:
	case SYS_pipe2:
	case SYS_getdents64:
	case SYS_memfd_create:
	case SYS_statx:
	case SYS_fstat:
	case SYS_lseek:
		return true;
	default:
		return false;
	}
}

static long ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

GR_EXPORT long syscall(long n, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!gr_is_ready())
		return ret(gr_syscall6(n, a[0], a[1], a[2], a[3], a[4], a[5]));
	if (n == SYS_futex) {
		long r = gr_futex((uint32_t *)a[0], (int)a[1], (uint32_t)a[2], a[3],
		                  (uint32_t *)a[4], (uint32_t)a[5]);
		gr_preempt_check();
		return ret(r);
	}
	if (n == SYS_gettid) {
		/* A G's thread id is its own, as a native thread's is: CPython's
		 * threading.get_native_id, for one, calls syscall(SYS_gettid) and expects
		 * one id per thread. */
		return gr_thread_gettid();
	}
	if (n == SYS_set_tid_address) /* the G's own clear_child_tid (thread.c) */
		return gr_thread_set_tid_address((int *)a[0]);
	if (n == SYS_prctl && a[0] == PR_GET_TID_ADDRESS) {
		int *addr;
		if (gr_thread_tid_address(&addr)) {
			*(int **)a[1] = addr;
			return 0;
		}
	}
	if (n == SYS_tgkill || n == SYS_tkill) {
		int err;
		bool tk = n == SYS_tkill;
		if (gr_sig_kill_tid(tk ? -1 : (pid_t)a[0], (pid_t)a[tk ? 0 : 1],
				    (int)a[tk ? 1 : 2], &err))
			return ret(-err);
	}
	if (n == SYS_sigaltstack) /* per G, like the libc function (shim/altstack.c) */
		return ret(gr_altstack_set((const stack_t *)a[0], (stack_t *)a[1]));
	if (n == SYS_sched_yield) {
		gr_yield();
		return 0;
	}
	/* Through libc's syscall(), so the instruction runs in libc's text as natively: a
	 * Syscall User Dispatch range (prctl PR_SET_SYSCALL_USER_DISPATCH) that exempts
	 * libc would otherwise trap the program's own calls (stress-ng usersyscall). */
	long (*real)(long, ...) = gr_real_sys()->syscall;
	if (never_blocks(n))
		return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	gr_entersyscall();
	long r = real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	int e = errno;
	gr_exitsyscall();
	errno = e;
	return r;
}
