/* Plumbing of the simplest non-blocking servers; see chunk_echo.h. */
#define _GNU_SOURCE
#include "chunk_echo.h"
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int chunk_echo(int fd, struct chunk_conn *c)
{
    if (c->len == 0) {
        ssize_t r = recv(fd, c->buf, sizeof(c->buf), 0);
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        c->off = 0;
        c->len = (size_t)r;
    }
    while (c->off < c->len) {
        ssize_t w = send(fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        c->off += (size_t)w;
    }
    c->len = 0;
    return 0;
}

int chunk_pollset_init(struct chunk_pollset *ps)
{
    struct rlimit rl;

    getrlimit(RLIMIT_NOFILE, &rl);
    ps->cap = rl.rlim_cur < 1048576 ? rl.rlim_cur : 1048576;
    ps->pfds = calloc(ps->cap, sizeof(*ps->pfds));
    ps->conns = calloc(ps->cap, sizeof(*ps->conns));
    ps->n = 1;
    return ps->pfds && ps->conns ? 0 : -1;
}

int chunk_pollset_wait(struct chunk_pollset *ps)
{
    ps->pfds[0].events = POLLIN;
    for (nfds_t i = 1; i < ps->n; i++)
        ps->pfds[i].events = ps->conns[i]->len ? POLLOUT : POLLIN;
    return ppoll(ps->pfds, ps->n, NULL, stop_wait_mask());
}

void chunk_pollset_accept(struct chunk_pollset *ps)
{
    while (ps->pfds[0].revents & POLLIN) {
        int fd = accept_client(ps->pfds[0].fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED)
                continue;
            break; /* EAGAIN: backlog drained */
        }
        struct chunk_conn *c = ps->n < ps->cap ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        ps->pfds[ps->n] = (struct pollfd){.fd = fd};
        ps->conns[ps->n++] = c;
    }
}

void chunk_pollset_remove(struct chunk_pollset *ps, nfds_t i)
{
    free(ps->conns[i]);
    ps->n--;
    ps->pfds[i] = ps->pfds[ps->n];
    ps->conns[i] = ps->conns[ps->n];
}

void chunk_pollset_close_all(struct chunk_pollset *ps)
{
    while (ps->n > 1) {
        close(ps->pfds[ps->n - 1].fd);
        chunk_pollset_remove(ps, ps->n - 1);
    }
}

void chunk_pollset_serve(struct chunk_pollset *ps)
{
    while (!stop_requested) {
        if (chunk_pollset_wait(ps) < 0)
            continue;
        for (nfds_t i = ps->n - 1; i >= 1; i--) { /* backwards: remove swaps */
            if (ps->pfds[i].revents &&
                chunk_echo(ps->pfds[i].fd, ps->conns[i]) != 0) {
                close(ps->pfds[i].fd);
                chunk_pollset_remove(ps, i);
            }
        }
        chunk_pollset_accept(ps);
    }
    chunk_pollset_close_all(ps);
}
