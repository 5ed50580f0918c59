/* Plumbing of the simplest non-blocking servers (used by faulty ones): a
 * connection holds at most one chunk of input not yet echoed and is only
 * read again once that chunk is out; and a poll() set of such connections
 * with the listener in entry 0. */
#ifndef SOCKCHECK_CHUNK_ECHO_H
#define SOCKCHECK_CHUNK_ECHO_H

#include <poll.h>
#include <stddef.h>

struct chunk_conn {
    size_t off, len; /* unsent echo bytes are buf[off..len) */
    char buf[4096];
};

/* Reads (when nothing is pending) and echoes; returns 0 to keep the
 * connection, 1 on EOF (all echoed: close sends FIN), -errno on error. */
int chunk_echo(int fd, struct chunk_conn *c);

/* pfds[0] is the listener; pfds[i] and conns[i] (1 <= i < n) go together. */
struct chunk_pollset {
    struct pollfd *pfds;
    struct chunk_conn **conns;
    nfds_t n, cap;
};

/* Room for as many entries as RLIMIT_NOFILE allows (at most 1 Mi), n = 1;
 * the caller then puts the listening socket into pfds[0].fd.  Returns 0,
 * or -1 when out of memory. */
int chunk_pollset_init(struct chunk_pollset *ps);

/* One ppoll() with the stop signals unblocked: the listener for POLLIN, a
 * connection for POLLOUT while it has unsent bytes, else for POLLIN.
 * Returns ppoll()'s result. */
int chunk_pollset_wait(struct chunk_pollset *ps);

/* If the listener reported POLLIN: accepts until the backlog is drained,
 * each connection a new entry (closed at once when the set is full). */
void chunk_pollset_accept(struct chunk_pollset *ps);

/* Forgets entry i (i >= 1): frees its state and moves the last entry into
 * its slot, so walk the set backwards.  It does NOT close the fd. */
void chunk_pollset_remove(struct chunk_pollset *ps, nfds_t i);

/* Closes and forgets every connection. */
void chunk_pollset_close_all(struct chunk_pollset *ps);

/* The plain echo loop until a stop request: echoes on every ready
 * connection, closes and forgets each at EOF or error, accepts new ones;
 * then closes every connection. */
void chunk_pollset_serve(struct chunk_pollset *ps);

#endif
