/*
 * The table of real libc functions (see real.h).  Resolved before anything else in
 * gr_init; until then every interposer passes straight through to this table, which
 * resolves itself on first use (a program's own constructors may run before green's).
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#include "arch/x86_64/syscall.h"
#include "real.h"

struct gr_real gr_real;

void gr_real_msg(const char *a, const char *b, const char *c)
{
	const char *s[3] = {a, b, c};

	for (int i = 0; i < 3; i++)
		if (s[i])
			gr_syscall(SYS_write, 2, s[i], strlen(s[i]));
}

int gr_real_init(void)
{
#define GR_REAL_RESOLVE(ret, name, args)                                                 \
	gr_real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);                             \
	if (!gr_real.name) {                                                             \
		gr_real_msg("green: cannot resolve ", #name, "\n");                      \
		return -ENOSYS;                                                          \
	}
	GR_REAL_FUNCS(GR_REAL_RESOLVE)
#undef GR_REAL_RESOLVE
	return 0;
}
