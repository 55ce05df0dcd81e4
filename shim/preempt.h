/* Asynchronous preemption (preempt.c, arch/x86_64/preempt.S). */
#ifndef GR_PREEMPT_H
#define GR_PREEMPT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

struct gr_m;

/* Reads GREEN_PREEMPT and GREEN_PREEMPT_SIGNAL (at start-up, so that a bad value is
 * reported whether or not preemption ever starts). */
void gr_preempt_configure(void);

/* Measures the xsave area and installs the preemption signal handler (recording the
 * program's earlier handler, if any), unless gr_preempt_configure turned preemption off.
 * Call as sysmon starts (again in a fork child).  Returns 0 or -errno; preemption stays
 * off when it fails. */
int gr_preempt_init(void);

/* Initialises the unwinder that the handler uses (once; see preempt.c): call before the
 * program's second thread can run.  May park (libunwind takes a pthread mutex). */
void gr_preempt_prepare(void);

/* True when preemption is on (GREEN_PREEMPT is not 0 and the handler is installed). */
bool gr_preempt_enabled(void);

/* The signal green preempts with (SIGURG unless GREEN_PREEMPT_SIGNAL says otherwise), or 0
 * when preemption is off. */
int gr_preempt_signal(void);

/* Takes back the preemption requests made of mp that its handler has not consumed: true
 * when there was one, whose signal is then on its way or just taken by a wait that lets it
 * in itself (gr_sig_wait).  Only mp's own thread, inside a system call bracket. */
bool gr_preempt_absorb(struct gr_m *mp);

/* The preemption signal's bit (GR_SIGBIT) when the program has no handler of its own for
 * that signal, else 0.  A wait that any handler ends (sigsuspend) may block the signal
 * meanwhile: natively, with no handler, it would end nothing. */
uint64_t gr_preempt_blockable(void);

/* Asks mp to stop running the G of the time slice tick (its P's schedtick): records the
 * request and sends the signal to mp's kernel thread, unless an earlier request's signal
 * is still on its way (it then carries this one).  sysmon, and a G back from a system
 * call that found no P (gr_sysmon_sysret). */
void gr_preempt_request(struct gr_m *mp, uint32_t tick);

/* Asks mp, whose G runs without a P (proc.c's P-less runs), to stop it and wait for a P,
 * in the same way.  sysmon. */
void gr_preempt_request_pless(struct gr_m *mp);

/* Brings the table of code ranges that are never preempted (libc, ld.so, green itself,
 * the unwinder) up to date with the loaded objects.  sysmon only; cheap when nothing was
 * loaded or unloaded since the last call. */
void gr_preempt_refresh(void);

/* sigaction for the preemption signal on behalf of the program: records act as the
 * program's handler (to which green chains a signal it did not send) and reports the
 * program's previous one in *old; green's own handler stays installed.  Returns true when
 * sig is the preemption signal and the call was handled, false when the caller should
 * pass it on to glibc (the signals interposer calls this first). */
bool gr_preempt_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* A preemption refused where the G could not yield is taken at the next call of this,
 * made where the G holds nothing: the end of the interposed calls that a program may
 * loop on without ever blocking (syscall(SYS_futex, WAKE), pthread_mutex_trylock), so
 * that such a loop cannot keep a P from the Gs queued behind it for good. */
void gr_preempt_deferred(struct gr_g *gp);
static inline void gr_preempt_check(void)
{
	struct gr_g *gp = gr_getg();

	if (__builtin_expect(gp != NULL && gp->preempt_deferred, 0))
		gr_preempt_deferred(gp);
}

/* Called by the stub on the interrupted G's stack, with every register saved: yields
 * (gr_proc_preempt) and returns when the G runs again. */
void gr_preempt_yield(void);

/* Read by the stub: the size of the save area (bytes, a multiple of 64) and whether to use
 * xsave64 (else fxsave64). */
extern uint32_t gr_preempt_xsave_size;
extern bool gr_preempt_use_xsave;

/* The stub itself (never called directly). */
void gr_preempt_stub(void);

#endif
