/* Raw Linux system calls for x86-64.  The shim uses these where it must not touch errno
 * (errno is the running G's variable) or must not enter a function that green interposes.
 * Each returns the kernel's value: >= 0, or -errno. */
#ifndef GR_ARCH_SYSCALL_H
#define GR_ARCH_SYSCALL_H

static inline long gr_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define gr_syscall(n, a, b, c) gr_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define gr_syscall4(n, a, b, c, d) gr_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#endif
