/* syscall_block: in each scenario thread A blocks in a wrapped system call that only
 * thread B can release.  Under GREEN_MAXPROCS=1, B runs only if A's call handed the P
 * off.  Usage: syscall_block [scenario]; prints "<name>=ok" per scenario, then
 * SYSCALL=ok.  An alarm turns a hang into a failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static atomic_int a_in, failed;
static int fd_a, fd_b, semid, msqid, pipefd[2];
static pid_t child;
static mqd_t mq;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("ERROR: %s: %s\n", what, strerror(errno));
		atomic_store(&failed, 1);
	}
}

/* B waits for A to be (about to be) blocked; with one P it only gets here if A's call
 * released the P, so no sleep is needed. */
static void b_wait_a(void)
{
	while (!atomic_load(&a_in))
		sched_yield();
}

static void *a_flock(void *x) { (void)x; atomic_store(&a_in, 1); check(flock(fd_a, LOCK_EX) == 0, "flock"); return NULL; }
static void *b_flock(void *x) { (void)x; b_wait_a(); check(flock(fd_b, LOCK_UN) == 0, "unlock"); return NULL; }

static void *a_ofd(void *x)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	(void)x;
	atomic_store(&a_in, 1);
	check(fcntl(fd_a, F_OFD_SETLKW, &fl) == 0, "F_OFD_SETLKW");
	return NULL;
}
static void *b_ofd(void *x)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	(void)x;
	b_wait_a();
	check(fcntl(fd_b, F_OFD_SETLK, &fl) == 0, "F_OFD_SETLK unlock");
	return NULL;
}

static void *a_wait(void *x) { int st; (void)x; atomic_store(&a_in, 1); check(waitpid(child, &st, 0) == child, "waitpid"); return NULL; }
static void *b_wait(void *x) { (void)x; b_wait_a(); check(write(pipefd[1], "x", 1) == 1, "write"); return NULL; }

static void *a_open(void *x)
{
	char p[96];
	(void)x;
	snprintf(p, sizeof p, "%s/fifo", dir);
	atomic_store(&a_in, 1);
	int fd = open(p, O_RDONLY); /* blocks until a writer opens */
	check(fd >= 0, "open fifo");
	close(fd);
	return NULL;
}
static void *b_open(void *x)
{
	char p[96];
	(void)x;
	b_wait_a();
	snprintf(p, sizeof p, "%s/fifo", dir);
	int fd = open(p, O_WRONLY);
	check(fd >= 0, "open fifo for writing");
	close(fd);
	return NULL;
}

static void *a_sem(void *x) { struct sembuf op = {0, -1, 0}; (void)x; atomic_store(&a_in, 1); check(semop(semid, &op, 1) == 0, "semop wait"); return NULL; }
static void *b_sem(void *x) { struct sembuf op = {0, 1, 0}; (void)x; b_wait_a(); check(semop(semid, &op, 1) == 0, "semop post"); return NULL; }

struct msg { long type; char c; };
static void *a_msg(void *x) { struct msg m; (void)x; atomic_store(&a_in, 1); check(msgrcv(msqid, &m, 1, 0, 0) == 1, "msgrcv"); return NULL; }
static void *b_msg(void *x) { struct msg m = {1, 'x'}; (void)x; b_wait_a(); check(msgsnd(msqid, &m, 1, 0) == 0, "msgsnd"); return NULL; }

static void *a_mq(void *x) { char b[16]; (void)x; atomic_store(&a_in, 1); check(mq_receive(mq, b, sizeof b, NULL) == 1, "mq_receive"); return NULL; }
static void *b_mq(void *x) { (void)x; b_wait_a(); check(mq_send(mq, "x", 1, 0) == 0, "mq_send"); return NULL; }

static void run(const char *name, void *(*a)(void *), void *(*b)(void *))
{
	pthread_t ta, tb;
	atomic_store(&a_in, 0);
	pthread_create(&ta, NULL, a, NULL);
	pthread_create(&tb, NULL, b, NULL);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("%s=%s\n", name, atomic_load(&failed) ? "FAIL" : "ok");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	char p[96];

	alarm(20);
	snprintf(dir, sizeof dir, "/tmp/green-syscall-%d", (int)getpid());
	check(mkdir(dir, 0700) == 0, "mkdir");
	snprintf(p, sizeof p, "%s/lock", dir);
	fd_a = open(p, O_RDWR | O_CREAT, 0600);
	fd_b = open(p, O_RDWR);
	check(fd_a >= 0 && fd_b >= 0, "open lock file");

	if (!only || !strcmp(only, "flock")) {
		check(flock(fd_b, LOCK_EX) == 0, "flock b");
		run("flock", a_flock, b_flock);
		flock(fd_a, LOCK_UN);
	}
	if (!only || !strcmp(only, "ofd")) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		check(fcntl(fd_b, F_OFD_SETLK, &fl) == 0, "F_OFD_SETLK b");
		run("ofd", a_ofd, b_ofd);
	}
	if (!only || !strcmp(only, "waitpid")) {
		check(pipe(pipefd) == 0, "pipe");
		child = fork();
		if (child == 0) {
			char c;
			_exit(read(pipefd[0], &c, 1) == 1 ? 0 : 1);
		}
		run("waitpid", a_wait, b_wait);
	}
	if (!only || !strcmp(only, "open")) {
		snprintf(p, sizeof p, "%s/fifo", dir);
		check(mkfifo(p, 0600) == 0, "mkfifo");
		run("open", a_open, b_open);
		unlink(p);
	}
	if (!only || !strcmp(only, "semop")) {
		semid = semget(IPC_PRIVATE, 1, 0600);
		check(semid >= 0, "semget");
		run("semop", a_sem, b_sem);
		semctl(semid, 0, IPC_RMID);
	}
	if (!only || !strcmp(only, "msgrcv")) {
		msqid = msgget(IPC_PRIVATE, 0600);
		check(msqid >= 0, "msgget");
		run("msgrcv", a_msg, b_msg);
		msgctl(msqid, IPC_RMID, NULL);
	}
	if (!only || !strcmp(only, "mq")) {
		char name[64];
		struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 16};
		snprintf(name, sizeof name, "/green-%d", (int)getpid());
		mq = mq_open(name, O_RDWR | O_CREAT, 0600, &at);
		if (mq == (mqd_t)-1) {
			printf("mq=skip\n");
		} else {
			mq_unlink(name);
			run("mq", a_mq, b_mq);
		}
	}
	snprintf(p, sizeof p, "%s/lock", dir);
	unlink(p);
	rmdir(dir);
	printf("SYSCALL=%s\n", atomic_load(&failed) ? "FAIL" : "ok");
	return atomic_load(&failed);
}
