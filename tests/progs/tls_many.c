/* tls_many: the TLS of many modules loaded with dlopen (copies of one file, each a module
 * id of its own), in threads alive across the loads and in threads created after them,
 * many reusing the memory of exited ones; then half the modules are closed and loaded
 * again, which reuses their ids.  Every thread must see each module's initial value, its
 * own copy, and keep it across a yield.  With hundreds of modules, threads outgrow the
 * space their TLS bookkeeping (the dtv) started with.
 * Usage: tls_many MODULE [modules=40] [rounds=10] [width=8].
 * Output: TLSMANY=ok (or FAIL lines), then the counts. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nmods;
static char dir[] = "/tmp/tls_many.XXXXXX";
static void **handles;
static int *(**addr)(void);
static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t loaded;

static void fail(const char *what, long id, int mod)
{
	pthread_mutex_lock(&mu);
	if (failures++ < 10)
		printf("FAIL %s (thread %ld, module %d)\n", what, id, mod);
	pthread_mutex_unlock(&mu);
}

/* Each module's variable: initial, then this thread's own across a yield. */
static void check_all(long id)
{
	for (int m = 0; m < nmods; m++) {
		int *v = addr[m]();
		if (*v != 42)
			fail("value not initial", id, m);
		*v = (int)id * 1000 + m;
	}
	sched_yield();
	for (int m = 0; m < nmods; m++)
		if (*addr[m]() != (int)id * 1000 + m)
			fail("value not kept", id, m);
}

static void *early(void *arg)
{
	pthread_barrier_wait(&loaded);
	check_all((long)arg);
	return NULL;
}

static void *late(void *arg)
{
	check_all((long)arg);
	return NULL;
}

static char *path_of(int m)
{
	static char path[64];
	snprintf(path, sizeof(path), "%s/m%d.so", dir, m);
	return path;
}

static void load(int m)
{
	handles[m] = dlopen(path_of(m), RTLD_NOW | RTLD_LOCAL);
	if (!handles[m] || !(addr[m] = (int *(*)(void))dlsym(handles[m], "tlsmany_addr"))) {
		printf("FAIL load %d: %s\n", m, dlerror());
		exit(1);
	}
}

/* Copies of the module, one file per module id (a hard link would be the same object). */
static void copy_module(const char *module)
{
	int in = open(module, O_RDONLY);
	struct stat st;
	if (in < 0 || fstat(in, &st) != 0 || !mkdtemp(dir)) {
		perror("tls_many: module");
		exit(1);
	}
	char *image = malloc(st.st_size);
	if (!image || read(in, image, st.st_size) != st.st_size) {
		perror("tls_many: read");
		exit(1);
	}
	close(in);
	for (int m = 0; m < nmods; m++) {
		int out = open(path_of(m), O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (out < 0 || write(out, image, st.st_size) != st.st_size || close(out) != 0) {
			perror("tls_many: copy");
			exit(1);
		}
	}
	free(image);
}

static void run_rounds(int rounds, int width, long base)
{
	pthread_t t[width];
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < width; i++)
			pthread_create(&t[i], NULL, late, (void *)(base + r * width + i));
		for (int i = 0; i < width; i++)
			pthread_join(t[i], NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tls_many MODULE [modules] [rounds] [width]\n");
		return 2;
	}
	nmods = argc > 2 ? atoi(argv[2]) : 40;
	int rounds = argc > 3 ? atoi(argv[3]) : 10, width = argc > 4 ? atoi(argv[4]) : 8;
	handles = calloc(nmods, sizeof(*handles));
	addr = calloc(nmods, sizeof(*addr));
	copy_module(argv[1]);

	pthread_t e[width];
	pthread_barrier_init(&loaded, NULL, width + 1);
	for (int i = 0; i < width; i++)
		pthread_create(&e[i], NULL, early, (void *)(long)(i + 1));
	for (int m = 0; m < nmods; m++)
		load(m);
	pthread_barrier_wait(&loaded);
	for (int i = 0; i < width; i++)
		pthread_join(e[i], NULL);
	run_rounds(rounds, width, 100);

	for (int m = 0; m < nmods; m += 2)
		dlclose(handles[m]);
	for (int m = 0; m < nmods; m += 2)
		load(m);
	run_rounds(rounds, width, 100 + rounds * width);

	for (int m = 0; m < nmods; m++)
		unlink(path_of(m));
	rmdir(dir);
	printf("TLSMANY=%s\n", failures ? "FAIL" : "ok");
	printf("modules=%d threads=%d\n", nmods, width + 2 * rounds * width);
	return failures != 0;
}
