/*
 * tools/green.c: the `green` command, a small front end to libgreen.so.
 *
 *	green run [--procs N] [--] PROG [ARGS...]
 *		Runs PROG with libgreen.so preloaded: sets GREEN_MAXPROCS=N when --procs is
 *		given, appends the library to LD_PRELOAD (an existing list is kept), and
 *		execs PROG through the PATH.
 *	green bench [--runs N] [--quick] [WORKLOAD...]
 *		Execs tools/bench.sh with the library and the programs of build/progs
 *		(make progs); the workloads become BENCH_ONLY, --runs BENCH_RUNS and
 *		--quick BENCH_QUICK=1.
 *	green version, green help
 *
 * The library is $GREEN_LIB when set, else libgreen.so next to this binary (both live in
 * build/), and the bench script is ../tools/bench.sh from there. Bad usage exits 2, a
 * missing library or script 1, a program that cannot be executed 127 (as in the shell).
 *
 * Rejected: a shell script, which cannot find its own folder as reliably as
 * /proc/self/exe when it is reached through a symbolic link in the PATH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GREEN_VERSION
#define GREEN_VERSION "0.1.0"
#endif

static const char usage_text[] =
        "usage: green run [--procs N] [--] PROG [ARGS...]\n"
        "       green bench [--runs N] [--quick] [WORKLOAD...]\n"
        "       green version\n"
        "       green help\n"
        "\n"
        "run    runs PROG with libgreen.so preloaded; --procs sets GREEN_MAXPROCS\n"
        "bench  compares the shared benchmark programs natively and under green\n"
        "       (tools/bench.sh; build the programs first with make progs)\n"
        "\n"
        "The library is $GREEN_LIB, else libgreen.so next to this binary.\n";

/* Bad usage: one `green: ` line and a pointer to green help, exit status 2. */
__attribute__((noreturn, format(printf, 1, 2))) static void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("green: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ngreen: try 'green help'\n", stderr);
	exit(2);
}

/* The folder that holds this binary, from /proc/self/exe, so symbolic links resolve. */
static void self_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n < 0) {
		fprintf(stderr, "green: cannot read /proc/self/exe: %s\n", strerror(errno));
		exit(1);
	}
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');

	if (slash == buf)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
}

/* The library's path before any check: $GREEN_LIB, else libgreen.so next to this binary. */
static void lib_path(char *path, size_t size)
{
	const char *env = getenv("GREEN_LIB");

	if (env && *env) {
		snprintf(path, size, "%s", env);
		return;
	}
	char dir[PATH_MAX];

	self_dir(dir, sizeof(dir));
	if ((size_t)snprintf(path, size, "%s/libgreen.so", dir) >= size) {
		fprintf(stderr, "green: path too long: %s\n", dir);
		exit(1);
	}
}

/* The absolute path of the library; exits when it does not exist. */
static void find_lib(char *out)
{
	char path[PATH_MAX];

	lib_path(path, sizeof(path));
	if (!realpath(path, out)) {
		const char *env = getenv("GREEN_LIB");

		fprintf(stderr, "green: library %s: %s%s\n", path, strerror(errno),
		        env && *env ? " (from GREEN_LIB)" : " (run make, or set GREEN_LIB)");
		exit(1);
	}
}

/* Parses a positive int option value; exits with a usage error otherwise. */
static const char *positive(const char *opt, const char *val)
{
	char *end;

	if (!val)
		usage_error("%s needs a value", opt);
	errno = 0;
	long n = strtol(val, &end, 10);

	if (errno || end == val || *end || n < 1 || n > INT_MAX)
		usage_error("expected a positive integer, not '%s'", val);
	return val;
}

static void set_env(const char *name, const char *value)
{
	if (setenv(name, value, 1)) {
		fprintf(stderr, "green: setenv %s: %s\n", name, strerror(errno));
		exit(1);
	}
}

/* Appends lib to LD_PRELOAD unless it is already there. */
static void add_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");

	if (!old || !*old) {
		set_env("LD_PRELOAD", lib);
		return;
	}
	size_t len = strlen(lib);

	for (const char *p = old; *p;) {
		size_t n = strcspn(p, ": ");

		if (n == len && !strncmp(p, lib, len))
			return;
		p += n;
		p += strspn(p, ": ");
	}
	size_t size = strlen(old) + 1 + len + 1;
	char *val = malloc(size);

	if (!val) {
		fputs("green: out of memory\n", stderr);
		exit(1);
	}
	snprintf(val, size, "%s:%s", old, lib);
	set_env("LD_PRELOAD", val);
	free(val);
}

static int cmd_run(int argc, char **argv)
{
	const char *procs = NULL;
	int i = 0;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--procs")) {
			procs = positive("--procs", argv[++i]);
		} else if (!strncmp(argv[i], "--procs=", 8)) {
			procs = positive("--procs", argv[i] + 8);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			usage_error("run: unknown option '%s'", argv[i]);
		} else {
			break;
		}
	}
	if (i >= argc)
		usage_error("run: no program given");

	char lib[PATH_MAX];

	find_lib(lib);
	if (procs)
		set_env("GREEN_MAXPROCS", procs);
	add_preload(lib);
	execvp(argv[i], argv + i);
	fprintf(stderr, "green: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

static int cmd_bench(int argc, char **argv)
{
	char only[4096] = "";
	size_t used = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--runs")) {
			set_env("BENCH_RUNS", positive("--runs", argv[++i]));
		} else if (!strncmp(argv[i], "--runs=", 7)) {
			set_env("BENCH_RUNS", positive("--runs", argv[i] + 7));
		} else if (!strcmp(argv[i], "--quick")) {
			set_env("BENCH_QUICK", "1");
		} else if (argv[i][0] == '-') {
			usage_error("bench: unknown option '%s'", argv[i]);
		} else {
			int n = snprintf(only + used, sizeof(only) - used, "%s%s", used ? "," : "",
			                 argv[i]);

			if (n < 0 || (size_t)n >= sizeof(only) - used)
				usage_error("bench: too many workloads");
			used += n;
		}
	}
	if (used)
		set_env("BENCH_ONLY", only);

	char lib[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 32], progs[PATH_MAX + 32];

	find_lib(lib);
	self_dir(dir, sizeof(dir));
	snprintf(script, sizeof(script), "%s/../tools/bench.sh", dir);
	snprintf(progs, sizeof(progs), "%s/progs", dir);
	if (access(script, X_OK)) {
		fprintf(stderr, "green: %s: %s\n", script, strerror(errno));
		return 1;
	}
	if (access(progs, X_OK)) {
		fprintf(stderr, "green: %s: %s (run make progs)\n", progs, strerror(errno));
		return 1;
	}
	char *args[] = { script, lib, progs, NULL };

	execv(script, args);
	fprintf(stderr, "green: %s: %s\n", script, strerror(errno));
	return 126;
}

static int cmd_version(void)
{
	char path[PATH_MAX];

	lib_path(path, sizeof(path));
	printf("green %s\n", GREEN_VERSION);
	printf("library: %s%s\n", path, access(path, R_OK) ? " (missing)" : "");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage_error("no command given");

	const char *cmd = argv[1];

	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(cmd, "bench"))
		return cmd_bench(argc - 2, argv + 2);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
		return cmd_version();
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	usage_error("unknown command '%s'", cmd);
}
