/* syscall_errno: wrapped calls return what glibc returns and leave errno as glibc sets it,
 * from several threads at once.  Prints one line per check; the test compares the output
 * with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static int bad;

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char p[128], q[128], buf[64];

	for (int i = 0; i < 200; i++) {
		snprintf(p, sizeof p, "%s/f%d", dir, id);
		snprintf(q, sizeof q, "%s/g%d", dir, id);
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || pwrite(fd, "hello", 5, 10) != 5 || pread(fd, buf, 5, 10) != 5 ||
		    memcmp(buf, "hello", 5) || fsync(fd) || fdatasync(fd) || ftruncate(fd, 3) ||
		    fcntl(fd, F_GETFL) < 0 || flock(fd, LOCK_EX) || flock(fd, LOCK_UN) ||
		    rename(p, q) || unlink(q) || close(fd))
			__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
		errno = 0;
		if (open(p, O_RDONLY) != -1 || errno != ENOENT)
			__atomic_store_n(&bad, 2, __ATOMIC_RELAXED);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[4];

	snprintf(dir, sizeof dir, "/tmp/green-errno-%d", (int)getpid());
	mkdir(dir, 0700);
#define CHECK(name, call)                                                                  \
	do {                                                                               \
		errno = 0;                                                                 \
		long r_ = (long)(call);                                                    \
		int e_ = errno;                                                            \
		printf("%s=%ld errno=%s\n", name, r_, strerror(e_));                       \
	} while (0)
	CHECK("open_missing", open("/nonexistent/x", O_RDONLY));
	CHECK("unlink_missing", unlink("/nonexistent/x"));
	CHECK("waitpid_nochild", waitpid(-1, NULL, 0));
	CHECK("fcntl_badfd", fcntl(-1, F_SETLKW, NULL));
	CHECK("flock_badfd", flock(-1, LOCK_EX));
	CHECK("pread_badfd", pread(-1, NULL, 0, 0));
	CHECK("mkdir_exists", mkdir("/tmp", 0700));
	printf("system=%d\n", WEXITSTATUS(system("exit 3")));
	FILE *f = popen("echo hi", "r");
	char line[16] = "";
	if (f && fgets(line, sizeof line, f))
		printf("popen=%s", line);
	printf("pclose=%d\n", f ? pclose(f) : -1);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	rmdir(dir);
	printf("workers=%s\n", bad ? "FAIL" : "ok");
	return bad;
}
