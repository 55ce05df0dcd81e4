/*
 * tests/preload/harness.c - the helpers the preload suites stand on (tests/helpers.c),
 * checked with /bin/sh so that a failure here is the harness's, never green's: exit codes
 * and signals are reported, output is captured whole and stdout apart from stderr, a run
 * past its deadline is killed with its children, the environment of native runs has no
 * LD_PRELOAD, and the KEY=value parsing and diffing behave.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "helpers.h"

static void sh(const char *script, const char *const env[], double timeout_s,
	       struct gr_test_result *r)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	cr_assert(gr_test_run(argv, env, timeout_s, r) == 0);
}

Test(harness, exit_code_and_streams, .timeout = 20)
{
	struct gr_test_result r = {0};
	sh("echo out; echo err >&2; exit 3", NULL, 10, &r);
	cr_assert_eq(r.exit_code, 3);
	cr_assert_eq(r.term_signal, 0);
	cr_assert(!r.timed_out);
	cr_assert_str_eq(r.out, "out\n");
	cr_assert_str_eq(r.err, "err\n");
	cr_assert(!gr_test_ok(&r));
	gr_test_result_free(&r);
}

Test(harness, signal_reported, .timeout = 20)
{
	struct gr_test_result r = {0};
	sh("kill -SEGV $$", NULL, 10, &r);
	cr_assert_eq(r.term_signal, SIGSEGV);
	cr_assert_eq(r.exit_code, -1);
	gr_test_result_free(&r);
}

Test(harness, deadline_kills_the_process_group, .timeout = 20)
{
	struct gr_test_result r = {0};
	/* a grandchild holds the pipes too: it must die with the child */
	sh("echo started; sleep 100 & sleep 100; wait", NULL, 0.5, &r);
	cr_assert(r.timed_out, "%s", gr_test_describe(&r));
	cr_assert_eq(r.term_signal, SIGKILL);
	cr_assert(r.wall_s < 5, "took %.1f s", r.wall_s);
	cr_assert_str_eq(r.out, "started\n");
	gr_test_result_free(&r);
}

Test(harness, large_output_captured, .timeout = 20)
{
	struct gr_test_result r = {0};
	sh("head -c 3000000 /dev/zero | tr '\\0' x; head -c 100000 /dev/zero | tr '\\0' y >&2",
	   NULL, 10, &r);
	cr_assert(gr_test_ok(&r), "%s", gr_test_describe(&r));
	cr_assert_eq(r.out_len, 3000000);
	cr_assert_eq(r.err_len, 100000);
	cr_assert_eq(strlen(r.out), 3000000);
	gr_test_result_free(&r);
}

Test(harness, environment, .timeout = 20)
{
	setenv("LD_PRELOAD", "/nonexistent/should-not-pass.so", 1);
	setenv("GR_HARNESS_KEEP", "kept", 1);
	setenv("GR_HARNESS_OVER", "old", 1);
	const char *env[] = {"GR_HARNESS_OVER=new", "GR_HARNESS_NEW=1", NULL};
	struct gr_test_result r = {0};
	const char *argv[] = {"/bin/sh", "-c",
			      "echo \"P=${LD_PRELOAD-unset} K=$GR_HARNESS_KEEP O=$GR_HARNESS_OVER"
			      " N=$GR_HARNESS_NEW\"; env | grep -c '^GR_HARNESS_OVER='",
			      NULL};
	gr_test_run_native(argv, env, 10, &r);
	cr_assert_str_eq(r.out, "P=unset K=kept O=new N=1\n1\n", "%s", gr_test_describe(&r));
	gr_test_result_free(&r);

	gr_test_run_green(argv, 3, NULL, 10, &r);
	/* GR_LIB may not exist yet: only look at what the shell saw, not whether it ran */
	char *p = gr_test_value(r.out, "P");
	if (p)
		cr_assert_str_eq(p, GR_LIB);
	free(p);
	gr_test_result_free(&r);
	unsetenv("LD_PRELOAD");
}

Test(harness, missing_program, .timeout = 20)
{
	const char *argv[] = {"/nonexistent/program", NULL};
	struct gr_test_result r = {0};
	gr_test_run(argv, NULL, 10, &r);
	cr_assert_eq(r.exit_code, 127);
	cr_assert(strstr(r.err, "execve"));
	gr_test_result_free(&r);
}

Test(harness, values_lines_diff)
{
	const char *text = "threads=4 check=ok\nxcheck=bad\nTLS=ok\n  spaced=1\nlast=end";
	char *v = gr_test_value(text, "check");
	cr_assert_str_eq(v, "ok");
	free(v);
	v = gr_test_value(text, "TLS");
	cr_assert_str_eq(v, "ok");
	free(v);
	v = gr_test_value(text, "spaced");
	cr_assert_str_eq(v, "1");
	free(v);
	v = gr_test_value(text, "last");
	cr_assert_str_eq(v, "end");
	free(v);
	cr_assert_null(gr_test_value(text, "heck"));
	cr_assert_null(gr_test_value(text, "missing"));
	cr_assert(gr_test_has_line(text, "TLS=ok"));
	cr_assert(!gr_test_has_line(text, "TLS=o"));
	cr_assert(gr_test_has_line(text, "last=end"));
	cr_assert_eq(gr_test_count_lines(text, "threads="), 1);
	cr_assert_null(gr_test_diff("a\nb\n", "a\nb\n"));
	char *d = gr_test_diff("a\nb\nc\n", "a\nB\nc\n");
	cr_assert(d && strstr(d, "line 2") && strstr(d, "`b`") && strstr(d, "`B`"), "%s", d);
	free(d);
	d = gr_test_diff("a\nb\n", "a\n");
	cr_assert(d && strstr(d, "line 2"), "%s", d);
	free(d);
}
