/* pthread_exit from main while other threads run: the process lives until the last thread
 * ends, then exits 0 (glibc's rule).  Threads outlive main by parking, sleeping and
 * creating more threads.  The last line is printed by the last thread. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int main_gone;

static void *grandchild(void *arg)
{
	struct timespec ts = {0, 5000000};
	nanosleep(&ts, NULL);
	return arg;
}

static void *child(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!main_gone)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	pthread_t t;
	void *ret = NULL;
	pthread_create(&t, NULL, grandchild, (void *)5);
	pthread_join(t, &ret);
	printf("after_main_exit=%s\n", ret == (void *)5 ? "ok" : "FAIL");
	fflush(stdout);
	return NULL;
}

static void *announcer(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 10000000};
	nanosleep(&ts, NULL); /* main has had time to exit; if not, the child still waits */
	pthread_mutex_lock(&mu);
	main_gone = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	pthread_t t;
	for (int i = 0; i < 4; i++)
		pthread_create(&t, NULL, child, NULL);
	pthread_create(&t, NULL, announcer, NULL);
	printf("main_exiting=yes\n");
	fflush(stdout);
	pthread_exit(NULL);
}
