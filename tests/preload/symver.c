/*
 * tests/preload/symver.c - green interposes pthread_create whichever symbol version a
 * binary was linked against (DESIGN.md, "Symbol versions").
 *
 * tests/progs/symver_2_2_5 references pthread_create@GLIBC_2.2.5 (binaries linked before
 * glibc 2.34), symver_2_34 pthread_create@GLIBC_2.34. The first test checks with
 * `objdump -T` that the binaries really carry those references (skipped without
 * objdump). Then each binary runs natively, where it must report interposed=no, and
 * under green, where it must report interposed=yes: libgreen.so is mapped and the created
 * thread's struct pthread holds a fake tid, not the kernel's (see symver_2_2_5.c).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>

#include "helpers.h"

static const char *const bins[] = {"symver_2_2_5", "symver_2_34"};
static const char *const versions[] = {"GLIBC_2.2.5", "GLIBC_2.34"};

ParameterizedTestParameters(symver, binaries_reference_version)
{
	static int idx[] = {0, 1};
	return cr_make_param_array(int, idx, 2);
}

ParameterizedTest(int *i, symver, binaries_reference_version, .timeout = 30)
{
	char *path = gr_test_prog(bins[*i]);
	const char *which[] = {"/bin/sh", "-c", "command -v objdump", NULL};
	struct gr_test_result w = {0};
	gr_test_run(which, NULL, 10, &w);
	if (!gr_test_ok(&w))
		cr_skip("objdump is not installed");
	gr_test_result_free(&w);

	const char *argv[] = {"/bin/sh", "-c", "exec objdump -T \"$0\"", path, NULL};
	struct gr_test_result r = {0};
	gr_test_run(argv, NULL, 20, &r);
	gr_test_assert_ok(&r);
	/* objdump 2.40 writes "(GLIBC_2.34) pthread_create", newer ones may write
	 * "pthread_create@GLIBC_2.34": accept either */
	char a[64], b[64];
	snprintf(a, sizeof a, "(%s) pthread_create\n", versions[*i]);
	snprintf(b, sizeof b, "pthread_create@%s", versions[*i]);
	cr_assert(strstr(r.out, a) || strstr(r.out, b), "%s does not reference %s:\n%s", path, b,
		  r.out);
	gr_test_result_free(&r);
	free(path);
}

ParameterizedTestParameters(symver, interposed_under_green)
{
	static int idx[] = {0, 1};
	return cr_make_param_array(int, idx, 2);
}

ParameterizedTest(int *i, symver, interposed_under_green, .timeout = 30)
{
	gr_test_need_lib();
	char *path = gr_test_prog(bins[*i]);
	const char *argv[] = {path, NULL};
	struct gr_test_result native = {0}, green = {0};
	gr_test_run_both(argv, 2, NULL, 10, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, "SYMVER", "ok");
	gr_test_assert_value(&native, "interposed", "no");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "SYMVER", "ok");
	gr_test_assert_value(&green, "lib_mapped", "yes");
	gr_test_assert_value(&green, "tid_fake", "yes");
	gr_test_assert_value(&green, "interposed", "yes");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}
