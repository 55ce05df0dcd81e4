/*
 * glibc-private facts, resolved once and checked against the running glibc.
 *
 * green builds each G's struct pthread itself (tls.c), so it depends on the layout of
 * glibc 2.36's struct pthread and on a few GLIBC_PRIVATE exports of ld.so and libc.  Each
 * is verified here against the main thread, which glibc built itself: a different glibc
 * makes gr_glibc_init fail and green stays out of the way instead of corrupting memory.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "arch/x86_64/syscall.h"
#include "glibc.h"
#include "lock.h"
#include "real.h"

struct gr_glibc gr_glibc;

/* libc's resolver state accessor (resolv.h would rename p_type, which link.h needs). */
extern struct __res_state *__res_state(void);

static void complain(const char *what)
{
	gr_real_msg("green: this glibc does not match what green was built for (", what,
		    "); running on native threads\n");
}

struct find_libc {
	void *tls_data;
	size_t tls_size;
};

/* dl_iterate_phdr callback: the TLS block of libc.so.6 in the calling thread. */
static int find_libc_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find_libc *fl = arg;
	(void)size;

	if (!strstr(info->dlpi_name, "/libc.so.6"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_TLS) {
			fl->tls_data = info->dlpi_tls_data;
			fl->tls_size = info->dlpi_phdr[i].p_memsz;
		}
	}
	return 1;
}

int gr_glibc_init(void)
{
	void (*get_static_info)(size_t *, size_t *) = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	long *rseq_offset = dlsym(RTLD_DEFAULT, "__rseq_offset");
	char *tp = gr_arch_tp();

	gr_glibc.dl_allocate_tls = dlsym(RTLD_DEFAULT, "_dl_allocate_tls");
	gr_glibc.dl_allocate_tls_init = dlsym(RTLD_DEFAULT, "_dl_allocate_tls_init");
	gr_glibc.dl_deallocate_tls = dlsym(RTLD_DEFAULT, "_dl_deallocate_tls");
	gr_glibc.ctype_init = dlsym(RTLD_DEFAULT, "__ctype_init");
	gr_glibc.call_tls_dtors = dlsym(RTLD_DEFAULT, "__call_tls_dtors");
	gr_glibc.keys = dlsym(RTLD_DEFAULT, "__pthread_keys");
	if (!get_static_info || !rseq_offset || !gr_glibc.dl_allocate_tls ||
	    !gr_glibc.dl_allocate_tls_init || !gr_glibc.dl_deallocate_tls || !gr_glibc.ctype_init || !gr_glibc.call_tls_dtors ||
	    !gr_glibc.keys) {
		complain("a GLIBC_PRIVATE symbol is missing");
		return -ENOTSUP;
	}
	get_static_info(&gr_glibc.tls_static_size, &gr_glibc.tls_static_align);
	gr_glibc.rseq_offset = *rseq_offset;
	gr_glibc.main_tcb = tp;

	/* The main thread's struct pthread, as glibc built it. */
	if (GR_PT(tp, 0, void *) != tp || GR_PT(tp, 16, void *) != tp ||
	    GR_PT(tp, GR_PT_TID, pid_t) != (pid_t)gr_syscall(SYS_gettid, 0, 0, 0) ||
	    gr_glibc.tls_static_size < GR_PT_SIZE || gr_glibc.tls_static_align < 16 ||
	    gr_glibc.tls_static_align > 4096 ||
	    GR_PT(tp, GR_PT_ROBUST_HEAD, void *) != tp + GR_PT_ROBUST_HEAD ||
	    GR_PT(tp, GR_PT_SPECIFIC, void *) != tp + GR_PT_SPECIFIC_1STBLOCK) {
		complain("struct pthread layout");
		return -ENOTSUP;
	}
	if (gr_glibc.rseq_offset != 0 && gr_glibc.rseq_offset != 2336) {
		complain("rseq area offset");
		return -ENOTSUP;
	}

	struct find_libc fl = {0};
	dl_iterate_phdr(find_libc_tls, &fl);
	if (!fl.tls_data || fl.tls_size == 0 || (char *)fl.tls_data > tp) {
		complain("libc's static TLS block");
		return -ENOTSUP;
	}
	gr_glibc.libc_tls_off = (char *)fl.tls_data - tp;
	gr_glibc.libc_tls_size = fl.tls_size;
	gr_glibc.errno_off = (char *)&errno - tp;

	/* __resp is the only word of libc's block that points at this thread's res. */
	gr_glibc.resp_off = 0;
	for (size_t off = 0; off + 8 <= fl.tls_size; off += 8) {
		if (*(void **)((char *)fl.tls_data + off) == (void *)__res_state()) {
			gr_glibc.resp_off = gr_glibc.libc_tls_off + (ptrdiff_t)off;
			break;
		}
	}
	if (gr_glibc.resp_off == 0) {
		complain("libc's __resp variable");
		return -ENOTSUP;
	}
	return 0;
}
