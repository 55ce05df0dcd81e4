/* The runtime's own descriptors, kept out of the program's way (fd.c). */
#ifndef GR_FD_H
#define GR_FD_H

#include <stdbool.h>

/* Called when the program claims a runtime descriptor's number (dup2/dup3 onto it): the
 * owner moves it elsewhere (gr_fd_own on a copy) or stops using it.  The number is no
 * longer the runtime's when this is called; the program's dup2 replaces it next. */
typedef void gr_fd_claimed_fn(int fd);

/* Takes fd, a descriptor the runtime itself opened, into the runtime's keeping: moves it
 * close-on-exec to a high number (closing fd) and records it, with claimed to call should
 * the program dup2 onto it.  Returns its number now (fd itself when no high number is
 * free or the table of runtime descriptors is full: it then stays where it was). */
int gr_fd_own(int fd, gr_fd_claimed_fn *claimed);

/* Grows the kernel's descriptor table to the numbers gr_fd_own uses.  Call while the
 * process has a single thread (see fd.c). */
void gr_fd_reserve(void);

/* Forgets fd: the runtime is about to close it itself. */
void gr_fd_disown(int fd);

/* True if fd is a runtime descriptor: the program's close, close_range and closefrom
 * leave it alone.  Lock-free; cheap when there are none. */
bool gr_fd_is_runtime(int fd);

/* The runtime descriptors, ascending, into fds (at most max): returns how many. */
int gr_fd_runtime_list(int *fds, int max);

/* The program is about to dup2/dup3 onto fd, a runtime descriptor: forget it and tell its
 * owner. */
void gr_fd_claim(int fd);

/* Between begin and end, the pipes that the calling thread creates through the program's
 * own entry points (pipe, pipe2) belong to the runtime: a library the runtime calls makes
 * them (libunwind's memory-validation pipe).  gr_fd_capturing tells the pipe2 interposer,
 * which gives each new descriptor to gr_fd_own with the claimed given to begin. */
void gr_fd_capture_begin(gr_fd_claimed_fn *claimed);
void gr_fd_capture_end(void);
gr_fd_claimed_fn *gr_fd_capturing(void);

/* In a fork child: the table's lock may have been held by a thread the child does not
 * have; the descriptors themselves are the child's copies and stay. */
void gr_fd_fork_child(void);

#endif
