/*
 * net_order: threads blocked in read() on TCP connections that become readable in turn
 * run in that order, first readable first (green only: natively the kernel decides).
 *
 * Under green each wake-up comes from the netpoller, which found the connections ready
 * in one batch.  They used to go through the poller's runnext one after another, each
 * displacing the one before: the last connection's thread ran first, and each such
 * thread took over the poller's time slice, so a server's slices ran on until sysmon
 * preempted them.  Run with GREEN_MAXPROCS=1 so that one P runs them all.
 * Usage: net_order.  Prints order=ok, or order=FAIL and the order seen.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 8

static int srv[N];		/* the accepted ends, each read by its reader */
static atomic_int started, nran;
static int ran[N];

static void *reader(void *arg)
{
	int i = (int)(long)arg;
	char c;

	atomic_fetch_add(&started, 1);
	if (read(srv[i], &c, 1) != 1)
		return (void *)1;
	ran[atomic_fetch_add(&nran, 1)] = i;
	return NULL;
}

int main(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int cli[N];
	pthread_t t[N];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, N) ||
	    getsockname(ls, (struct sockaddr *)&sa, &len)) {
		perror("listen");
		return 1;
	}
	for (int i = 0; i < N; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&sa, sizeof(sa)) ||
		    (srv[i] = accept(ls, NULL, NULL)) < 0) {
			perror("connect");
			return 1;
		}
	}
	/* One at a time, so that they also wait in the poller in this order (epoll reports a
	 * descriptor at the place it first became ready: writable, when registered).  On one
	 * P, a yield runs the new reader until it blocks in read. */
	for (int i = 0; i < N; i++) {
		pthread_create(&t[i], NULL, reader, (void *)(long)i);
		while (atomic_load(&started) <= i)
			sched_yield();
		sched_yield();
	}
	for (int i = 0; i < N; i++)
		if (write(cli[i], "x", 1) != 1) {
			perror("write");
			return 1;
		}
	int bad = 0;
	for (int i = 0; i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad |= r != NULL;
	}
	for (int i = 0; i < N; i++)
		bad |= ran[i] != i;
	printf("order=%s ran:", bad ? "FAIL" : "ok");
	for (int i = 0; i < N; i++)
		printf(" %d", ran[i]);
	printf("\n");
	return bad;
}
