/* Connection bookkeeping shared by the epoll servers: each connection's
 * state is a heap-allocated struct conn reached through epoll_event.data.ptr
 * (NULL marks the listener, see epoll_with_listener()), and all of them are
 * on one list so that they can be freed at exit. */
#ifndef SOCKCHECK_EPOLL_CONNS_H
#define SOCKCHECK_EPOLL_CONNS_H

#include <stdint.h>

#include "net.h"

struct conn {
    int fd;
    int eof;         /* the client has shut down its sending side */
    uint32_t events; /* current epoll interest */
    struct outbuf out;
    struct conn *prev, *next; /* all connections, to free them at exit */
};

/* Allocates the state of fd, puts it on the list and registers it with
 * epfd for events (also stored in ->events).  On failure fd is closed and
 * NULL returned. */
struct conn *conn_add(int epfd, int fd, uint32_t events);

/* Closes the fd (which also removes it from the epoll set) and frees the
 * state. */
void conn_close(struct conn *c);

/* conn_close() on every connection. */
void conn_close_all(void);

#endif
