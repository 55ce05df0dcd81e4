/*
 * sig_intr_race: signals racing ordinary wake-ups of condition waits.  PAIRS pairs of
 * threads ping-pong through a mutex and two condition variables (a hand-off each turn)
 * while a sender thread pthread_kill()s the players with SIGUSR1 as fast as it can, so
 * that signals land while a player parks, while it is being woken, and just after.  Under
 * green each interruptible wait is armed for signals as it parks and disarmed as it
 * wakes; a sender that touched a waiter already gone would corrupt a stack, and a
 * wake-up lost between the two would hang a pair.  Every turn must be taken exactly once
 * and handlers must have run (signals coalesce, so not one per send), with the same
 * output natively.
 * Usage: sig_intr_race [turns=20000]
 * Prints TURNS=ok and SIGNALS=ok.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIRS 4

struct pair {
	pthread_mutex_t mu;
	pthread_cond_t cv[2];
	int turn;
	long taken[2];
};

static struct pair pairs[PAIRS];
static pthread_t players[PAIRS * 2];
static long turns;
static atomic_long handled, sent;
static atomic_int finished; /* players done with their turns */

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
}

static void *player(void *arg)
{
	long id = (long)arg;
	struct pair *p = &pairs[id / 2];
	int me = (int)(id % 2);

	pthread_mutex_lock(&p->mu);
	for (long i = 0; i < turns; i++) {
		while (p->turn != me)
			pthread_cond_wait(&p->cv[me], &p->mu);
		p->taken[me]++;
		p->turn = 1 - me;
		pthread_cond_signal(&p->cv[1 - me]);
		if (i % 256 == 255) { /* let the sender run where the pairs share one CPU */
			pthread_mutex_unlock(&p->mu);
			sched_yield();
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	/* Until every player is done; none is joined before this thread is. */
	for (unsigned i = 0; atomic_load(&finished) < PAIRS * 2; i++) {
		/* A player that has returned takes (and drops) the signal: 0. */
		if (pthread_kill(players[i % (PAIRS * 2)], SIGUSR1) == 0)
			atomic_fetch_add_explicit(&sent, 1, memory_order_relaxed);
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	turns = argc > 1 ? atol(argv[1]) : 20000;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < PAIRS; i++) {
		pthread_mutex_init(&pairs[i].mu, NULL);
		pthread_cond_init(&pairs[i].cv[0], NULL);
		pthread_cond_init(&pairs[i].cv[1], NULL);
	}
	for (long i = 0; i < PAIRS * 2; i++)
		if (pthread_create(&players[i], NULL, player, (void *)i) != 0) {
			printf("ERROR: pthread_create\n");
			return 1;
		}
	pthread_t s;
	pthread_create(&s, NULL, sender, NULL);
	pthread_join(s, NULL);
	for (int i = 0; i < PAIRS * 2; i++)
		pthread_join(players[i], NULL);

	bool ok = true;
	for (int i = 0; i < PAIRS; i++)
		ok &= pairs[i].taken[0] == turns && pairs[i].taken[1] == turns;
	/* Signals sent to a player that had ended are dropped (glibc); the rest ran their
	 * handler before the player's join returned. */
	long h = atomic_load(&handled), n = atomic_load(&sent);
	printf("TURNS=%s\n", ok ? "ok" : "FAIL");
	printf("SIGNALS=%s\n", h > 0 && h <= n ? "ok" : "FAIL");
	fprintf(stderr, "sent=%ld handled=%ld\n", n, h);
	return ok ? 0 : 1;
}
