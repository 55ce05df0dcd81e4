// proc_cancel_cxx - C++ destructors run when a thread is cancelled in a blocking call and
// when it calls pthread_exit (glibc's forced unwind), and catch (...) that rethrows keeps
// working.  Prints `name=value` lines; final line `END=ok`.
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <atomic>

static std::atomic<int> dtors{0}, ready{0};

struct Guard {
	~Guard() { dtors++; }
};

static void *sleeper(void *)
{
	Guard g;
	ready++;
	for (;;) {
		struct timespec ts = {100, 0};
		nanosleep(&ts, nullptr);
	}
	return nullptr;
}

static void *rethrower(void *)
{
	Guard g;
	try {
		Guard inner;
		ready++;
		for (;;) {
			struct timespec ts = {100, 0};
			nanosleep(&ts, nullptr);
		}
	} catch (...) {
		dtors += 10; // the forced unwind passes through catch (...)
		throw;
	}
	return nullptr;
}

static void *exiter(void *)
{
	Guard g;
	pthread_exit(reinterpret_cast<void *>(5));
	return nullptr;
}

int main()
{
	pthread_t a, b, c;
	pthread_create(&a, nullptr, sleeper, nullptr);
	pthread_create(&b, nullptr, rethrower, nullptr);
	while (ready < 2) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, nullptr);
	}
	pthread_cancel(a);
	pthread_cancel(b);
	void *ra, *rb, *rc;
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	pthread_create(&c, nullptr, exiter, nullptr);
	pthread_join(c, &rc);
	printf("sleeper=%s rethrower=%s exiter=%ld dtors=%d\n",
	       ra == PTHREAD_CANCELED ? "cancelled" : "other",
	       rb == PTHREAD_CANCELED ? "cancelled" : "other", (long)rc, dtors.load());
	printf("END=ok\n");
	return 0;
}
