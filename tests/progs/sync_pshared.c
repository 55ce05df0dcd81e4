/*
 * sync_pshared - process-shared objects between two processes: a PTHREAD_PROCESS_SHARED
 * mutex, condvar, rwlock and barrier and a pshared semaphore in a shm_open mapping, and a
 * named semaphore (sem_open).  The parent spawns itself as the child (posix_spawn, so
 * no fork), with LD_PRELOAD removed when the first argument is "native": a green parent
 * then shares the mutex and the semaphores (glibc's own protocol) with a native child;
 * "same" shares every object with a child like the parent.
 *
 * Usage: sync_pshared [native|same] [iters=2000]
 * Prints counter=got/want ... and check=ok.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct shared {
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_rwlock_t rw;
	pthread_barrier_t b;
	sem_t ping, pong;
	int flag;
	long counter, counter2, pings;
};

static struct shared *map(const char *name, bool create)
{
	int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0) {
		perror("shm_open");
		exit(1);
	}
	if (create && ftruncate(fd, sizeof(struct shared)) != 0)
		exit(1);
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s;
}

/* full: every object; else (a native peer) only the mutex and the semaphores, whose
 * protocol green keeps identical to glibc's. */
static void work(struct shared *s, sem_t *named, int n, bool parent, bool full)
{
	if (full)
		pthread_barrier_wait(&s->b);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&s->m);
		s->counter++;
		pthread_mutex_unlock(&s->m);
		if (full) {
			pthread_rwlock_wrlock(&s->rw);
			s->counter2++;
			pthread_rwlock_unlock(&s->rw);
		} else {
			pthread_mutex_lock(&s->m);
			s->counter2++;
			pthread_mutex_unlock(&s->m);
		}
		sem_wait(named);
		sem_post(named);
	}
	/* Semaphore ping-pong: strict alternation. */
	for (int i = 0; i < n / 10; i++) {
		if (parent) {
			sem_post(&s->ping);
			sem_wait(&s->pong);
		} else {
			sem_wait(&s->ping);
			s->pings++;
			sem_post(&s->pong);
		}
	}
	if (!full)
		return;
	/* Condvar: the child waits for the parent's flag. */
	pthread_mutex_lock(&s->m);
	if (parent) {
		s->flag = 1;
		pthread_cond_broadcast(&s->c);
	} else {
		while (!s->flag)
			pthread_cond_wait(&s->c, &s->m);
	}
	pthread_mutex_unlock(&s->m);
	pthread_barrier_wait(&s->b);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 2000;
	char shm[64], semname[64];

	if (argc > 5 && strcmp(argv[1], "child") == 0) {
		struct shared *s = map(argv[3], false);
		sem_t *named = sem_open(argv[4], 0);
		if (named == SEM_FAILED)
			return 1;
		work(s, named, n, false, strcmp(argv[5], "full") == 0);
		return 0;
	}
	bool native_child = argc > 1 && strcmp(argv[1], "native") == 0;
	snprintf(shm, sizeof shm, "/green_pshared_%d", (int)getpid());
	snprintf(semname, sizeof semname, "/green_pshared_sem_%d", (int)getpid());
	struct shared *s = map(shm, true);
	sem_t *named = sem_open(semname, O_CREAT | O_EXCL, 0600, 1);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_rwlockattr_t ra;
	pthread_barrierattr_t ba;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->m, &ma);
	pthread_cond_init(&s->c, &ca);
	pthread_rwlock_init(&s->rw, &ra);
	pthread_barrier_init(&s->b, &ba, 2);
	sem_init(&s->ping, 1, 0);
	sem_init(&s->pong, 1, 0);

	/* The child's environment: ours, minus LD_PRELOAD for a native child. */
	int ne = 0;
	while (environ[ne])
		ne++;
	char **env = calloc(ne + 1, sizeof *env);
	for (int i = 0, j = 0; i < ne; i++)
		if (!(native_child && strncmp(environ[i], "LD_PRELOAD=", 11) == 0))
			env[j++] = environ[i];
	char nbuf[16];
	snprintf(nbuf, sizeof nbuf, "%d", n);
	char *cargv[] = {argv[0], "child", nbuf, shm, semname, native_child ? "part" : "full",
			 NULL};
	pid_t pid;
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, cargv, env) != 0) {
		perror("posix_spawn");
		return 1;
	}
	work(s, named, n, true, !native_child);
	int st;
	waitpid(pid, &st, 0);
	int fails = 0;
	printf("child_exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("counter=%ld/%ld\n", s->counter, 2L * n);
	printf("counter2=%ld/%ld\n", s->counter2, 2L * n);
	printf("pings=%ld/%d\n", s->pings, n / 10);
	fails += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	fails += s->counter != 2L * n || s->counter2 != 2L * n || s->pings != n / 10;
	sem_close(named);
	sem_unlink(semname);
	shm_unlink(shm);
	printf("check=%s\n", fails ? "FAIL" : "ok");
	return fails ? 1 : 0;
}
