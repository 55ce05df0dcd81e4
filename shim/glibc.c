/*
 * glibc-private facts, resolved once and checked against the running glibc.
 *
 * green builds each G's struct pthread itself (tls.c), so it depends on the layout of
 * glibc 2.36's struct pthread and on a few GLIBC_PRIVATE exports of ld.so and libc.  Each
 * is verified here against the main thread, which glibc built itself: a different glibc
 * makes gr_glibc_init fail and green stays out of the way instead of corrupting memory.
 * One fact is optional: where ld.so keeps its highest TLS module id, without which each
 * G's dtv is glibc's malloc'd one (tls.c).
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

/* ld.so's list of the TLS modules by id (struct dtv_slotinfo_list); slot 0 is unused. */
struct slotinfo_list {
	size_t len;
	const struct slotinfo_list *next;
	struct {
		size_t gen;
		const struct link_map *map;
	} slot[];
};

struct tls_modules {
	size_t max;			   /* the highest module id dl_iterate_phdr reports */
	const struct slotinfo_list *list; /* when set: the list each module is checked in */
	bool mismatch;
};

/* dl_iterate_phdr callback: notes the highest TLS module id, or checks that the list
 * holds each module at its id. */
static int note_tls_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct tls_modules *tm = arg;
	size_t id = info->dlpi_tls_modid;
	const struct slotinfo_list *l = tm->list;

	(void)size;
	if (!id)
		return 0;
	if (!l) {
		tm->max = id > tm->max ? id : tm->max;
		return 0;
	}
	while (l && id >= l->len) {
		id -= l->len;
		l = l->next;
	}
	if (!l || !l->slot[id].map || l->slot[id].map->l_addr != info->dlpi_addr)
		tm->mismatch = true;
	return 0;
}

/* GL(dl_tls_max_dtv_idx), once its place is checked: it holds the highest module id in
 * use, and the pointer after it is the module list, which holds each module at its id. */
static const size_t *find_tls_max_dtv_idx(void)
{
	char *rtld = dlsym(RTLD_DEFAULT, "_rtld_global");
	const ElfW(Sym) *sym = NULL;
	struct tls_modules tm = {0};
	Dl_info info;

	if (!rtld || !dladdr1(rtld, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    sym->st_size < GR_RTLD_TLS_SLOTINFO + sizeof(void *))
		return NULL;
	dl_iterate_phdr(note_tls_module, &tm);
	const size_t *max = (const size_t *)(rtld + GR_RTLD_TLS_MAX_DTV_IDX);
	if (!tm.max || *max != tm.max)
		return NULL;
	tm.list = *(const struct slotinfo_list **)(rtld + GR_RTLD_TLS_SLOTINFO);
	if (!tm.list)
		return NULL;
	dl_iterate_phdr(note_tls_module, &tm);
	return tm.mismatch ? NULL : max;
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
	gr_glibc.tls_max_dtv_idx = find_tls_max_dtv_idx();
	return 0;
}
