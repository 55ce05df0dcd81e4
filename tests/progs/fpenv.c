/* The floating-point control words (MXCSR rounding, x87 control word) are per thread:
 * threads that set their own rounding modes keep them across blocking calls and yields,
 * and never see another thread's.  Prints FPENV=ok. */
#include <fenv.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 2000

static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
static int bad[8];

static void *worker(void *arg)
{
	long id = (long)arg;
	int mode = modes[id % 4];
	fesetround(mode);
	for (int i = 0; i < ROUNDS; i++) {
		if (i % 100 == 0) {
			struct timespec ts = {0, 10000};
			nanosleep(&ts, NULL);
		} else {
			sched_yield();
		}
		volatile double x = 1.0, y = 3.0;
		volatile double q = x / y; /* rounding mode in use: SSE */
		(void)q;
		if (fegetround() != mode)
			bad[id]++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	int total = 0;
	for (int i = 0; i < 8; i++)
		total += bad[i];
	printf("main_mode_default=%s\n", fegetround() == FE_TONEAREST ? "yes" : "no");
	printf("wrong_modes=%d\n", total);
	printf("FPENV=%s\n", total == 0 && fegetround() == FE_TONEAREST ? "ok" : "FAIL");
	return total != 0;
}
