/*
 * The real functions behind the system-call wrappers (interpose/syscall.c) and
 * preemption: a table resolved on first use with dlsym(RTLD_NEXT), separate from gr_real
 * so that a missing optional symbol (an old glibc without statx) never stops green.
 */
#include <dlfcn.h>

#include "real.h"

struct gr_real_sys gr_real_sys_table;
_Atomic int gr_real_sys_ready;

void gr_real_sys_init(void)
{
#define GR_REAL_SYS_RESOLVE(ret, name, args)                                             \
	gr_real_sys_table.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	GR_REAL_SYS_FUNCS(GR_REAL_SYS_RESOLVE)
#undef GR_REAL_SYS_RESOLVE
	__atomic_store_n(&gr_real_sys_ready, 1, __ATOMIC_RELEASE);
}
