/*
 * tests/helpers.h - run a program natively and under libgreen.so, and read what it printed.
 *
 * The preload suites (tests/preload/<area>.c) never load libgreen.so into the test binary
 * itself: every program under test runs in a child process, started with fork and execve,
 * with its stdout and stderr captured into separate buffers. The child gets its own process
 * group and PR_SET_PDEATHSIG, so a run that passes its deadline is killed with SIGKILL as a
 * whole (grandchildren too), and a test worker that Criterion kills on .timeout takes its
 * child with it. Waiting uses a pidfd and poll() with the deadline: no sleep guesses when a
 * program is done.
 *
 * The environment of a run is the test's own, minus LD_PRELOAD, plus the extra "NAME=value"
 * entries given (which replace entries of the same name). A native run therefore never has
 * libgreen.so, and a green run has exactly LD_PRELOAD=GR_LIB.
 *
 * Programs print `KEY=value` tokens (a line may hold several, separated by blanks);
 * gr_test_value() finds the first value of a key.
 *
 * The build defines these absolute paths:
 *   GR_LIB           build/libgreen.so
 *   GR_TEST_PROGS    build/tests/progs (tests/progs/X.c built as X)
 *   GR_SHARED_PROGS  build/progs (the contract programs of shared/progs)
 *   GR_SRCDIR        the source root (optional; tests/preload/exports.c reads
 *                    GR_SRCDIR/interpose/exports.map)
 */
#ifndef GR_TEST_HELPERS_H
#define GR_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef GR_LIB
#define GR_LIB "build/libgreen.so"
#endif
#ifndef GR_TEST_PROGS
#define GR_TEST_PROGS "build/tests/progs"
#endif
#ifndef GR_SHARED_PROGS
#define GR_SHARED_PROGS "build/progs"
#endif

/* What one run of a program produced. */
struct gr_test_result {
	int status;		/* the raw waitpid() status */
	int exit_code;		/* WEXITSTATUS, or -1 if it did not exit normally */
	int term_signal;	/* WTERMSIG, or 0 if it exited */
	bool timed_out;		/* the deadline passed and the process group was killed */
	double wall_s;		/* from fork to reaping */
	char *out;		/* captured stdout, NUL-terminated, never NULL after a run */
	size_t out_len;
	char *err;		/* captured stderr, NUL-terminated, never NULL after a run */
	size_t err_len;
	char what[64];		/* "native" or "green MAXPROCS=2": names the run in messages */
	char *desc;		/* gr_test_describe()'s buffer */
};

/*
 * Runs argv[0] (a path) with argv, the environment described at the top plus the
 * NULL-terminated list env_extra of "NAME=value" strings (env_extra may be NULL), and a
 * deadline of timeout_s seconds. Fills *r; free it with gr_test_result_free(). Returns 0,
 * or -1 if the program could not be started at all (r->err then says why).
 */
int gr_test_run(const char *const argv[], const char *const env_extra[], double timeout_s,
		struct gr_test_result *r);

/* Runs argv natively: LD_PRELOAD removed, env_extra added. */
int gr_test_run_native(const char *const argv[], const char *const env_extra[],
		       double timeout_s, struct gr_test_result *r);

/*
 * Runs argv under green: LD_PRELOAD=GR_LIB, GREEN_MAXPROCS=maxprocs (not set when
 * maxprocs <= 0), then env_extra.
 */
int gr_test_run_green(const char *const argv[], int maxprocs, const char *const env_extra[],
		      double timeout_s, struct gr_test_result *r);

/* Runs argv natively, then under green with maxprocs; each run gets timeout_s. */
void gr_test_run_both(const char *const argv[], int maxprocs, const char *const env_extra[],
		      double timeout_s, struct gr_test_result *native,
		      struct gr_test_result *green);

void gr_test_result_free(struct gr_test_result *r);

/* True if the run exited with status 0 before its deadline. */
bool gr_test_ok(const struct gr_test_result *r);

/*
 * A one-paragraph description of a run for failure messages: how it ended and the last
 * few hundred bytes of stdout and stderr. Returns a pointer into a buffer owned by r,
 * valid until the next call for r or gr_test_result_free(r).
 */
const char *gr_test_describe(struct gr_test_result *r);

/*
 * The value of the first `key=value` token in text: the key must start a line or follow a
 * blank, and the value runs to the next blank or end of line. Returns a malloc'd string,
 * or NULL if the key does not occur.
 */
char *gr_test_value(const char *text, const char *key);

/* True if text has a line exactly equal to line (without its newline). */
bool gr_test_has_line(const char *text, const char *line);

/* The number of lines of text that start with prefix. */
int gr_test_count_lines(const char *text, const char *prefix);

/*
 * NULL if a and b are equal, else a malloc'd description of the first line that differs
 * ("line 12: native `x=1` / green `x=2`"), for failure messages.
 */
char *gr_test_diff(const char *a, const char *b);

/*
 * The common native-versus-green check: runs GR_TEST_PROGS/prog with args (NULL-terminated,
 * may be NULL) natively and under green with maxprocs, each with timeout_s. Asserts that
 * both exit 0, that both print ok_key=ok_value, and, when same_stdout is set, that green's
 * stdout equals native's byte for byte.
 */
void gr_test_native_vs_green(const char *prog, const char *const args[], int maxprocs,
			     const char *ok_key, const char *ok_value, bool same_stdout,
			     double timeout_s);

/*
 * The green-only check: runs GR_TEST_PROGS/prog with args (NULL-terminated, may be NULL)
 * under green with maxprocs and env_extra (as gr_test_run_green), and asserts that it
 * exits 0 within timeout_s and prints ok_key=ok_value.
 */
void gr_test_green_expect(const char *prog, const char *const args[], int maxprocs,
			  const char *const env_extra[], const char *ok_key, const char *ok_value,
			  double timeout_s);

/*
 * Path of a program: GR_TEST_PROGS/name, or GR_SHARED_PROGS/name. Both return a malloc'd
 * string. gr_test_shared_prog() calls cr_skip() when the contract programs were not built;
 * gr_test_prog() fails the test when the program is missing.
 */
char *gr_test_prog(const char *name);
char *gr_test_shared_prog(const char *name);

/* Fails the test unless GR_LIB exists. */
void gr_test_need_lib(void);

/*
 * Asserts that r exited 0 in time, printing gr_test_describe() otherwise. A macro so the
 * failure names the test's own line.
 */
#define gr_test_assert_ok(r)                                                               \
	cr_assert(gr_test_ok(r), "%s", gr_test_describe(r))

/*
 * Asserts that the value of key in r's stdout is want (a string), naming the run.
 */
#define gr_test_assert_value(r, key, want)                                                 \
	do {                                                                               \
		char *gr_v_ = gr_test_value((r)->out, (key));                              \
		cr_assert(gr_v_ && strcmp(gr_v_, (want)) == 0,                            \
			  "%s: want %s=%s, got %s=%s\n%s", (r)->what, (key), (want), (key),   \
			  gr_v_ ? gr_v_ : "(missing)", gr_test_describe(r));               \
		free(gr_v_);                                                               \
	} while (0)

#endif
