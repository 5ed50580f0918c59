/* Connection bookkeeping shared by the epoll servers; see epoll_conns.h. */
#define _GNU_SOURCE
#include "epoll_conns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static struct conn *all_conns;

struct conn *conn_add(int epfd, int fd, uint32_t events)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->next = all_conns;
    if (all_conns)
        all_conns->prev = c;
    all_conns = c;
    c->events = events;
    struct epoll_event e = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        log_msg("epoll_ctl(ADD): %s", strerror(errno));
        conn_close(c);
        return NULL;
    }
    return c;
}

void conn_close(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    outbuf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        all_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

void conn_close_all(void)
{
    while (all_conns)
        conn_close(all_conns);
}
