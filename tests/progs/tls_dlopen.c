/* tls_dlopen: TLS of a module loaded with dlopen, in threads created before and after the
 * load, many of them reusing the memory of exited ones (green recycles Gs, glibc its
 * stacks), and in threads alive across the load.  Every thread must see the module's
 * initial values, its own copy, and keep it across a yield.  Usage: tls_dlopen MODULE [rounds=200] [width=8].
 * Output: TLSDL=ok (or FAIL lines), then counts. */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int *(*counter_addr)(void);
static char *(*buf_addr)(void);
static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, long id)
{
	pthread_mutex_lock(&mu);
	if (failures++ < 10)
		printf("FAIL %s (thread %ld)\n", what, id);
	pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
	long id = (long)arg;

	if (!counter_addr)
		return NULL; /* created before the load: nothing of the module to look at */
	int *c = counter_addr();
	char *b = buf_addr();
	if (*c != 42)
		fail("counter not initial", id);
	if (strcmp(b, "initial") != 0)
		fail("buffer not initial", id);
	*c = (int)id;
	snprintf(b, 64, "thread %ld", id);
	sched_yield();
	char want[64];
	snprintf(want, sizeof(want), "thread %ld", id);
	if (counter_addr() != c || *c != (int)id || strcmp(buf_addr(), want) != 0)
		fail("value lost across a yield", id);
	return NULL;
}

static pthread_cond_t loaded_cv = PTHREAD_COND_INITIALIZER;
static int loaded;

/* Alive across the load: looks at the module once it is in. */
static void *early_worker(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!loaded)
		pthread_cond_wait(&loaded_cv, &mu);
	pthread_mutex_unlock(&mu);
	return worker(arg);
}

static void run_round(int width, long base)
{
	pthread_t t[width];

	for (int i = 0; i < width; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(base + i)) != 0)
			fail("pthread_create", base + i);
	for (int i = 0; i < width; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tls_dlopen MODULE [rounds] [width]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	int width = argc > 3 ? atoi(argv[3]) : 8;

	for (int r = 0; r < 4; r++) /* exited threads whose memory the next ones reuse */
		run_round(width, 1000000 + r * width);
	pthread_t early[width];
	for (int i = 0; i < width; i++)
		if (pthread_create(&early[i], NULL, early_worker, (void *)(2000000L + i)) != 0)
			fail("pthread_create", 2000000L + i);
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		printf("FAIL dlopen: %s\n", dlerror());
		return 1;
	}
	counter_addr = (int *(*)(void))dlsym(h, "tlsmod_counter_addr");
	buf_addr = (char *(*)(void))dlsym(h, "tlsmod_buf_addr");
	if (!counter_addr || !buf_addr) {
		printf("FAIL dlsym\n");
		return 1;
	}
	pthread_mutex_lock(&mu);
	loaded = 1;
	pthread_cond_broadcast(&loaded_cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < width; i++)
		pthread_join(early[i], NULL);
	for (int r = 0; r < rounds; r++)
		run_round(width, (long)r * width);
	printf("TLSDL=%s\n", failures ? "FAIL" : "ok");
	printf("threads=%d\n", (rounds + 1) * width);
	return failures != 0;
}
