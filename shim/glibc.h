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

/* Offsets in ld.so's struct rtld_global (ptype /o, glibc 2.36). */
#define GR_RTLD_TLS_MAX_DTV_IDX 4200 /* the highest TLS module id in use */
#define GR_RTLD_TLS_SLOTINFO 4208    /* the list of TLS modules by id */

struct gr_glibc {
	size_t tls_static_size;	 /* static TLS plus struct pthread */
	size_t tls_static_align;
	void *(*dl_allocate_tls)(void *tcb);
	/* Over the dtv the TCB already has; init_tls is true but for audit modules. */
	void *(*dl_allocate_tls_init)(void *tcb, bool init_tls);
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
	/* ld.so's highest TLS module id (GL(dl_tls_max_dtv_idx)), which only dlopen and
	 * dlclose change; read relaxed, as __tls_get_addr does.  NULL when its place in
	 * struct rtld_global could not be verified: G dtvs are then malloc'd (tls.c). */
	const size_t *tls_max_dtv_idx;
};

extern struct gr_glibc gr_glibc;

/* Resolves and checks every fact above.  Returns 0, or -ENOTSUP with a message on stderr
 * when this glibc does not match (green then leaves the program on native threads). */
int gr_glibc_init(void);

#endif
