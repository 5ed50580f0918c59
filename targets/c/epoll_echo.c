/* epoll_echo: the single-threaded EPOLL LEVEL-TRIGGERED event loop (c10k).
 *
 * One thread, non-blocking sockets, a heap-allocated state per connection
 * reached through epoll_event.data.ptr, and O(ready) work per turn, so
 * 10,000+ concurrent connections are routine (given RLIMIT_NOFILE).
 *
 * What it gets right:
 *  - level-triggered interest always matches what the connection can use:
 *    EPOLLIN while its queue is below HIGH_WATER and it has not seen EOF,
 *    EPOLLOUT while anything is queued; epoll_ctl(MOD) only when that set
 *    changes.  So a client that stops reading neither spins the loop (the
 *    fd is not watched for input it will not read) nor grows memory without
 *    bound; input is watched again as soon as the queue drains;
 *  - short sends never lose output: unsent bytes stay queued per connection;
 *  - half-close: after the client's EOF the queue is still flushed, and
 *    close() comes only when it is empty -> FIN, not RST;
 *  - EPOLLERR/EPOLLHUP close the connection (they are reported whatever the
 *    interest set, so ignoring them would spin);
 *  - accepts in a loop until EAGAIN, and survives EMFILE (accept_client()'s
 *    spare descriptor) instead of spinning on a readable listening socket;
 *  - a reset ends only its own connection; each fd is closed exactly once
 *    (close() also drops it from the epoll set);
 *  - SIGTERM is only unblocked inside epoll_pwait(): it cannot slip in
 *    between the stop_requested check and the sleep; exit status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024) /* stop reading above this much queued */
#define MAX_EVENTS 1024

struct conn {
    int fd;
    int eof;         /* the client has shut down its sending side */
    uint32_t events; /* current epoll interest */
    struct outbuf out;
    struct conn *prev, *next; /* all connections, to free them at exit */
};

static int epfd;
static struct conn *all_conns;
static char chunk[65536];

static void conn_close(struct conn *c)
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

/* One recv(); everything read is echoed or queued.  -1: connection over. */
static int conn_read(struct conn *c)
{
    ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

    if (n > 0)
        return outbuf_send(c->fd, &c->out, chunk, (size_t)n);
    if (n == 0) {
        c->eof = 1;
        return 0;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0
                                                                       : -1;
}

static void handle(struct conn *c, uint32_t ev)
{
    if ((ev & (EPOLLERR | EPOLLHUP)) ||
        ((ev & EPOLLOUT) && outbuf_flush(c->fd, &c->out) < 0) ||
        ((ev & EPOLLIN) && conn_read(c) < 0) ||
        (c->eof && c->out.len == 0)) {
        conn_close(c); /* error, reset, or everything echoed */
        return;
    }
    uint32_t want = 0;
    if (!c->eof && c->out.len < HIGH_WATER)
        want |= EPOLLIN;
    if (c->out.len > 0)
        want |= EPOLLOUT;
    if (want != c->events) {
        struct epoll_event e = {.events = want, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) {
            conn_close(c);
            return;
        }
        c->events = want;
    }
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            return; /* EAGAIN: backlog drained (or a resource error) */
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->next = all_conns;
        if (all_conns)
            all_conns->prev = c;
        all_conns = c;
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            log_msg("epoll_ctl(ADD): %s", strerror(errno));
            conn_close(c);
        }
    }
}

int main(int argc, char **argv)
{
    const char *host;
    int port;
    struct epoll_event events[MAX_EVENTS];

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals();
    int lfd = tcp_listen(host, port, 1, 4096);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    if (set_nonblocking(lfd) < 0 || epfd < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) < 0) {
        log_msg("setup failed: %s", strerror(errno));
        return 1;
    }

    while (!stop_requested) {
        int n = epoll_pwait(epfd, events, MAX_EVENTS, -1, stop_wait_mask());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_msg("epoll_pwait: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                accept_all(lfd);
            else
                handle(events[i].data.ptr, events[i].events);
        }
    }
    close(lfd);
    while (all_conns)
        conn_close(all_conns);
    close(epfd);
    return 0;
}
