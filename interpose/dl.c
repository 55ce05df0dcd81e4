/*
 * dlopen and dlmopen, bracketed so that a module with static TLS loaded while Gs exist
 * gets its initial image in every G (shim/tls.c: gr_tls_load_begin/end).
 *
 * glibc takes the object that called dlopen from the call's return address: the new
 * module goes into that object's namespace, and a bare file name is searched along that
 * object's DT_RPATH or DT_RUNPATH.  A C wrapper would make libgreen.so the caller.  So
 * the exported symbols are stubs that keep the program's return address: they ask
 * gr_dl_route where to go, and jump there with the arguments untouched.  The bracketing
 * wrapper is chosen only when calling from libgreen.so loads the same thing (the caller
 * is in the base namespace and, for a bare name, has neither DT_RPATH nor DT_RUNPATH);
 * otherwise the stub jumps to glibc's dlopen itself, which sees the program's caller.
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "interpose.h"
#include "tls.h"

/* Whether glibc would load the same module for file with libgreen.so as the caller as
 * with caller. */
static bool same_from_green(const void *caller, const char *file, bool check_ns)
{
	struct link_map *lm = NULL;
	Dl_info info;

	if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false;
	if (check_ns) {
		Lmid_t ns;
		if (dlinfo(lm, RTLD_DI_LMID, &ns) != 0 || ns != LM_ID_BASE)
			return false;
	}
	if (!file || strchr(file, '/'))
		return true;
	for (const ElfW(Dyn) *d = lm->l_ld; d && d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_RPATH || d->d_tag == DT_RUNPATH)
			return false;
	return true;
}

static void *bracketed_dlopen(const char *file, int mode)
{
	struct gr_tls_load ld;

	gr_tls_load_begin(&ld);
	void *h = gr_real_sys()->dlopen(file, mode);
	gr_tls_load_end(&ld);
	return h;
}

static void *bracketed_dlmopen(Lmid_t ns, const char *file, int mode)
{
	struct gr_tls_load ld;

	gr_tls_load_begin(&ld);
	void *h = gr_real_sys()->dlmopen(ns, file, mode);
	gr_tls_load_end(&ld);
	return h;
}

/* Called by the stubs below: the function they jump to. */
__attribute__((used)) void *gr_dl_route(const void *caller, const char *file, bool m);
__attribute__((used)) void *gr_dl_route(const void *caller, const char *file, bool m)
{
	const struct gr_real_sys *real = gr_real_sys();

	if (m)
		return same_from_green(caller, file, false) ? (void *)bracketed_dlmopen
							      : (void *)real->dlmopen;
	return same_from_green(caller, file, true) ? (void *)bracketed_dlopen : (void *)real->dlopen;
}

/* The stubs: save the argument registers, call gr_dl_route(return address, file, m), and
 * jump to what it returns with the registers restored and the return address in place. */
#define GR_DL_STUB(name, file_slot, m)                                                   \
	__asm__(".text\n"                                                                \
		".globl " #name "\n"                                                     \
		".type " #name ", @function\n"                                           \
		".p2align 4\n" #name ":\n"                                               \
		".cfi_startproc\n"                                                       \
		"pushq %rdi\n.cfi_adjust_cfa_offset 8\n"                                 \
		"pushq %rsi\n.cfi_adjust_cfa_offset 8\n"                                 \
		"pushq %rdx\n.cfi_adjust_cfa_offset 8\n"                                 \
		"movq 24(%rsp), %rdi\n"                                                  \
		"movq " #file_slot "(%rsp), %rsi\n"                                      \
		"movl $" #m ", %edx\n"                                                   \
		"call gr_dl_route\n"                                                     \
		"popq %rdx\n.cfi_adjust_cfa_offset -8\n"                                 \
		"popq %rsi\n.cfi_adjust_cfa_offset -8\n"                                 \
		"popq %rdi\n.cfi_adjust_cfa_offset -8\n"                                 \
		"jmp *%rax\n"                                                            \
		".cfi_endproc\n"                                                         \
		".size " #name ", .-" #name "\n")

/* dlopen(file, mode): file in rdi, saved at 16(%rsp). */
GR_DL_STUB(dlopen, 16, 0);
/* dlmopen(ns, file, mode): file in rsi, saved at 8(%rsp). */
GR_DL_STUB(dlmopen, 8, 1);
