/* Per-P local run queues and the global run queue (Go: runqput, runqget, runqsteal,
 * globrunqput, globrunqget). */
#ifndef GR_RUNQ_H
#define GR_RUNQ_H

#include "runtime.h"

/* Puts gp on pp's local queue.  With next, gp goes into runnext and the G it displaces
 * goes to the tail.  A full queue moves half of it to the global queue.  Only the M
 * holding pp may call this. */
void gr_runq_put(struct gr_p *pp, struct gr_g *gp, bool next);

/* Takes a G from pp's local queue (runnext first).  *inherit is set when the G came from
 * runnext: it inherits the current time slice.  Only the M holding pp may call this. */
struct gr_g *gr_runq_get(struct gr_p *pp, bool *inherit);

/* Takes pp's runnext alone, or returns NULL.  Only the M holding pp may call this. */
struct gr_g *gr_runq_take_runnext(struct gr_p *pp);

/* Steals about half of victim's queue into pp's (which must be empty) and returns one G
 * to run, or NULL.  steal_next allows taking victim's runnext.  Any M holding pp. */
struct gr_g *gr_runq_steal(struct gr_p *pp, struct gr_p *victim, bool steal_next);

/* Starts loading the G at the head of pp's local queue (its first two lines: what
 * scheduling it reads), the one the M will most likely run next.  A hint only: the G is
 * not dereferenced (a stealer may take it meanwhile).  Only the M holding pp. */
static inline void gr_runq_prefetch_head(const struct gr_p *pp)
{
	uint32_t head = atomic_load_explicit(&pp->xrunqhead, memory_order_relaxed);

	if (head == atomic_load_explicit(&pp->xrunqtail, memory_order_relaxed))
		return;
	const char *gp = (const char *)atomic_load_explicit(&pp->xrunq[head % GR_RUNQ_SIZE],
							    memory_order_relaxed);
	__builtin_prefetch(gp);
	__builtin_prefetch(gp + 64);
}

bool gr_runq_empty(struct gr_p *pp);
uint32_t gr_runq_len(struct gr_p *pp);

/* Global run queue.  The _locked variants require gr_sched.lock. */
void gr_globrunq_put_locked(struct gr_g *gp);
void gr_globrunq_put(struct gr_g *gp);
/* Moves up to a fair share of the global queue to pp's local queue; returns one G. */
struct gr_g *gr_globrunq_get_locked(struct gr_p *pp, int max);

#endif
