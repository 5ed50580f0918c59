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
#include "epoll_conns.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024) /* stop reading above this much queued */
#define MAX_EVENTS 1024

static int epfd;

static void handle(struct conn *c, uint32_t ev)
{
    if ((ev & (EPOLLERR | EPOLLHUP)) ||
        ((ev & EPOLLOUT) && outbuf_flush(c->fd, &c->out) < 0) ||
        ((ev & EPOLLIN) && echo_recv(c->fd, &c->out, &c->eof) < 0) ||
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
        conn_add(epfd, fd, EPOLLIN);
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
        (epfd = epoll_with_listener(lfd, EPOLLIN)) < 0) {
        log_msg("setup failed: %s", strerror(errno));
        return 1;
    }

    while (!stop_requested) {
        int n = wait_epoll(epfd, events, MAX_EVENTS); /* -1: a signal */
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                accept_all(lfd);
            else
                handle(events[i].data.ptr, events[i].events);
        }
    }
    close(lfd);
    conn_close_all();
    close(epfd);
    return 0;
}
