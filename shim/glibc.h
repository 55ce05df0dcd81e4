/*
 * glibc-private facts (glibc 2.36, x86-64), each checked at start-up by gr_glibc_init.
 * Nothing outside glibc.c and tls.c reads struct pthread.
 */
#ifndef GR_GLIBC_H
#define GR_GLIBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets in struct pthread (ptype /o struct pthread, glibc 2.36). */
#define GR_PT_DTV 8 /* tcbhead_t.dtv: dtv[-1].counter entries, dtv[0] the generation */
#define GR_PT_MULTIPLE_THREADS 24
#define GR_PT_SYSINFO 32
#define GR_PT_STACK_GUARD 40
#define GR_PT_POINTER_GUARD 48
#define GR_PT_FEATURE_1 72
#define GR_PT_LIST 704
#define GR_PT_TID 720
#define GR_PT_ROBUST_HEAD 736
#define GR_PT_CLEANUP_JMP_BUF 768
#define GR_PT_CANCELHANDLING 776
#define GR_PT_SPECIFIC_1STBLOCK 784
#define GR_PT_SPECIFIC 1296
#define GR_PT_SPECIFIC_USED 1552
#define GR_PT_USER_STACK 1554
#define GR_PT_RESULT 1576
#define GR_PT_STACKBLOCK 1680
#define GR_PT_STACKBLOCK_SIZE 1688
#define GR_PT_GUARDSIZE 1696
#define GR_PT_REPORTED_GUARDSIZE 1704
#define GR_PT_RES 1720
#define GR_PT_SIZE 2368

#define GR_PT(tcb, off, type) (*(type *)((char *)(tcb) + (off)))

struct gr_glibc {
	size_t tls_static_size;	 /* static TLS plus struct pthread */
	size_t tls_static_align;
	void *(*dl_allocate_tls)(void *tcb);
	void *(*dl_allocate_tls_init)(void *tcb); /* over the dtv the TCB already has */
	void (*dl_deallocate_tls)(void *tcb, bool dealloc_tcb);
	void (*ctype_init)(void);
	void (*call_tls_dtors)(void);
	struct gr_pthread_key { uintptr_t seq; void (*destr)(void *); } *keys;
	long rseq_offset;	 /* __rseq_offset: struct rseq relative to the thread pointer */
	ptrdiff_t libc_tls_off;	 /* libc.so's static TLS block, relative to the thread pointer */
	size_t libc_tls_size;
	ptrdiff_t resp_off;	 /* libc's __resp variable, relative to the thread pointer */
	ptrdiff_t errno_off;	 /* errno, relative to the thread pointer */
	void *main_tcb;
};

extern struct gr_glibc gr_glibc;

/* Resolves and checks every fact above.  Returns 0, or -ENOTSUP with a message on stderr
 * when this glibc does not match (green then leaves the program on native threads). */
int gr_glibc_init(void);

#endif
