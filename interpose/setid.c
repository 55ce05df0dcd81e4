/* The set*id family runs on the M's kernel TCB (see shim/setxid.c); errno comes back to
 * the calling G. */
#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "interpose.h"

struct setid_call {
	int which;
	long a, b, c;
	int ret, err;
};

enum { SETUID, SETGID, SETEUID, SETEGID, SETREUID, SETREGID, SETRESUID, SETRESGID, SETGROUPS };

static void setid_on_kernel_tcb(void *arg)
{
	struct setid_call *c = arg;

	switch (c->which) {
	case SETUID: c->ret = gr_real.setuid(c->a); break;
	case SETGID: c->ret = gr_real.setgid(c->a); break;
	case SETEUID: c->ret = gr_real.seteuid(c->a); break;
	case SETEGID: c->ret = gr_real.setegid(c->a); break;
	case SETREUID: c->ret = gr_real.setreuid(c->a, c->b); break;
	case SETREGID: c->ret = gr_real.setregid(c->a, c->b); break;
	case SETRESUID: c->ret = gr_real.setresuid(c->a, c->b, c->c); break;
	case SETRESGID: c->ret = gr_real.setresgid(c->a, c->b, c->c); break;
	case SETGROUPS: c->ret = gr_real.setgroups(c->a, (const gid_t *)c->b); break;
	}
	c->err = errno;
}

static int setid(int which, long a, long b, long c)
{
	struct setid_call call = {which, a, b, c, 0, 0};

	if (gr_real.setuid == NULL && gr_real_init() != 0) {
		errno = ENOSYS;
		return -1;
	}
	if (gr_is_ready())
		gr_tls_on_kernel_tcb(setid_on_kernel_tcb, &call);
	else
		setid_on_kernel_tcb(&call);
	if (call.ret < 0)
		errno = call.err;
	return call.ret;
}

GR_EXPORT int setuid(uid_t u) { return setid(SETUID, u, 0, 0); }
GR_EXPORT int setgid(gid_t g) { return setid(SETGID, g, 0, 0); }
GR_EXPORT int seteuid(uid_t u) { return setid(SETEUID, u, 0, 0); }
GR_EXPORT int setegid(gid_t g) { return setid(SETEGID, g, 0, 0); }
GR_EXPORT int setreuid(uid_t r, uid_t e) { return setid(SETREUID, r, e, 0); }
GR_EXPORT int setregid(gid_t r, gid_t e) { return setid(SETREGID, r, e, 0); }
GR_EXPORT int setresuid(uid_t r, uid_t e, uid_t s) { return setid(SETRESUID, r, e, s); }
GR_EXPORT int setresgid(gid_t r, gid_t e, gid_t s) { return setid(SETRESGID, r, e, s); }
GR_EXPORT int setgroups(size_t n, const gid_t *list) { return setid(SETGROUPS, (long)n, (long)list, 0); }
