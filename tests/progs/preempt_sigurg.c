/* preempt_sigurg: the program's own SIGURG handler keeps working while green preempts
 * with SIGURG.  A spinner needs preemption to let main run; main raises SIGURG five times
 * and its handler must run each time, and sigaction must report the program's handler.
 * Final line: SIGURG=ok (or FAIL). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int hits, stop;
static void on_urg(int sig)
{
	(void)sig;
	atomic_fetch_add(&hits, 1);
}

static void *spin(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		;
	return NULL;
}

int main(void)
{
	struct sigaction sa, old;
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_urg;
	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGURG, NULL, &old);
	int same = old.sa_handler == on_urg;
	pthread_create(&t, NULL, spin, NULL);
	for (int i = 0; i < 5; i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL); /* wakes only if the spinner is preempted */
		raise(SIGURG);
		while (atomic_load(&hits) < i + 1)
			;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("hits=%d same=%d\n", atomic_load(&hits), same);
	printf("SIGURG=%s\n", atomic_load(&hits) == 5 && same ? "ok" : "FAIL");
	return 0;
}
