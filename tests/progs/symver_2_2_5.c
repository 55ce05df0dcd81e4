/*
 * symver_2_2_5 - a binary whose pthread_create reference is bound to the old symbol
 * version pthread_create@GLIBC_2.2.5 (what binaries linked before glibc 2.34 use);
 * symver_2_34.c includes this file to make the @GLIBC_2.34 twin. `objdump -T` on the
 * binary shows "(GLIBC_2.2.5) pthread_create"; the preload test checks that too.
 *
 * Usage: symver_2_2_5
 *
 * Creates a thread and reports whether green runs it, without any help from green:
 *   lib_mapped=yes|no   libgreen.so appears in /proc/self/maps;
 *   tid_fake=yes|no     in the created thread, the tid field of glibc 2.36's struct
 *                       pthread (offset 720 from pthread_self()) differs from the kernel's
 *                       kernel tid (/proc/thread-self): natively equal, a G holds a fake tid;
 *   interposed=yes|no   both of the above.
 * Then thread_ran=yes and the final line SYMVER=ok (exit 0) when the thread ran and
 * returned its value through pthread_join.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef GR_SYMVER
#define GR_SYMVER "GLIBC_2.2.5"
#endif
__asm__(".symver pthread_create,pthread_create@" GR_SYMVER);

/* glibc 2.36 x86-64: offsetof(struct pthread, tid). */
#define GLIBC_PTHREAD_TID_OFFSET 720

static int lib_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "/libgreen.so") != NULL;
	fclose(f);
	return found;
}

static void *thread_fn(void *arg)
{
	int *fake = arg;
	/* The kernel's id of the OS thread running us: /proc/thread-self names it.  (green
	 * answers syscall(SYS_gettid) with the thread's own id, as Python expects.) */
	char link[64] = "";
	ssize_t n = readlink("/proc/thread-self", link, sizeof(link) - 1);
	char *slash = n > 0 ? strrchr(link, '/') : NULL;
	pid_t kernel_tid = slash ? (pid_t)atol(slash + 1) : -1;
	pid_t struct_tid = *(pid_t *)((char *)pthread_self() + GLIBC_PTHREAD_TID_OFFSET);
	*fake = kernel_tid != struct_tid;
	return (void *)(intptr_t)1234;
}

int main(void)
{
	int fake = -1;
	pthread_t t;
	void *ret = NULL;
	int rc = pthread_create(&t, NULL, thread_fn, &fake);
	if (rc == 0)
		rc = pthread_join(t, &ret);
	int mapped = lib_mapped();
	printf("symver=%s\n", GR_SYMVER);
	printf("lib_mapped=%s\n", mapped ? "yes" : "no");
	printf("tid_fake=%s\n", fake == 1 ? "yes" : "no");
	printf("interposed=%s\n", mapped && fake == 1 ? "yes" : "no");
	int ran = rc == 0 && (intptr_t)ret == 1234 && fake >= 0;
	printf("thread_ran=%s\n", ran ? "yes" : "no");
	printf("SYMVER=%s\n", ran ? "ok" : "FAIL");
	return ran ? 0 : 1;
}
