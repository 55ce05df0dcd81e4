/*
 * sig_altstack - the alternate signal stack is per thread (sigaltstack(2)).
 *
 * Mode "roundtrip" (the default): threads that set a stack (with the libc function or with
 * syscall(SYS_sigaltstack)) and threads that set none meet at a barrier for many rounds
 * (under green they park and resume on other Ms) and each checks after every round that
 * it still sees exactly its own setting; a thread created by one that has a stack starts
 * with none; an SA_ONSTACK handler runs off the thread's normal stack, sees SS_ONSTACK and
 * gets EPERM when it tries to change the stack; a handler of a thread with no stack sees
 * SS_DISABLE and may set one; bad arguments get EINVAL, ENOMEM and EFAULT.
 *
 * Mode "overflow": a thread with a stack of its own overflows its normal stack and its
 * SIGSEGV handler (SA_ONSTACK, as Rust's std installs it) reports from the alternate stack
 * and _exit()s, as Rust's "has overflowed its stack" message does.
 *
 * Mode "park": a thread's SA_ONSTACK handler blocks, in sem_wait and then in sched_yield
 * (as green's preemption handler blocks on libunwind's contended mutex), while other
 * threads run SA_ONSTACK handlers that fill 64 KiB of their stack.  When it resumes, the
 * handler checks the canary it left in its own frame and that it is still on the same
 * kernel thread (natively nothing else can touch a blocked thread's stack).  Under green
 * every M has one alternate stack; a handler that parked and resumed on another M had
 * its frames overwritten by the next handler on the first M (syscall_fsync_mix crashed
 * in 10 runs of 55).  Last line: `park=ok` or what went wrong.
 *
 * Prints one `name=value` line per check (no addresses), so the preload test compares the
 * whole stdout natively and under green.  Final line (default mode): `END=ok`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 6
#define ROUNDS 300
#define ALT_SIZE (64 * 1024)

static pthread_barrier_t barrier;

/* Set by a thread before it raises SIGUSR1 or overflows; read by its handler. */
static __thread uintptr_t stack_lo, stack_hi;
static __thread int handler_flags, handler_set_errno;
static __thread int handler_off_stack;

static void record_stack(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;

	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &lo, &size);
	pthread_attr_destroy(&a);
	stack_lo = (uintptr_t)lo;
	stack_hi = stack_lo + size;
}

static bool off_normal_stack(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	return sp < stack_lo || sp >= stack_hi;
}

static int set_altstack(bool raw, void *sp, size_t size, int flags)
{
	stack_t ss = {.ss_sp = sp, .ss_size = size, .ss_flags = flags};
	if (raw)
		return (int)syscall(SYS_sigaltstack, &ss, NULL);
	return sigaltstack(&ss, NULL);
}

static void on_usr1(int sig)
{
	stack_t cur, other;
	static char spare[ALT_SIZE];

	(void)sig;
	sigaltstack(NULL, &cur);
	handler_flags = cur.ss_flags;
	handler_off_stack = off_normal_stack();
	other = (stack_t){.ss_sp = spare, .ss_size = sizeof(spare)};
	handler_set_errno = sigaltstack(&other, NULL) == 0 ? 0 : errno;
	if (handler_set_errno == 0) {
		other.ss_flags = SS_DISABLE;
		sigaltstack(&other, NULL);
	}
}

static const char *flags_name(int f)
{
	return f == SS_DISABLE ? "disabled" : f == SS_ONSTACK ? "onstack" : f == 0 ? "set" : "?";
}

static void *child_main(void *arg)
{
	stack_t cur;
	sigaltstack(NULL, &cur);
	*(int *)arg = cur.ss_flags;
	return NULL;
}

struct result {
	int mismatches;
	int child_flags;
	int handler_flags, handler_set_errno, handler_off_stack;
	int final_flags;
	bool final_cleared;
};
static struct result results[NTHREADS];

/* Thread i: even ones set a stack (thread 2 with the raw system call), odd ones none. */
static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct result *r = &results[i];
	bool has = i % 2 == 0;
	size_t size = ALT_SIZE + (size_t)i * 4096;
	char *mem = malloc(size);
	stack_t cur;

	record_stack();
	if (has && set_altstack(i == 2, mem, size, 0) != 0)
		r->mismatches++;
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&barrier);
		if (round % 3 == i % 3)
			sched_yield();
		if (sigaltstack(NULL, &cur) != 0)
			r->mismatches++;
		else if (has ? cur.ss_sp != mem || cur.ss_size != size || cur.ss_flags != 0 :
			       cur.ss_flags != SS_DISABLE)
			r->mismatches++;
	}
	pthread_t child;
	pthread_create(&child, NULL, child_main, &r->child_flags);
	pthread_join(child, NULL);
	raise(SIGUSR1);
	r->handler_flags = handler_flags;
	r->handler_set_errno = handler_set_errno;
	r->handler_off_stack = handler_off_stack;
	if (has && set_altstack(false, NULL, 0, SS_DISABLE) != 0)
		r->mismatches++;
	sigaltstack(NULL, &cur);
	r->final_flags = cur.ss_flags;
	r->final_cleared = cur.ss_sp == NULL && cur.ss_size == 0;
	free(mem);
	return NULL;
}

static void check_errors(void)
{
	static char mem[ALT_SIZE];
	stack_t ss = {.ss_sp = mem, .ss_size = sizeof(mem), .ss_flags = 0x1234};
	int r;

	r = sigaltstack(&ss, NULL);
	printf("bad_flags=%s\n", r == -1 && errno == EINVAL ? "EINVAL" : "wrong");
	ss = (stack_t){.ss_sp = mem, .ss_size = 1024};
	r = sigaltstack(&ss, NULL);
	printf("too_small=%s\n", r == -1 && errno == ENOMEM ? "ENOMEM" : "wrong");
	r = sigaltstack((const stack_t *)16, NULL);
	printf("bad_ss=%s\n", r == -1 && errno == EFAULT ? "EFAULT" : "wrong");
	r = sigaltstack(NULL, (stack_t *)16);
	printf("bad_old=%s\n", r == -1 && errno == EFAULT ? "EFAULT" : "wrong");
	r = (int)syscall(SYS_sigaltstack, (const stack_t *)16, NULL);
	printf("raw_bad_ss=%s\n", r == -1 && errno == EFAULT ? "EFAULT" : "wrong");
}

static int roundtrip(void)
{
	pthread_t t[NTHREADS];
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
	stack_t cur;

	sigaltstack(NULL, &cur);
	printf("main_initial=%s\n", flags_name(cur.ss_flags));
	check_errors();
	sigaction(SIGUSR1, &sa, NULL);
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		struct result *r = &results[i];
		printf("thread%d: mismatches=%d child=%s handler=%s handler_set=%s", i,
		       r->mismatches, flags_name(r->child_flags), flags_name(r->handler_flags),
		       r->handler_set_errno == EPERM ? "EPERM" : r->handler_set_errno ? "?" : "ok");
		if (i % 2 == 0) /* the handler of a thread without a stack may run anywhere */
			printf(" handler_off_stack=%d", r->handler_off_stack);
		printf(" final=%s cleared=%d\n", flags_name(r->final_flags), r->final_cleared);
	}
	sigaltstack(NULL, &cur);
	printf("main_final=%s\nEND=ok\n", flags_name(cur.ss_flags));
	return 0;
}

/* ---- overflow ------------------------------------------------------------------------ */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	static const char on[] = "overflow=altstack\n";
	static const char off[] = "overflow=normal_stack\n";

	(void)sig, (void)si, (void)uc;
	if (off_normal_stack())
		write(1, on, sizeof(on) - 1);
	else
		write(1, off, sizeof(off) - 1);
	_exit(0);
}

/* Far deeper than any stack: the bound only keeps the compiler from calling it endless. */
static volatile int depth_limit = 1 << 30;

static int recurse(int depth)
{
	volatile char frame[512];

	if (depth == depth_limit)
		return 0;
	frame[0] = (char)depth;
	return recurse(depth + 1) + frame[0];
}

static void *overflow_main(void *arg)
{
	char *mem = malloc(ALT_SIZE);

	(void)arg;
	record_stack();
	set_altstack(false, mem, ALT_SIZE, 0);
	recurse(0);
	return NULL;
}

static int overflow(void)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	pthread_attr_t a;
	pthread_t t;

	sigaction(SIGSEGV, &sa, NULL);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1 << 20);
	pthread_create(&t, &a, overflow_main, NULL);
	pthread_join(t, NULL);
	printf("overflow=not_caught\n");
	return 1;
}

/* ---- park ---------------------------------------------------------------------------- */

#define CANARY_SIZE 2048
#define SCRIBBLERS 4
#define SCRIBBLE_SIZE (64 * 1024)

static sem_t go;
/* The parking handler's progress: 1 waiting in sem_wait, 2 yielding, 3 asked to stop. */
static atomic_int park_phase;
static int park_canary_bad, park_moved;

/* The kernel's id of the calling thread (syscall(SYS_gettid) is the thread's under green,
 * the M's is what counts here): from /proc/thread-self, which names it. */
static long kernel_tid(void)
{
	char buf[64];
	ssize_t n = readlink("/proc/thread-self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	return slash ? atol(slash + 1) : -1;
}

static void check_canary(volatile unsigned char *c)
{
	for (int i = 0; i < CANARY_SIZE; i++)
		if (c[i] != (unsigned char)(i * 7 + 1))
			park_canary_bad++;
}

static void on_usr1_park(int sig)
{
	volatile unsigned char canary[CANARY_SIZE];
	long tid = kernel_tid();

	(void)sig;
	for (int i = 0; i < CANARY_SIZE; i++)
		canary[i] = (unsigned char)(i * 7 + 1);
	atomic_store(&park_phase, 1);
	while (sem_wait(&go) != 0)
		;
	check_canary(canary);
	atomic_store(&park_phase, 2);
	while (atomic_load(&park_phase) != 3)
		sched_yield();
	check_canary(canary);
	park_moved = kernel_tid() != tid;
}

static void on_usr2_scribble(int sig)
{
	unsigned char junk[SCRIBBLE_SIZE];

	(void)sig;
	memset(junk, 0xa5, sizeof(junk));
	__asm__ volatile("" : : "r"(junk) : "memory"); /* the stores must happen */
}

static void *parker_main(void *arg)
{
	(void)arg;
	pthread_kill(pthread_self(), SIGUSR1);
	return NULL;
}

static void *scribbler_main(void *arg)
{
	(void)arg;
	pthread_kill(pthread_self(), SIGUSR2);
	return NULL;
}

/* Starts the scribblers while the parking handler waits, and waits for them. */
static void scribble(void)
{
	pthread_t t[SCRIBBLERS];

	for (int i = 0; i < SCRIBBLERS; i++)
		pthread_create(&t[i], NULL, scribbler_main, NULL);
	for (int i = 0; i < SCRIBBLERS; i++)
		pthread_join(t[i], NULL);
}

static int park(void)
{
	struct sigaction sa = {.sa_handler = on_usr1_park, .sa_flags = SA_ONSTACK};
	pthread_t t;

	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2_scribble;
	sigaction(SIGUSR2, &sa, NULL);
	sem_init(&go, 0, 0);
	pthread_create(&t, NULL, parker_main, NULL);
	while (atomic_load(&park_phase) != 1)
		sched_yield();
	scribble();
	sem_post(&go);
	while (atomic_load(&park_phase) != 2)
		sched_yield();
	scribble();
	atomic_store(&park_phase, 3);
	pthread_join(t, NULL);
	printf("park=%s\n", park_canary_bad ? "canary_overwritten" : park_moved ? "moved" : "ok");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "overflow") == 0)
		return overflow();
	if (argc > 1 && strcmp(argv[1], "park") == 0)
		return park();
	return roundtrip();
}
