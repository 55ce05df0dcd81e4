/*
 * tests/preload/netpoll.c - blocking I/O under green (issue 4): tests/progs/net_io's cases
 * natively and under GREEN_MAXPROCS=1 and 2, close-while-blocked and the poller's wake-up
 * order under green, the stdout pipe check, and the contract programs pipe_pingpong and
 * echo_server/echo_client.
 *
 * Every case must print NAME=ok in both runs.  Timing is only asserted with generous
 * bounds inside net_io (a 100 ms SO_RCVTIMEO takes at least 90 ms).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define RUN_TIMEOUT_S 60.0

static const char *const net_cases[] = {"pipe",	  "paired", "bigwrite", "nonblock",
					"timeouts", "timeo_change", "pollwait", "eventfd",
					"tcp",	  "reset",  "udp",	"many",
					"churn",  "fifo",   "sendfile", "misc", "closefrom"};
#define NNET ((int)(sizeof net_cases / sizeof net_cases[0]))

/* Parameters are indexes (Criterion re-executes the binary): case * 2 + (maxprocs - 1). */
ParameterizedTestParameters(netpoll, net_io)
{
	static int idx[NNET * 2];
	for (int i = 0; i < NNET * 2; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, NNET * 2);
}

ParameterizedTest(int *pi, netpoll, net_io, .timeout = 150)
{
	const char *name = net_cases[*pi / 2];
	int maxprocs = *pi % 2 + 1;
	char *path = gr_test_prog("net_io");
	gr_test_need_lib();
	const char *argv[] = {path, name, NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_run_both(argv, maxprocs, NULL, RUN_TIMEOUT_S, &native, &green);
	cr_log_info("net_io %s MAXPROCS=%d: native %.2f s, green %.2f s", name, maxprocs,
		    native.wall_s, green.wall_s);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, name, "ok");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, name, "ok");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* close() and dup2() over a descriptor a G is parked on wake it with EBADF (Linux may
 * leave a native thread blocked there; green wakes it: the safe choice). */
ParameterizedTestParameters(netpoll, close_wakes_waiter)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

ParameterizedTest(int *maxprocs, netpoll, close_wakes_waiter, .timeout = 60)
{
	char *path = gr_test_prog("net_io");
	gr_test_need_lib();
	const char *argv[] = {path, "closewait", NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_run_both(argv, *maxprocs, NULL, 20.0, &native, &green);
	gr_test_assert_ok(&native); /* natively: the write after close wakes the reader */
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "closewait_pipe", "EBADF");
	gr_test_assert_value(&green, "closewait_dup2", "EBADF");
	gr_test_assert_value(&green, "closewait_accept", "EBADF");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* 1 MiB with write() and 1 MiB with fwrite() to a stdout pipe: all of it arrives. */
ParameterizedTestParameters(netpoll, stdout_pipe_gets_everything)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

ParameterizedTest(int *maxprocs, netpoll, stdout_pipe_gets_everything, .timeout = 60)
{
	char *path = gr_test_prog("net_io");
	gr_test_need_lib();
	const char *argv[] = {path, "stdout", NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_run_both(argv, *maxprocs, NULL, 20.0, &native, &green);
	gr_test_assert_ok(&native);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "stdout", "ok");
	cr_assert_eq(green.out_len, native.out_len, "green wrote %zu bytes, native %zu",
		     green.out_len, native.out_len);
	cr_assert_geq(green.out_len, 2u << 20);
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* Gs the netpoller wakes in one batch run in the order their descriptors became ready,
 * first ready first, none taking over the poller's time slice (green only). */
Test(netpoll, poller_wakes_in_event_order, .timeout = 60)
{
	char *path = gr_test_prog("net_order");
	gr_test_need_lib();
	const char *argv[] = {path, NULL};
	struct gr_test_result green = {0};

	gr_test_run_green(argv, 1, NULL, 20.0, &green);
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "order", "ok");
	gr_test_result_free(&green);
	free(path);
}

/* ---- the contract programs ------------------------------------------------------------ */

ParameterizedTestParameters(netpoll, pipe_pingpong)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

ParameterizedTest(int *maxprocs, netpoll, pipe_pingpong, .timeout = 120)
{
	char *path = gr_test_shared_prog("pipe_pingpong");
	gr_test_need_lib();
	const char *argv[] = {path, "20000", NULL};
	struct gr_test_result native = {0}, green = {0};

	gr_test_run_both(argv, *maxprocs, NULL, RUN_TIMEOUT_S, &native, &green);
	cr_log_info("pipe_pingpong 20000 MAXPROCS=%d: native %.2f s, green %.2f s", *maxprocs,
		    native.wall_s, green.wall_s);
	gr_test_assert_ok(&native);
	gr_test_assert_value(&native, "check", "ok");
	gr_test_assert_ok(&green);
	gr_test_assert_value(&green, "check", "ok");
	gr_test_assert_value(&green, "round_trips", "20000");
	gr_test_result_free(&native);
	gr_test_result_free(&green);
	free(path);
}

/* A loopback port nobody listens on right now (bound, read, closed). */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	getsockname(s, (struct sockaddr *)&a, &len);
	close(s);
	return ntohs(a.sin_port);
}

struct server_run {
	const char *const *argv;
	int maxprocs;	  /* 0: native */
	double timeout_s; /* 0: RUN_TIMEOUT_S */
	struct gr_test_result r;
};

static void *run_server(void *arg)
{
	struct server_run *s = arg;
	double t = s->timeout_s ? s->timeout_s : RUN_TIMEOUT_S;
	/* The deadline kills the server whatever happens; it also has its own alarm. */
	if (s->maxprocs)
		gr_test_run_green(s->argv, s->maxprocs, NULL, t, &s->r);
	else
		gr_test_run_native(s->argv, NULL, t, &s->r);
	return NULL;
}

/* (server green?, client green?, maxprocs) */
struct echo_case {
	bool server_green, client_green;
	int maxprocs;
};

static const struct echo_case echo_cases[] = {
	{true, true, 1}, {true, true, 2}, {true, false, 2}, {false, true, 2},
};

ParameterizedTestParameters(netpoll, echo)
{
	static int idx[4] = {0, 1, 2, 3};
	return cr_make_param_array(int, idx, 4);
}

ParameterizedTest(int *pi, netpoll, echo, .timeout = 150)
{
	const struct echo_case *c = &echo_cases[*pi];
	char *srv = gr_test_shared_prog("echo_server");
	char *cli = gr_test_shared_prog("echo_client");
	gr_test_need_lib();
	char port[16];
	snprintf(port, sizeof port, "%d", free_port());
	const char *sargv[] = {srv, port, "0", "50", NULL};
	const char *cargv[] = {cli, port, "200", "200", "1", "50", NULL};
	struct server_run s = {.argv = sargv, .maxprocs = c->server_green ? c->maxprocs : 0};
	struct gr_test_result client = {0};
	pthread_t t;

	cr_assert(pthread_create(&t, NULL, run_server, &s) == 0);
	if (c->client_green)
		gr_test_run_green(cargv, c->maxprocs, NULL, RUN_TIMEOUT_S, &client);
	else
		gr_test_run_native(cargv, NULL, RUN_TIMEOUT_S, &client);
	pthread_join(t, NULL);
	cr_log_info("echo server %s client %s MAXPROCS=%d: %s", c->server_green ? "green" : "native",
		    c->client_green ? "green" : "native", c->maxprocs,
		    gr_test_value(client.out, "echo_client_rps"));
	gr_test_assert_ok(&client);
	gr_test_assert_value(&client, "check", "ok");
	gr_test_assert_value(&client, "ok", "40000");
	gr_test_assert_ok(&s.r);
	gr_test_assert_value(&s.r, "echo_server_msgs", "40000");
	gr_test_result_free(&client);
	gr_test_result_free(&s.r);
	free(srv);
	free(cli);
}

/* ---- memcached (Debian's) under green, checked by a threaded client of ours ---------- */

ParameterizedTestParameters(netpoll, memcached)
{
	static int procs[] = {1, 2};
	return cr_make_param_array(int, procs, 2);
}

ParameterizedTest(int *maxprocs, netpoll, memcached, .timeout = 120)
{
	if (access("/usr/bin/memcached", X_OK) != 0)
		cr_skip("memcached is not installed (apt-get install memcached)");
	char *cli = gr_test_prog("net_mcclient");
	gr_test_need_lib();
	char port[16];
	snprintf(port, sizeof port, "%d", free_port());
	/* -A: the client's "shutdown" stops it; the run's deadline stops it otherwise. */
	const char *sargv[] = {"/usr/bin/memcached", "-u", "root", "-p", port, "-U", "0",
			       "-t", "4", "-l", "127.0.0.1", "-A", NULL};
	const char *cargv[] = {cli, port, "16", "200", NULL};
	struct server_run s = {.argv = sargv, .maxprocs = *maxprocs};
	struct gr_test_result client = {0};
	pthread_t t;

	cr_assert(pthread_create(&t, NULL, run_server, &s) == 0);
	gr_test_run_native(cargv, NULL, RUN_TIMEOUT_S, &client);
	pthread_join(t, NULL);
	gr_test_assert_ok(&client);
	gr_test_assert_value(&client, "mc", "ok");
	gr_test_assert_value(&client, "mc_ok", "3200");
	cr_assert(!s.r.timed_out, "memcached did not stop on shutdown: %s",
		  gr_test_describe(&s.r));
	gr_test_result_free(&client);
	gr_test_result_free(&s.r);
	free(cli);
}

/* ---- Redis (Debian's) under green: its I/O threads and redis-benchmark's threads ------ */

/* Waits (up to 20 s) until something accepts connections on the loopback port. */
static bool wait_listening(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 2000; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int r = connect(s, (struct sockaddr *)&a, sizeof a);
		close(s);
		if (r == 0)
			return true;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* redis-cli -p port a1 a2: its stdout (malloc'd), or NULL when it failed. */
static char *redis_cli(const char *port, const char *a1, const char *a2)
{
	const char *argv[] = {"/usr/bin/redis-cli", "-p", port, a1, a2, NULL};
	struct gr_test_result r = {0};

	gr_test_run_native(argv, NULL, RUN_TIMEOUT_S, &r);
	char *out = gr_test_ok(&r) ? strdup(r.out) : NULL;
	gr_test_result_free(&r);
	return out;
}

#define REDIS_N "5000"

/* redis-server --io-threads 2 and redis-benchmark --threads 2, both under green (maxprocs
 * 2) or both native (0): every INCR and LPUSH of the benchmark lands, as natively.  Not
 * with one P: Redis's main thread busy-waits for its I/O threads (and they for it), so
 * each event-loop round there lasts a preemption tick (10 ms), as on a one-CPU machine. */
ParameterizedTestParameters(netpoll, redis)
{
	static int procs[] = {0, 2};
	return cr_make_param_array(int, procs, 2);
}

ParameterizedTest(int *maxprocs, netpoll, redis, .timeout = 180)
{
	if (access("/usr/bin/redis-server", X_OK) != 0 ||
	    access("/usr/bin/redis-benchmark", X_OK) != 0)
		cr_skip("redis is not installed (apt-get install redis-server redis-tools)");
	gr_test_need_lib();
	char port[16];
	int p = free_port();
	snprintf(port, sizeof port, "%d", p);
	const char *sargv[] = {"/usr/bin/redis-server", "--port", port, "--bind", "127.0.0.1",
			       "--io-threads", "2", "--io-threads-do-reads", "yes", "--save", "",
			       "--appendonly", "no", NULL};
	const char *bargv[] = {"/usr/bin/redis-benchmark", "-p", port, "--threads", "2", "-c", "16",
			       "-n", REDIS_N, "-t", "set,get,incr,lpush", "-q", NULL};
	/* The server outlives the benchmark's own deadline, so a slow run fails there. */
	struct server_run s = {.argv = sargv, .maxprocs = *maxprocs, .timeout_s = 120};
	struct gr_test_result bench = {0};
	pthread_t t;

	cr_assert(pthread_create(&t, NULL, run_server, &s) == 0);
	bool up = wait_listening(p);
	if (up) {
		if (*maxprocs)
			gr_test_run_green(bargv, *maxprocs, NULL, 90, &bench);
		else
			gr_test_run_native(bargv, NULL, 90, &bench);
	}
	char *counter = up ? redis_cli(port, "get", "counter:__rand_int__") : NULL;
	char *llen = up ? redis_cli(port, "llen", "mylist") : NULL;
	if (up)
		free(redis_cli(port, "shutdown", "nosave"));
	pthread_join(t, NULL); /* not up: the run's deadline stops the server */
	cr_assert(up, "redis-server never listened: %s", gr_test_describe(&s.r));
	gr_test_assert_ok(&bench);
	/* One "NAME: N requests per second" line per test, after \r-separated progress. */
	int tests = 0;
	char *text = strdup(bench.out);
	for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
		if (!strstr(line, " requests per second"))
			continue;
		cr_log_info("redis %s MAXPROCS=%d: %s", *maxprocs ? "green" : "native", *maxprocs,
			    line);
		tests++;
	}
	free(text);
	cr_assert_eq(tests, 4, "redis-benchmark: %s", gr_test_describe(&bench));
	cr_assert(counter && gr_test_has_line(counter, REDIS_N), "INCR count: %s", counter);
	cr_assert(llen && gr_test_has_line(llen, REDIS_N), "LPUSH count: %s", llen);
	cr_assert(!s.r.timed_out, "redis-server did not stop on shutdown: %s",
		  gr_test_describe(&s.r));
	free(counter);
	free(llen);
	gr_test_result_free(&bench);
	gr_test_result_free(&s.r);
}
