/*
 * Threads green did not create (glibc's internal helper threads, threads that existed
 * before green started, another preload's threads) are adopted on first contact: they get
 * a G with their own TCB and real tid, marked foreign.  A foreign G has no P: when it must
 * wait it blocks its OS thread on a futex (park.c), and wakers wake it with a futex.
 * A glibc TSD destructor frees the G when the thread exits.
 *
 * The G is mmap'd, not malloc'd: a foreign thread can be an allocator's own helper
 * (jemalloc's background thread in Redis), and malloc could then take a mutex green
 * interposes, which would adopt the same thread again, recursively.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "glibc.h"
#include "runtime.h"

static pthread_key_t foreign_key;
static bool have_key;

static void foreign_exit(void *arg)
{
	struct gr_g *gp = arg;

	GR_PT(gp->tcb, GR_TCB_G, struct gr_g *) = NULL;
	gp->magic = 0;
	munmap(gp, sizeof(*gp));
}

void gr_foreign_init(void)
{
	have_key = pthread_key_create(&foreign_key, foreign_exit) == 0;
}

struct gr_g *gr_curg(void)
{
	struct gr_g *gp = gr_getg();

	if (__builtin_expect(gp != NULL, 1))
		return gp;
	void *tcb = gr_arch_tp();
	gp = mmap(NULL, sizeof(*gp), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gp == MAP_FAILED)
		gr_throw("out of memory adopting a thread");
	gp->magic = GR_G_MAGIC;
	gp->foreign = true;
	gp->tcb = tcb;
	gp->ctx.fs = tcb;
	gp->tid = GR_PT(tcb, GR_PT_TID, pid_t);
	atomic_store_explicit(&gp->xstatus, GR_G_RUNNING, memory_order_relaxed);
	GR_PT(tcb, GR_TCB_G, struct gr_g *) = gp;
	if (have_key)
		pthread_setspecific(foreign_key, gp);
	return gp;
}
