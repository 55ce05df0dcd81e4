/*
 * tests/preload/progs.c - the contract programs (shared/progs) natively and under green.
 *
 * Each case runs one program with small arguments, once natively and once under
 * LD_PRELOAD=libgreen.so with GREEN_MAXPROCS = 1, 2 and 4 (one parameterized test per
 * program and MAXPROCS). Both runs must exit 0 and print the program's success token
 * (check=ok, TLS=ok, or created/released counts equal to the request), and every
 * deterministic key the program prints (counts, sums, winners: never times) must have the
 * same value under green as natively. Timing lines are not compared: tests assert
 * behaviour, not speed.
 *
 * Skipped with a reason when the contract programs were not built into GR_SHARED_PROGS.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 50.0	/* per run; two runs per test */

struct prog_case {
	const char *name;
	const char *args[4];		/* NULL-terminated */
	const char *keys[6];		/* deterministic keys: green's value must equal native's */
	const char *want_key;		/* success token ... */
	const char *want_value;		/* ... and its value, in both runs */
	int maxprocs;
};

#define CASE(n, a, k, wk, wv)                                                              \
	{.name = n, .args = a, .keys = k, .want_key = wk, .want_value = wv, .maxprocs = 1},    \
	{.name = n, .args = a, .keys = k, .want_key = wk, .want_value = wv, .maxprocs = 2},    \
	{.name = n, .args = a, .keys = k, .want_key = wk, .want_value = wv, .maxprocs = 4}
#define A(...) {__VA_ARGS__, NULL}
#define K(...) {__VA_ARGS__, NULL}

/*
 * Criterion's workers are re-executed copies of the test binary (BoxFort), so a parameter
 * must not hold pointers: it is an index into this table.
 */
static const struct prog_case cases[] = {
	CASE("create_join", A("2000"), K("threads", "check"), "check", "ok"),
	CASE("create_many", A("2000"), K("requested", "created", "released"),
	     "released", "2000"),
	CASE("thread_ring", A("20000"), K("threads", "hops", "winner", "expected", "check"),
	     "check", "ok"),
	CASE("skynet", A("4"), K("leaves", "threads_created", "sum", "expected", "check"),
	     "check", "ok"),
	CASE("mutex_pingpong", A("5000"), K("round_trips", "handoffs", "check"), "check",
	     "ok"),
	CASE("mutex_contended", A("4", "200000"),
	     K("threads", "iters_per_thread", "counter", "expected", "check"), "check", "ok"),
	CASE("mutex_contended", A("64", "20000"),
	     K("threads", "iters_per_thread", "counter", "expected", "check"), "check", "ok"),
	CASE("sleepers", A("500", "3", "2000"),
	     K("threads", "sleeps_per_thread", "sleep_us", "ideal_ms"), "threads", "500"),
	CASE("tls_check", A("16", "20"), K("threads", "rounds", "checks", "failures", "TLS"),
	     "TLS", "ok"),
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

ParameterizedTestParameters(progs, native_vs_green)
{
	static int idx[NCASES];
	for (int i = 0; i < NCASES; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, NCASES);
}

ParameterizedTest(int *pi, progs, native_vs_green, .timeout = 120)
{
	const struct prog_case *c = &cases[*pi];
	char *path = gr_test_shared_prog(c->name);
	gr_test_need_lib();
	const char *argv[6] = {path};
	for (int i = 0; c->args[i]; i++)
		argv[i + 1] = c->args[i];

	struct gr_test_result native = {0}, green = {0};
	gr_test_run_both(argv, c->maxprocs, NULL, RUN_TIMEOUT_S, &native, &green);
	char shown[128] = "";
	for (int i = 0; c->args[i]; i++)
		snprintf(shown + strlen(shown), sizeof shown - strlen(shown), " %s", c->args[i]);
	cr_log_info("%s%s MAXPROCS=%d: native %.2f s, green %.2f s", c->name, shown, c->maxprocs,
		    native.wall_s, green.wall_s);

	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, c->want_key, c->want_value);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, c->want_key, c->want_value);
	for (int i = 0; c->keys[i]; i++) {
		char *nv = gr_test_value(native.out, c->keys[i]);
		char *gv = gr_test_value(green.out, c->keys[i]);
		cr_assert(nv, "%s: native printed no %s=\n%s", c->name, c->keys[i],
			  gr_test_describe(&native));
		cr_expect(gv && strcmp(nv, gv) == 0,
			  "%s MAXPROCS=%d: %s=%s natively, %s under green\n%s", c->name,
			  c->maxprocs, c->keys[i], nv, gv ? gv : "(missing)",
			  gr_test_describe(&green));
		free(nv);
		free(gv);
	}
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* skynet 6: a million threads in a 10-ary tree, under green only (natively it stops near
 * vm.max_map_count).  The stack cache's every path runs here: per-P lists, the global
 * list, and Gs recycled while their creators wait.  Regression: a build with link-time
 * optimisation died with "an exited G was resumed" at every run, while skynet 5 and the
 * rest of the suite passed. */
Test(progs, skynet_million_green, .timeout = 120)
{
	char *path = gr_test_shared_prog("skynet");
	const char *argv[] = {path, "6", NULL};
	struct gr_test_result green = {0};

	gr_test_need_lib();
	gr_test_run_green(argv, 2, NULL, RUN_TIMEOUT_S, &green);
	cr_log_info("skynet 6 MAXPROCS=2: green %.2f s", green.wall_s);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "check", "ok");
	gr_test_result_free(&green);
	free(path);
}
