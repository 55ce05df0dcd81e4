/* Unit tests of shim/glibc.c: the glibc-private facts green resolves at start-up match
 * what this process's glibc does, including ld.so's highest TLS module id, which must
 * follow dlopen and dlclose. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#include "arch.h"
#include "glibc.h"
#include "real.h"

static __thread int tls_here = 5;

static void setup(void)
{
	cr_assert_eq(gr_real_init(), 0);
	cr_assert_eq(gr_glibc_init(), 0, "this glibc matches the one green knows");
}

TestSuite(glibc, .init = setup);

static int max_modid(struct dl_phdr_info *info, size_t size, void *arg)
{
	size_t *max = arg;

	(void)size;
	if (info->dlpi_tls_modid > *max)
		*max = info->dlpi_tls_modid;
	return 0;
}

static size_t highest_tls_module(void)
{
	size_t max = 0;

	dl_iterate_phdr(max_modid, &max);
	return max;
}

Test(glibc, thread_facts_match_this_thread)
{
	char *tp = gr_arch_tp();

	cr_assert_eq(gr_glibc.main_tcb, tp);
	cr_assert_eq((void *)(tp + gr_glibc.errno_off), (void *)&errno);
	cr_assert_geq(gr_glibc.tls_static_size, GR_PT_SIZE);
	cr_assert((char *)&tls_here < tp && (char *)&tls_here >= tp - gr_glibc.tls_static_size,
		  "the executable's TLS lies in the static block below the thread pointer");
	cr_assert_eq(GR_PT(tp, GR_PT_DTV, void *) != NULL, true);
}

/* GL(dl_tls_max_dtv_idx) is found, equals the highest module id dl_iterate_phdr reports,
 * grows with a dlopen of a module with TLS and shrinks when that module, the highest, is
 * closed. */
Test(glibc, highest_tls_module_follows_loads)
{
	cr_assert_not_null(gr_glibc.tls_max_dtv_idx, "its place in _rtld_global checked out");
	size_t before = *gr_glibc.tls_max_dtv_idx;
	cr_assert_eq(before, highest_tls_module());
	void *h = dlopen(GR_TEST_PROGS "/libtlsmod.so", RTLD_NOW);
	cr_assert_not_null(h, "%s", dlerror());
	size_t id = 0;
	cr_assert_eq(dlinfo(h, RTLD_DI_TLS_MODID, &id), 0);
	cr_assert_eq(id, before + 1);
	cr_assert_eq(*gr_glibc.tls_max_dtv_idx, id);
	cr_assert_eq(highest_tls_module(), id);
	cr_assert_eq(dlclose(h), 0);
	cr_assert_eq(*gr_glibc.tls_max_dtv_idx, before);
}
