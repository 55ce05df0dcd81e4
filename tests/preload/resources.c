/*
 * tests/preload/resources.c - what the runtime costs when nothing happens, and when
 * threads come and go for ever.
 *
 * idle: tests/progs/idle blocks 8 threads (cond wait, long nanosleep, pipe read) and
 * measures the process CPU time over 2 s; IDLE=ok means under 1% of one CPU. Run
 * natively and under green with GREEN_MAXPROCS = 1, 2, 4 and unset (one P per CPU). This
 * is the contract "an idle process burns no CPU" (idle Ms park, sysmon backs off), not a
 * speed assertion.
 *
 * rss_flat: tests/progs/rss_flat creates and joins threads in batches of 100, each doing
 * a malloc/free and touching __thread data, and checks that VmRSS grows less than 20 MiB
 * from the first tenth to the end. Under green 1,000,000 threads (the issue asks for 10
 * million; 1M keeps the test short); natively only 100,000, since a native create+join
 * costs tens of microseconds (the native run only proves the program itself is sound).
 *
 * fd_table: the kernel's descriptor table is grown before main (shim/fd.c,
 * gr_fd_reserve), not at the first pthread_create, where growing it cost 10-20 ms.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "helpers.h"

ParameterizedTestParameters(resources, idle_burns_no_cpu)
{
	static int procs[] = {1, 2, 4, 0};	/* 0: GREEN_MAXPROCS unset */
	return cr_make_param_array(int, procs, sizeof procs / sizeof procs[0]);
}

ParameterizedTest(int *procs, resources, idle_burns_no_cpu, .timeout = 60)
{
	gr_test_native_vs_green("idle", NULL, *procs, "IDLE", "ok", false, 25);
}

Test(resources, rss_flat_native, .timeout = 120)
{
	char *path = gr_test_prog("rss_flat");
	const char *argv[] = {path, "100000", "100", "20", NULL};
	struct gr_test_result r = {0};
	gr_test_run_native(argv, NULL, 100, &r);
	gr_test_assert_ok(&r);
	gr_test_assert_value(&r, "threads", "100000");
	gr_test_assert_value(&r, "RSS_FLAT", "ok");
	gr_test_result_free(&r);
	free(path);
}

Test(resources, rss_flat_green_1m_threads, .timeout = 300)
{
	gr_test_need_lib();
	char *path = gr_test_prog("rss_flat");
	const char *argv[] = {path, "1000000", "100", "20", NULL};
	struct gr_test_result r = {0};
	gr_test_run_green(argv, 2, NULL, 280, &r);
	cr_log_info("rss_flat 1M under green: %.1f s", r.wall_s);
	gr_test_assert_ok(&r);
	gr_test_assert_value(&r, "threads", "1000000");
	gr_test_assert_value(&r, "bad_results", "0");
	gr_test_assert_value(&r, "RSS_FLAT", "ok");
	gr_test_result_free(&r);
	free(path);
}

/* The descriptor table covers green's high numbers before main, while one thread runs. */
Test(resources, fd_table_grown_before_main, .timeout = 60)
{
	gr_test_green_expect("fd_table", NULL, 2, NULL, "GROWN", "yes", 20.0);
}
