/* FAULTY: epoll echo server whose error path closes the listening socket
 * instead of the client's.
 * Bug: when sending a client its echo fails (EPIPE or ECONNRESET: the
 * client has reset the connection), the server means to close that
 * client's socket but calls close(fd), and fd is the listening socket (the
 * line comes from a blocking version of the server, in which fd was the
 * client).  The listener is gone, and with it the server's only way to
 * take new clients: every later connect() is refused, the kernel answering
 * the SYN with RST since no socket listens on the port any more.  The
 * process keeps running and serving the clients it already has, so nothing
 * in its log or its exit status tells.
 * Why it is wrong: an error on one connection must end that connection
 * only; the listening socket lives as long as the server.
 * Exposed by: tcp.close.peer-reset (a client that sent 1 MiB without
 * reading resets while its echo is queued; the server's next send fails,
 * and the next client is refused although the server's process still
 * runs).
 * Everything else is correct: non-blocking sockets, echo queued per
 * connection and sent as the socket takes it (input watched only while
 * the queue is short), SIGPIPE ignored and sends with MSG_NOSIGNAL,
 * half-close (everything echoed, then close -> FIN; a read error ends the
 * input the same way), SIGTERM -> exit 0. */
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
#define MAX_EVENTS 256

struct client {
    int fd;
    int eof;         /* no more input: the client shut down its side, or reset */
    uint32_t events; /* current epoll interest */
    struct outbuf out;
};

/* Reads what has arrived and echoes it (queueing what the socket does not
 * take); EOF and read errors both end the input.  Returns -1 when sending
 * failed. */
static int take_input(struct client *c)
{
    char buf[65536];

    while (!c->eof && c->out.len < HIGH_WATER) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (outbuf_send(c->fd, &c->out, buf, (size_t)n) < 0)
                return -1;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            break;
        } else {
            c->eof = 1; /* 0: EOF; -1: ECONNRESET and the like */
        }
    }
    return 0;
}

static void drop(struct client *c)
{
    close(c->fd); /* also removes it from the epoll set */
    outbuf_free(&c->out);
    free(c);
}

static void accept_all(int epfd, int lfd)
{
    for (;;) {
        int cfd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            return; /* EAGAIN: backlog drained (or a resource error) */
        }
        struct client *c = calloc(1, sizeof(*c));
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (c == NULL || epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &e) < 0) {
            free(c);
            close(cfd);
            continue;
        }
        c->fd = cfd;
        c->events = EPOLLIN;
    }
}

int main(int argc, char **argv)
{
    struct epoll_event events[MAX_EVENTS];
    int fd = tcp_server_start(argc, argv, 4096); /* the listening socket */
    int epfd = epoll_with_listener(fd, EPOLLIN);

    if (epfd < 0) {
        log_msg("epoll: %s", strerror(errno));
        return 1;
    }
    while (!stop_requested) {
        int n = wait_epoll(epfd, events, MAX_EVENTS); /* -1: a signal */
        for (int i = 0; i < n; i++) {
            struct client *c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(epfd, fd);
                continue;
            }
            if (take_input(c) < 0 || outbuf_flush(c->fd, &c->out) < 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(fd); /* BUG: fd is the listening socket; c->fd was meant */
                outbuf_free(&c->out);
                free(c);
                continue;
            }
            if (c->eof && c->out.len == 0) {
                drop(c); /* everything echoed after EOF: FIN */
                continue;
            }
            uint32_t want = (!c->eof && c->out.len < HIGH_WATER ? EPOLLIN : 0) | (c->out.len ? EPOLLOUT : 0);
            if (want != c->events) {
                struct epoll_event e = {.events = want, .data.ptr = c};
                if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) {
                    drop(c);
                    continue;
                }
                c->events = want;
            }
        }
    }
    log_msg("stopping");
    close(fd);
    close(epfd);
    return 0;
}
