/*
 * tests/preload/setid.c - the set*id family (setuid ... setgroups, initgroups) while
 * threads are blocked in cond waits, sleeping and locking. glibc signals every thread
 * (SIGSETXID) and waits for each; under green a wrong TCB makes this hang forever, hence
 * the short timeouts. Both runs must exit 0 with SETID=ok and print the same results as
 * native (EPERM for setgroups/initgroups when not root, 0 as root).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "helpers.h"

ParameterizedTestParameters(setid, no_hang_same_as_native)
{
	static int procs[] = {1, 2, 4};
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, setid, no_hang_same_as_native, .timeout = 30)
{
	const char *args[] = {"20", NULL};
	gr_test_native_vs_green("setid", args, *procs, "SETID", "ok", true, 12);
}
