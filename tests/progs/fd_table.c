/*
 * fd_table - the size of the kernel's descriptor table when main starts.
 *
 * Prints FDSIZE=<FDSize from /proc/self/status> NOFILE=<soft RLIMIT_NOFILE>, then
 * GROWN=yes when FDSize already covers min(1024, NOFILE) (green grows it at start-up,
 * while the process has one thread: growing it later, with threads sharing it, waits for
 * an RCU grace period, 10-20 ms at the program's first pthread_create), else GROWN=no.
 * Natively the table starts at 64 entries: GROWN=no.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int main(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long fdsize = -1;
	struct rlimit rl;

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "FDSize: %ld", &fdsize) == 1)
			break;
	if (f)
		fclose(f);
	getrlimit(RLIMIT_NOFILE, &rl);
	long want = rl.rlim_cur < 1024 ? (long)rl.rlim_cur : 1024;
	printf("FDSIZE=%ld NOFILE=%ld\n", fdsize, (long)rl.rlim_cur);
	printf("GROWN=%s\n", fdsize >= want ? "yes" : "no");
	return fdsize < 0;
}
