/* syscall_sync_handoff: a thread computes while the main thread calls fsync N times on a
 * file with nothing to write back (each call returns in tens of microseconds).  Under green
 * on one P (issue 5) each fsync made while another G waits for the P hands it off at once
 * (gr_entersyscallsync), so GREEN_SYSMON_STATS=1 reports at least N hand-offs; before,
 * a call this short kept its P unless sysmon happened to look twice during it.
 * Usage: syscall_sync_handoff [N=200]
 * Prints FSYNCS=<n> SPUN=ok (the computing thread ran meanwhile) and SYNC_HANDOFF=ok. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long spins;

static void *spin(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		atomic_fetch_add_explicit(&spins, 1, memory_order_relaxed);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	char path[64];
	pthread_t t;

	snprintf(path, sizeof path, "/tmp/green-sync-handoff-%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || n < 1)
		return 2;
	unlink(path);
	if (fsync(fd) != 0 || pthread_create(&t, NULL, spin, NULL) != 0)
		return 2;
	while (atomic_load(&spins) == 0) /* the spinner is running (or queued on one P) */
		usleep(1000);
	long before = atomic_load(&spins);
	int done = 0;
	for (int i = 0; i < n; i++)
		done += fsync(fd) == 0;
	long after = atomic_load(&spins);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("FSYNCS=%d\n", done);
	printf("SPUN=%s\n", after > before ? "ok" : "no");
	printf("SYNC_HANDOFF=%s\n", done == n ? "ok" : "fail");
	return 0;
}
