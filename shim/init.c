/*
 * Start-up.  green starts lazily from whichever interposer runs first (a program's own
 * library constructors can call pthread_create before green's constructor), and from
 * interpose/init.c's constructor otherwise.  Until it is ready every interposer passes
 * straight through to glibc, which is also what happens for good if this glibc is not
 * the one green knows.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/x86_64/syscall.h"
#include "env.h"
#include "glibc.h"
#include "proc.h"
#include "real.h"
#include "shim.h"
#include "thread.h"

#include <sys/auxv.h>

enum { INIT_NONE, INIT_RUNNING, INIT_READY_, INIT_FAILED };
_Static_assert(INIT_READY_ == GR_INIT_READY, "init states");

_Atomic int gr_init_state;
bool gr_arch_fsgsbase;
struct gr_config gr_config;

static int start(void)
{
	int r;

	if ((r = gr_real_init()) != 0 || (r = gr_glibc_init()) != 0)
		return r;
	if ((pid_t)gr_syscall(SYS_gettid, 0, 0, 0) != getpid()) {
		gr_real_msg("green: first entered from a thread other than main; ",
			    "running on native threads", "\n");
		return -EINVAL;
	}
	gr_arch_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
	gr_cputicks_init();
	gr_env_read(&gr_config);
	gr_preempt_configure();
	if (gr_config.stacksize)
		gr_thread_set_default_stack(gr_config.stacksize);
	gr_foreign_init();
	if ((r = gr_proc_init(gr_config.maxprocs, gr_config.maxthreads)) != 0)
		return r;
	return gr_signal_init();
}

bool gr_init(void)
{
	int st = INIT_NONE;

	if (atomic_compare_exchange_strong_explicit(&gr_init_state, &st, INIT_RUNNING,
						    memory_order_acq_rel, memory_order_acquire)) {
		st = start() == 0 ? GR_INIT_READY : INIT_FAILED;
		atomic_store_explicit(&gr_init_state, st, memory_order_release);
	}
	return st == GR_INIT_READY;
}
