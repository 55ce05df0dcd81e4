/*
 * The signals some live G blocks (blocked_any): how many Gs block each signal, and the set
 * of those whose count is not zero.  An M off its G blocks at least that set (signal.c).
 * The set shrinks as soon as the last G blocking a signal unblocks it or ends, so a mask
 * blocked for a moment (libunwind's, a program's critical section) does not leave a
 * rt_sigprocmask on every later context switch.
 */
#ifndef GR_SIGBLOCKED_H
#define GR_SIGBLOCKED_H

#include <stdint.h>

/* Moves one G's share of the counts from mask from to mask to (0 for a G that starts or
 * ends).  Returns the signals that no G blocked before and one does now. */
uint64_t gr_sigblocked_move(uint64_t from, uint64_t to);

/* The signals some live G blocks (bit n-1 for signal n).  Lock-free; seq_cst. */
uint64_t gr_sigblocked_any(void);

/* Forgets every count (a fork child, whose only G is counted again afterwards). */
void gr_sigblocked_reset(void);

#endif
