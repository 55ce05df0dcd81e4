/* Threads green did not create: glibc's SIGEV_THREAD timer runs its callback on a helper
 * thread of its own.  The callback waits for a mutex a green thread holds, signals a
 * condition variable a green thread waits on, creates and joins a thread, and sleeps.
 * Prints FOREIGN=ok when every step happened in order. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;
static int child_ran;

static void *child(void *arg)
{
	(void)arg;
	child_ran = 1;
	return (void *)7;
}

static void callback(union sigval sv)
{
	(void)sv;
	pthread_mutex_lock(&mu); /* held by main until it has seen stage 1 */
	stage = 2;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);

	pthread_t t;
	void *ret = NULL;
	int rc = pthread_create(&t, NULL, child, NULL);
	if (rc == 0)
		rc = pthread_join(t, &ret);
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);

	pthread_mutex_lock(&mu);
	stage = rc == 0 && ret == (void *)7 && child_ran ? 3 : -1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (stage < 3 && stage >= 0)
		pthread_cond_wait(&cv, &mu);
	int s = stage;
	pthread_mutex_unlock(&mu);
	return (void *)(long)s;
}

int main(void)
{
	timer_t tm;
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = callback;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tm) != 0) {
		perror("timer_create");
		return 1;
	}
	pthread_t w;
	pthread_create(&w, NULL, waiter, NULL);

	pthread_mutex_lock(&mu);
	stage = 1;
	struct itimerspec its = {.it_value = {0, 1000000}};
	timer_settime(tm, 0, &its, NULL);
	struct timespec ts = {0, 20000000}; /* the callback now waits for mu */
	nanosleep(&ts, NULL);
	while (stage < 2)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	void *ret;
	pthread_join(w, &ret);
	printf("stage=%ld\n", (long)ret);
	printf("FOREIGN=%s\n", ret == (void *)3 ? "ok" : "FAIL");
	timer_delete(tm);
	return ret == (void *)3 ? 0 : 1;
}
