/*
 * syscall_sud - Syscall User Dispatch (prctl PR_SET_SYSCALL_USER_DISPATCH) with libc's
 * text exempt, as stress-ng's usersyscall stressor sets it up: with the selector on
 * BLOCK, a system call made through libc's syscall() returns its result, and one made
 * by a syscall instruction in the program raises SIGSYS (the handler leaves rax, the
 * call's number, as the result).
 *
 * Prints SUD=ok, SUD=FAIL with the values seen, or SUD=skip where the kernel lacks it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static volatile int traps;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	traps++;
}

/* The executable mapping of libc.so, from /proc/self/maps.  Returns 0 or -1. */
static int libc_text(unsigned long *lo, unsigned long *hi)
{
	char line[512], perm[5], path[256];
	unsigned long a, b;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	*lo = *hi = 0;
	while (fgets(line, sizeof line, f)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %255s", &a, &b, perm, path) < 3)
			continue;
		if (!strcmp(perm, "r-xp") && strstr(path, "/libc.so")) {
			*lo = a;
			*hi = b;
		}
	}
	fclose(f);
	return *lo ? 0 : -1;
}

static long raw_getpid(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return r;
}

int main(void)
{
	unsigned long lo, hi;
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};

	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSYS);
	if (libc_text(&lo, &hi) || sigaction(SIGSYS, &sa, NULL) ||
	    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, lo, hi - lo, &selector)) {
		printf("SUD=skip\n");
		return 0;
	}
	selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	long via_libc = syscall(SYS_getpid);
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	int traps_libc = traps;
	selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	long raw = raw_getpid();
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);

	int ok = via_libc == getpid() && traps_libc == 0 && raw == SYS_getpid && traps == 1;
	if (ok)
		printf("SUD=ok\n");
	else
		printf("SUD=FAIL syscall()=%ld traps=%d raw=%ld traps=%d\n", via_libc, traps_libc,
		       raw, traps);
	return !ok;
}
