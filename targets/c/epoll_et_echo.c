/* epoll_et_echo: the single-threaded EPOLL EDGE-TRIGGERED event loop (c10k).
 *
 * One thread, non-blocking sockets, each connection registered once for
 * EPOLLIN | EPOLLOUT | EPOLLET and never modified: an edge only says
 * "something changed", so every handler works until EAGAIN.
 *
 * What it gets right:
 *  - on every event it drains: reads until EAGAIN (or until the queue is
 *    full), sends until EAGAIN, and accept()s until EAGAIN.  Stopping early
 *    would strand data or connections, because no new edge comes for what is
 *    already there;
 *  - backpressure: above HIGH_WATER queued bytes it stops reading (the
 *    kernel then closes the TCP window on the client).  Edges for new input
 *    during that time are cheap no-ops, so there is no spinning; when an
 *    EPOLLOUT edge lets the queue drain, it resumes reading AT ONCE -- the
 *    unread input will never raise another edge by itself;
 *  - short sends never lose output: unsent bytes stay queued per connection;
 *  - half-close: after the client's EOF the queue is still flushed, and
 *    close() comes only when it is empty -> FIN, not RST;
 *  - EPOLLERR/EPOLLHUP close the connection; a reset ends only its own
 *    connection; each fd is closed exactly once;
 *  - EMFILE does not stall the edge-triggered accept loop
 *    (accept_client()'s spare descriptor drains the backlog);
 *  - SIGTERM is only unblocked inside epoll_pwait(): it cannot slip in
 *    between the stop_requested check and the sleep; exit status 0.
 */
#define _GNU_SOURCE
#include "epoll_conns.h"
#include "net.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024) /* stop reading above this much queued */
#define MAX_EVENTS 1024

static int epfd;
static char chunk[65536];

/* Flushes, then reads until EAGAIN, EOF or a full queue.  -1: close. */
static int conn_work(struct conn *c)
{
    if (outbuf_flush(c->fd, &c->out) < 0)
        return -1;
    while (!c->eof && c->out.len < HIGH_WATER) {
        ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
            if (outbuf_send(c->fd, &c->out, chunk, (size_t)n) < 0)
                return -1;
        } else if (n == 0) {
            c->eof = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break; /* drained: the next edge will tell */
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return (c->eof && c->out.len == 0) ? -1 : 0; /* all echoed: FIN */
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* drained */
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            /* ENOBUFS/ENOMEM: with no further edge the backlog would
             * wait for the next connection; log and retry it then. */
            log_msg("accept: %s", strerror(errno));
            return;
        }
        /* Registered once, never modified.  Input that arrived before the
         * ADD still raises an event: the ADD checks current readiness. */
        conn_add(epfd, fd, EPOLLIN | EPOLLOUT | EPOLLET);
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
    if (set_nonblocking(lfd) < 0 ||
        (epfd = epoll_with_listener(lfd, EPOLLIN | EPOLLET)) < 0) {
        log_msg("setup failed: %s", strerror(errno));
        return 1;
    }

    while (!stop_requested) {
        int n = wait_epoll(epfd, events, MAX_EVENTS); /* -1: a signal */
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL)
                accept_all(lfd);
            else if ((events[i].events & (EPOLLERR | EPOLLHUP)) ||
                     conn_work(c) < 0)
                conn_close(c);
        }
    }
    close(lfd);
    conn_close_all();
    close(epfd);
    return 0;
}
