/*
 * proc_fork - fork, exec, posix_spawn, popen, system and vfork while other threads hold
 * mutexes, sleep, wait on condition variables and block in read(); fork from a thread
 * other than main while main blocks in a system call (so the forking thread runs on
 * another M under green); fork again inside a child; pthread_atfork handlers run on the
 * forking thread (its __thread variables and errno).
 *
 * A child proves its runtime works: it creates and joins threads, passes bytes through a
 * pipe between threads, waits on a condition variable, sleeps, locks a fresh mutex, and
 * finds a mutex held by a vanished thread still held.  It exits 42 when all is well.
 * Usage: proc_fork [exec-image]   (the second form is the exec'd image: exits 43)
 * Prints `name=value` lines (facts only); final line `END=ok`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int blockpipe[2];
static atomic_int ready, stop;
static __thread int tls_mark;
static atomic_int atfork_tls_ok = 1, prepares, parents, childs;
static const char *self_path;

static void prep(void)
{
	prepares++;
	tls_mark = 7;
	errno = 1234;
}
static void par(void)
{
	parents++;
	if (tls_mark != 7 || errno != 1234)
		atfork_tls_ok = 0;
}
static void chi(void)
{
	childs++;
	if (tls_mark != 7 || errno != 1234)
		atfork_tls_ok = 0;
}

static void *holder(void *a)
{
	(void)a;
	pthread_mutex_lock(&held);
	ready++;
	while (!stop) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_unlock(&held);
	return NULL;
}

static void *cond_waiter(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	ready++;
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *reader(void *a)
{
	(void)a;
	char c;
	ready++;
	(void)!read(blockpipe[0], &c, 1); /* main writes at the end */
	return NULL;
}

/* ---- what a child checks ---- */

static int cpipe[2];
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static int cflag;

static void *child_writer(void *a)
{
	(void)a;
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
	if (write(cpipe[1], "abcd", 4) != 4)
		return (void *)1;
	pthread_mutex_lock(&cmu);
	cflag = 1;
	pthread_cond_signal(&ccv);
	pthread_mutex_unlock(&cmu);
	return NULL;
}

static int child_checks(void)
{
	if (pthread_mutex_trylock(&held) != EBUSY)
		return 10;
	if (pipe(cpipe))
		return 11;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, child_writer, NULL))
			return 12;
	char buf[16];
	size_t got = 0;
	while (got < 16) {
		ssize_t r = read(cpipe[0], buf + got, 16 - got);
		if (r <= 0)
			return 13;
		got += r;
	}
	pthread_mutex_lock(&cmu);
	while (!cflag)
		pthread_cond_wait(&ccv, &cmu);
	pthread_mutex_unlock(&cmu);
	for (int i = 0; i < 4; i++) {
		void *rv;
		if (pthread_join(t[i], &rv) || rv)
			return 14;
	}
	pthread_mutex_t m2 = PTHREAD_MUTEX_INITIALIZER;
	if (pthread_mutex_lock(&m2) || pthread_mutex_unlock(&m2))
		return 15;
	return 42;
}

static int reap(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int fork_and_check(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_checks());
	return reap(pid);
}

/* A child that forks again: the rebuilt runtime can fork too. */
static int fork_twice(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fork_and_check() == 42 ? child_checks() : 20);
	return reap(pid);
}

/* Runs fn on a new thread and returns its int result. */
struct on_thread {
	int (*fn)(void);
	int result;
};
static void *on_thread_main(void *a)
{
	struct on_thread *o = a;
	o->result = o->fn();
	return NULL;
}
static int on_thread(int (*fn)(void))
{
	struct on_thread o = {fn, -1};
	pthread_t t;
	pthread_create(&t, NULL, on_thread_main, &o);
	pthread_join(t, NULL);
	return o.result;
}

/* Fork from a thread while main blocks in read() on a pipe the thread writes last. */
static int main_blocked_pipe[2];
static int fork_from_thread_result = -1;
static void *forker(void *a)
{
	(void)a;
	fork_from_thread_result = fork_and_check();
	(void)!write(main_blocked_pipe[1], "x", 1);
	return NULL;
}

static void *exec_thread(void *a)
{
	(void)a;
	char *argv[] = {(char *)self_path, "exec-image", NULL};
	execv(self_path, argv);
	_exit(99);
}
static int exec_from_thread(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t, w;
		pthread_create(&w, NULL, holder, NULL); /* keeps running */
		pthread_create(&t, NULL, exec_thread, NULL);
		pthread_join(t, NULL);
		_exit(98);
	}
	return reap(pid);
}

static int spawn_exit5(void)
{
	pid_t pid;
	char *argv[] = {"sh", "-c", "exit 5", NULL};
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ))
		return -1;
	return reap(pid);
}

static int popen_hello(void)
{
	FILE *p = popen("echo hello", "r");
	char line[32] = "";
	if (!p || !fgets(line, sizeof line, p))
		return -1;
	int st = pclose(p);
	return strcmp(line, "hello\n") == 0 && st == 0 ? 1 : 0;
}

static int system_exit3(void)
{
	int st = system("exit 3");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int vfork_exit6(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 6", (char *)NULL);
		_exit(97);
	}
	return reap(pid);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec-image") == 0)
		return 43;
	self_path = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_atfork(prep, par, chi);
	if (pipe(blockpipe) || pipe(main_blocked_pipe))
		return 1;
	pthread_t w[3];
	pthread_create(&w[0], NULL, holder, NULL);
	pthread_create(&w[1], NULL, cond_waiter, NULL);
	pthread_create(&w[2], NULL, reader, NULL);
	while (ready < 3)
		sched_yield();

	int ok = 0;
	for (int i = 0; i < 10; i++)
		ok += fork_and_check() == 42;
	printf("fork_main=%d/10\n", ok);
	printf("fork_twice=%d\n", fork_twice());

	pthread_t f;
	pthread_create(&f, NULL, forker, NULL);
	char c;
	(void)!read(main_blocked_pipe[0], &c, 1); /* main's M blocks in the kernel */
	pthread_join(f, NULL);
	printf("fork_from_thread=%d\n", fork_from_thread_result);

	printf("atfork prepare=%d parent=%d child_in_parent=%d tls_errno_ok=%d\n",
	       prepares, parents, childs, atfork_tls_ok);
	printf("exec_from_thread=%d\n", exec_from_thread());
	printf("posix_spawn=%d\n", on_thread(spawn_exit5));
	printf("popen=%d\n", on_thread(popen_hello));
	printf("system=%d\n", on_thread(system_exit3));
	printf("vfork=%d\n", on_thread(vfork_exit6));

	stop = 1;
	pthread_mutex_lock(&mu);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	(void)!write(blockpipe[1], "x", 1);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	printf("END=ok\n");
	return 0;
}
