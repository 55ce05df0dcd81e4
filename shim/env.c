/*
 * Configuration from the environment.  Read with getenv before any G exists; each value
 * is validated, and a bad one gets a single line on stderr and the default, never a
 * crash (README.md has the table).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "real.h"

#define MAXPROCS_LIMIT 1024
#define MAXTHREADS_DEFAULT 10000
#define STACK_LIMIT ((size_t)1 << 40)

int gr_env_parse_size(const char *s, size_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (ULLONG_MAX >> shift))
		return -EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

static void bad(const char *name, const char *value, const char *why)
{
	char line[256];

	snprintf(line, sizeof(line), "green: ignoring %s=%.64s (%s); using the default\n", name,
		 value, why);
	gr_real_msg(line, NULL, NULL);
}

/* Reads an integer in [lo, hi] from name; returns def when unset or bad. */
static long env_long(const char *name, long lo, long hi, long def)
{
	const char *v = getenv(name);
	size_t n;

	if (!v)
		return def;
	if (gr_env_parse_size(v, &n) != 0 || strpbrk(v, "kKmMgG")) {
		bad(name, v, "not a whole number");
		return def;
	}
	if ((long long)n < lo || n > (size_t)hi) {
		char why[64];
		snprintf(why, sizeof(why), "out of range %ld..%ld", lo, hi);
		bad(name, v, why);
		return def;
	}
	return (long)n;
}

/* cgroup v2 cpu.max: "max PERIOD" or "QUOTA PERIOD".  Returns ceil(quota/period) or 0. */
static int cgroup_cpus(void)
{
	char buf[128];
	int fd = open("/sys/fs/cgroup/cpu.max", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	long long quota, period;
	if (sscanf(buf, "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0)
		return 0;
	return (int)((quota + period - 1) / period);
}

int gr_env_ncpu(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int quota = cgroup_cpus();
	if (quota > 0 && quota < n)
		n = quota;
	return n > 0 ? n : 1;
}

void gr_env_read(struct gr_config *cfg)
{
	int ncpu = gr_env_ncpu();
	const char *procs = getenv("GREEN_MAXPROCS") ? "GREEN_MAXPROCS" : "GOMAXPROCS";

	cfg->maxprocs = (int)env_long(procs, 1, MAXPROCS_LIMIT, ncpu);
	cfg->maxthreads = (int)env_long("GREEN_MAXTHREADS", 2, 1000000, MAXTHREADS_DEFAULT);
	cfg->stacksize = 0;
	const char *v = getenv("GREEN_STACKSIZE");
	if (v) {
		size_t n;
		if (gr_env_parse_size(v, &n) != 0)
			bad("GREEN_STACKSIZE", v, "not a size such as 65536, 256K or 8M");
		else if (n < (size_t)PTHREAD_STACK_MIN || n > STACK_LIMIT)
			bad("GREEN_STACKSIZE", v, "below PTHREAD_STACK_MIN or above 1T");
		else
			cfg->stacksize = n;
	}
}
