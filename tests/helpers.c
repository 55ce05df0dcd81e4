/*
 * tests/helpers.c - see helpers.h. Runs one program in a child process and captures its
 * output with a deadline.
 *
 * Waiting: the parent polls the two output pipes and a pidfd of the child (pidfd_open,
 * Linux 5.3) with the time left to the deadline, so it wakes exactly when there is output
 * or the child exits. Where pidfd_open is missing it falls back to poll() slices of 10 ms
 * with waitpid(WNOHANG); that only bounds how late the exit is noticed.
 *
 * Killing: the child makes itself a process-group leader before exec, so a run past its
 * deadline is ended with kill(-pgid, SIGKILL), which also reaches any grandchild that still
 * holds the pipes. PR_SET_PDEATHSIG kills the child if the Criterion worker dies first
 * (a .timeout).
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Output beyond this is read and dropped, so a runaway program cannot exhaust memory. */
#define OUT_CAP (64u << 20)

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > OUT_CAP)
		n = b->len + 1 >= OUT_CAP ? 0 : OUT_CAP - b->len - 1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static bool same_name(const char *a, const char *b)
{
	size_t n = name_len(a);
	return n == name_len(b) && strncmp(a, b, n) == 0;
}

/* environ minus LD_PRELOAD and minus names in extra, then extra. Frees with free(). */
static char **build_env(const char *const extra[])
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	while (extra && extra[k])
		k++;
	char **env = calloc(n + k + 1, sizeof *env);
	if (!env)
		abort();
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		bool drop = same_name(environ[i], "LD_PRELOAD");
		for (size_t e = 0; e < k && !drop; e++)
			drop = same_name(environ[i], extra[e]);
		if (!drop)
			env[j++] = environ[i];
	}
	for (size_t e = 0; e < k; e++)
		env[j++] = (char *)extra[e];
	env[j] = NULL;
	return env;
}

static void child_exec(const char *const argv[], char **envp, int out_fd, int err_fd,
		       pid_t parent)
{
	/* Own process group, so a timeout can kill everything this run started. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	/* Criterion's signal handling must not leak into the program. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	int in = open("/dev/null", O_RDONLY);
	if (in >= 0 && in != 0) {
		dup2(in, 0);
		close(in);
	}
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	execve(argv[0], (char *const *)argv, envp);
	dprintf(2, "gr_test_run: execve %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void set_status(struct gr_test_result *r, int status)
{
	r->status = status;
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

int gr_test_run(const char *const argv[], const char *const env_extra[], double timeout_s,
		struct gr_test_result *r)
{
	struct buf out = {0}, err = {0};
	char what[sizeof r->what];
	memcpy(what, r->what, sizeof what);
	memset(r, 0, sizeof *r);
	memcpy(r->what, what, sizeof what);
	if (!r->what[0])
		snprintf(r->what, sizeof r->what, "run");
	r->exit_code = -1;
	buf_add(&out, "", 0);
	buf_add(&err, "", 0);

	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		char msg[128];
		snprintf(msg, sizeof msg, "gr_test_run: pipe2: %s\n", strerror(errno));
		buf_add(&err, msg, strlen(msg));
		r->out = out.p, r->err = err.p, r->err_len = err.len;
		return -1;
	}
	char **envp = build_env(env_extra);
	double t0 = now_s(), deadline = t0 + timeout_s;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child_exec(argv, envp, po[1], pe[1], parent);
	free(envp);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "gr_test_run: fork: %s\n", strerror(errno));
		buf_add(&err, msg, strlen(msg));
		close(po[0]);
		close(pe[0]);
		r->out = out.p, r->err = err.p, r->err_len = err.len;
		return -1;
	}
	setpgid(pid, pid);	/* also here: whichever of parent and child runs first */

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int fds[2] = {po[0], pe[0]};
	struct buf *bufs[2] = {&out, &err};
	bool exited = false;
	int status = 0;
	for (;;) {
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				exited = true;
		}
		if (exited && fds[0] < 0 && fds[1] < 0)
			break;
		double left = deadline - now_s();
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			if (!exited) {
				r->timed_out = true;
				waitpid(pid, &status, 0);
				exited = true;
			}
			break;
		}
		struct pollfd pfd[3];
		int nfd = 0, idx[3];
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0) {
				pfd[nfd] = (struct pollfd){.fd = fds[i], .events = POLLIN};
				idx[nfd++] = i;
			}
		int ms = (int)(left * 1000) + 1;
		if (!exited) {
			if (pidfd >= 0) {
				pfd[nfd] = (struct pollfd){.fd = pidfd, .events = POLLIN};
				idx[nfd++] = 2;
			} else if (ms > 10) {
				ms = 10;	/* no pidfd: notice the exit within 10 ms */
			}
		}
		int n = poll(pfd, nfd, ms);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; n > 0 && i < nfd; i++) {
			if (idx[i] == 2 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char chunk[65536];
			ssize_t got = read(pfd[i].fd, chunk, sizeof chunk);
			if (got > 0) {
				buf_add(bufs[idx[i]], chunk, (size_t)got);
			} else if (got == 0 || errno != EINTR) {
				close(fds[idx[i]]);
				fds[idx[i]] = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (pidfd >= 0)
		close(pidfd);
	set_status(r, status);
	r->wall_s = now_s() - t0;
	r->out = out.p;
	r->out_len = out.len;
	r->err = err.p;
	r->err_len = err.len;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int gr_test_run_native(const char *const argv[], const char *const env_extra[],
		       double timeout_s, struct gr_test_result *r)
{
	snprintf(r->what, sizeof r->what, "%.40s native", base_name(argv[0]));
	return gr_test_run(argv, env_extra, timeout_s, r);
}

int gr_test_run_green(const char *const argv[], int maxprocs, const char *const env_extra[],
		      double timeout_s, struct gr_test_result *r)
{
	const char *env[64];
	char procs[32];
	size_t n = 0;
	env[n++] = "LD_PRELOAD=" GR_LIB;
	if (maxprocs > 0) {
		snprintf(procs, sizeof procs, "GREEN_MAXPROCS=%d", maxprocs);
		env[n++] = procs;
		snprintf(r->what, sizeof r->what, "%.30s green GREEN_MAXPROCS=%d",
			 base_name(argv[0]), maxprocs);
	} else {
		snprintf(r->what, sizeof r->what, "%.40s green", base_name(argv[0]));
	}
	for (size_t i = 0; env_extra && env_extra[i] && n < 63; i++)
		env[n++] = env_extra[i];
	env[n] = NULL;
	return gr_test_run(argv, env, timeout_s, r);
}

void gr_test_run_both(const char *const argv[], int maxprocs, const char *const env_extra[],
		      double timeout_s, struct gr_test_result *native,
		      struct gr_test_result *green)
{
	gr_test_run_native(argv, env_extra, timeout_s, native);
	gr_test_run_green(argv, maxprocs, env_extra, timeout_s, green);
}

void gr_test_result_free(struct gr_test_result *r)
{
	free(r->out);
	free(r->err);
	free(r->desc);
	r->out = r->err = r->desc = NULL;
}

bool gr_test_ok(const struct gr_test_result *r)
{
	return !r->timed_out && r->exit_code == 0;
}

static const char *tail(const char *s, size_t len, size_t keep)
{
	if (!s)
		return "";
	return len > keep ? s + len - keep : s;
}

const char *gr_test_describe(struct gr_test_result *r)
{
	char how[128];
	if (r->timed_out)
		snprintf(how, sizeof how, "timed out, killed at the deadline");
	else if (r->term_signal)
		snprintf(how, sizeof how, "killed by signal %d (%s)", r->term_signal,
			 strsignal(r->term_signal));
	else
		snprintf(how, sizeof how, "exit status %d", r->exit_code);
	free(r->desc);
	r->desc = NULL;
	if (asprintf(&r->desc, "[%s] %s, after %.2f s\n--- stdout (tail) ---\n%s\n"
		     "--- stderr (tail) ---\n%s", r->what, how, r->wall_s,
		     tail(r->out, r->out_len, 1500), tail(r->err, r->err_len, 1500)) < 0)
		r->desc = NULL;
	return r->desc ? r->desc : "(out of memory describing the run)";
}

char *gr_test_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	if (!text || !klen)
		return NULL;
	for (const char *p = text; (p = strstr(p, key)) != NULL; p++) {
		bool start = p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		if (!start || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = strcspn(v, " \t\r\n");
		return strndup(v, n);
	}
	return NULL;
}

bool gr_test_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == n && strncmp(p, line, n) == 0)
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

int gr_test_count_lines(const char *text, const char *prefix)
{
	int count = 0;
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, prefix, n) == 0)
			count++;
		const char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : NULL;
	}
	return count;
}

static char *join_path(const char *dir, const char *name)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	return path;
}

char *gr_test_prog(const char *name)
{
	char *path = join_path(GR_TEST_PROGS, name);
	cr_assert(access(path, X_OK) == 0, "test program %s is missing (make builds it): %s",
		  path, strerror(errno));
	return path;
}

char *gr_test_shared_prog(const char *name)
{
	struct stat st;
	if (stat(GR_SHARED_PROGS, &st) != 0 || !S_ISDIR(st.st_mode))
		cr_skip("contract programs not built: %s is missing", GR_SHARED_PROGS);
	char *path = join_path(GR_SHARED_PROGS, name);
	if (access(path, X_OK) != 0)
		cr_skip("contract program %s is missing", path);
	return path;
}

void gr_test_need_lib(void)
{
	cr_assert(access(GR_LIB, R_OK) == 0, "%s is missing: %s", GR_LIB, strerror(errno));
}

char *gr_test_diff(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return NULL;
	int line = 1;
	for (;;) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
		if (la != lb || strncmp(a, b, la) != 0 || !a[la] != !b[lb]) {
			char *d;
			if (asprintf(&d, "line %d: native `%.*s`%s / green `%.*s`%s", line,
				     (int)la, a, a[la] ? "" : " (end)", (int)lb, b,
				     b[lb] ? "" : " (end)") < 0)
				abort();
			return d;
		}
		if (!a[la])
			return NULL;	/* unreachable: strcmp said they differ */
		a += la + 1;
		b += lb + 1;
		line++;
	}
}

/* argv (32 entries) = {path, args...}. */
static void fill_argv(const char *argv[32], const char *path, const char *const args[])
{
	argv[0] = path;
	for (int i = 0; args && args[i] && i < 30; i++)
		argv[i + 1] = args[i];
}

void gr_test_green_expect(const char *prog, const char *const args[], int maxprocs,
			  const char *const env_extra[], const char *ok_key, const char *ok_value,
			  double timeout_s)
{
	gr_test_need_lib();
	char *path = gr_test_prog(prog);
	const char *argv[32] = {0};
	fill_argv(argv, path, args);
	struct gr_test_result r = {0};
	gr_test_run_green(argv, maxprocs, env_extra, timeout_s, &r);
	gr_test_assert_ok(&r);
	gr_test_assert_value(&r, ok_key, ok_value);
	gr_test_result_free(&r);
	free(path);
}

void gr_test_native_vs_green(const char *prog, const char *const args[], int maxprocs,
			     const char *ok_key, const char *ok_value, bool same_stdout,
			     double timeout_s)
{
	gr_test_need_lib();
	char *path = gr_test_prog(prog);
	const char *argv[32] = {0};
	fill_argv(argv, path, args);
	struct gr_test_result native = {0}, green = {0};
	gr_test_run_both(argv, maxprocs, NULL, timeout_s, &native, &green);
	cr_log_info("%s MAXPROCS=%d: native %.2f s, green %.2f s", prog, maxprocs, native.wall_s,
		    green.wall_s);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, ok_key, ok_value);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, ok_key, ok_value);
	if (same_stdout) {
		char *d = gr_test_diff(native.out, green.out);
		cr_assert(d == NULL, "%s: stdout differs under green (GREEN_MAXPROCS=%d), %s\n%s",
			  prog, maxprocs, d, gr_test_describe(&green));
	}
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}
