/*
 * net_mcclient: a threaded memcached client for the integration test.  C threads, one
 * connection each (connect retried for up to 5 s while the server starts), R set+get
 * round trips each with values checked; then "shutdown" (memcached -A).
 * Usage: net_mcclient PORT [C=8] [R=200].  Prints mc_ok=N mc_bad=N mc=ok|FAIL.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, rounds;
static long nok, nbad;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 500; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
			return s;
		close(s);
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Reads until buf ends with the terminator term, or fails. */
static int read_until(int s, char *buf, size_t cap, const char *term)
{
	size_t got = 0, tl = strlen(term);
	while (got < cap - 1) {
		ssize_t r = read(s, buf + got, cap - 1 - got);
		if (r <= 0)
			return -1;
		got += r;
		buf[got] = 0;
		if (got >= tl && !strcmp(buf + got - tl, term))
			return 0;
	}
	return -1;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg, s = dial();
	long ok = 0, bad = 0;
	char cmd[256], buf[512], want[256];
	for (int i = 0; s >= 0 && i < rounds; i++) {
		char val[64];
		int vl = snprintf(val, sizeof val, "value-%d-%d", id, i * 7);
		int n = snprintf(cmd, sizeof cmd, "set k%d_%d 0 0 %d\r\n%s\r\n", id, i, vl, val);
		if (write(s, cmd, n) != n || read_until(s, buf, sizeof buf, "\r\n") ||
		    strcmp(buf, "STORED\r\n")) {
			bad++;
			continue;
		}
		n = snprintf(cmd, sizeof cmd, "get k%d_%d\r\n", id, i);
		snprintf(want, sizeof want, "VALUE k%d_%d 0 %d\r\n%s\r\nEND\r\n", id, i, vl, val);
		if (write(s, cmd, n) != n || read_until(s, buf, sizeof buf, "END\r\n") ||
		    strcmp(buf, want))
			bad++;
		else
			ok++;
	}
	if (s < 0)
		bad = rounds;
	else
		close(s);
	pthread_mutex_lock(&mu);
	nok += ok;
	nbad += bad;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	port = atoi(argv[1]);
	int c = argc > 2 ? atoi(argv[2]) : 8;
	rounds = argc > 3 ? atoi(argv[3]) : 200;
	pthread_t t[256];
	if (c < 1 || c > 256)
		return 2;
	for (int i = 0; i < c; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < c; i++)
		pthread_join(t[i], NULL);
	int s = dial();
	if (s >= 0) {
		if (write(s, "shutdown\r\n", 10) != 10)
			perror("shutdown");
		close(s);
	}
	int good = nok == (long)c * rounds && nbad == 0;
	printf("mc_ok=%ld mc_bad=%ld mc=%s\n", nok, nbad, good ? "ok" : "FAIL");
	return !good;
}
