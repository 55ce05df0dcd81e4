/* tls_dlmopen: the TLS of a module loaded into a namespace of its own (dlmopen with
 * LM_ID_NEWLM), in threads created after the load, many reusing the memory of exited
 * ones.  glibc copies such a module's initial TLS image into a new thread only when its
 * _dl_allocate_tls_init is told to (init_tls), which green once left to whatever a
 * register held.  Usage: tls_dlmopen MODULE [rounds=200] [width=8].
 * Output: TLSDLM=ok (or a FAIL line and TLSDLM=FAIL), then the thread count. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int *(*counter_addr)(void);
static char *(*buf_addr)(void);
static atomic_int not_initial;

/* The module's variables start from its image in every thread, then are the thread's. */
static void *worker(void *arg)
{
	int *counter = counter_addr();
	char *buf = buf_addr();

	if (*counter != 42 || strcmp(buf, "initial") != 0)
		atomic_fetch_add(&not_initial, 1);
	*counter = (int)(long)arg;
	strcpy(buf, "used");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tls_dlmopen MODULE [rounds] [width]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 200, width = argc > 3 ? atoi(argv[3]) : 8;
	void *h = dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW);
	if (!h || !(counter_addr = (int *(*)(void))dlsym(h, "tlsmod_counter_addr")) ||
	    !(buf_addr = (char *(*)(void))dlsym(h, "tlsmod_buf_addr"))) {
		printf("FAIL dlmopen: %s\n", dlerror());
		return 1;
	}
	pthread_t t[width];
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < width; i++)
			pthread_create(&t[i], NULL, worker, (void *)(long)(r * width + i + 1));
		for (int i = 0; i < width; i++)
			pthread_join(t[i], NULL);
	}
	int bad = atomic_load(&not_initial);
	if (bad)
		printf("FAIL %d threads did not see the initial values\n", bad);
	printf("TLSDLM=%s\n", bad ? "FAIL" : "ok");
	printf("threads=%d\n", rounds * width);
	return bad != 0;
}
