/* FAULTY: edge-triggered epoll without draining the socket.
 *
 * Bug: each EPOLLIN event (registered with EPOLLET) is answered with ONE
 * read() of a single byte -- the loop of a byte-at-a-time parser that was
 * written for level-triggered epoll, where the next epoll_wait() reports the
 * socket again while bytes remain -- instead of reading until EAGAIN.
 * Why it is wrong: an edge-triggered event only says "something new
 * arrived", once; it does not repeat while data stays unread.  Whatever the
 * single read leaves in the kernel buffer is stranded until the peer happens
 * to send more, and a peer that waits for its echo never will.
 * Exposed by: every check whose segments carry more than one byte, from
 * tcp.echo.roundtrip and tcp.stream.coalesced on: one byte comes back per
 * arrival, and after the client's last write the rest stays stranded.
 * (With a bigger read the bug hides or shows depending on how the kernel
 * happened to coalesce writes; one byte makes every check deterministic.)
 *
 * Everything else is meant to be correct: per-connection output buffers,
 * backpressure (EPOLLOUT is asked for only while output is pending, so the
 * peer's ACKs of echoed bytes raise no edges: one edge per arrival, and what
 * the check sees does not depend on the peer's ACK timing), half-close (a
 * short read together with EPOLLRDHUP means the peer's FIN follows the data
 * just read), SIGTERM via epoll_pwait. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE 1
#define OUT_CAP (256 * 1024) /* stop reading while this much is unsent */
#define WATCH (EPOLLIN | EPOLLRDHUP | EPOLLET)

static int ep;

struct conn {
    int fd;
    int eof, want_read, watching_out;
    size_t len;
    char out[OUT_CAP];
};

static void drop(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

/* Returns -1 if the connection failed and was dropped. */
static int flush(struct conn *c)
{
    size_t off = 0;

    while (off < c->len) {
        ssize_t n = send(c->fd, c->out + off, c->len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; /* EPOLLOUT edge will call us again */
        else {
            drop(c);
            return -1;
        }
    }
    memmove(c->out, c->out + off, c->len - off);
    c->len -= off;
    if (c->watching_out != (c->len > 0)) { /* EPOLLOUT only while output waits */
        struct epoll_event cev = {.events = WATCH | (c->len > 0 ? EPOLLOUT : 0), .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev) < 0) {
            drop(c);
            return -1;
        }
        c->watching_out = c->len > 0;
    }
    return 0;
}

static void on_event(struct conn *c, unsigned ev)
{
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->want_read = 1;
    if (flush(c) < 0)
        return;
    if (c->want_read && !c->eof && OUT_CAP - c->len >= READ_SIZE) {
        /* BUG: a single read per edge; must loop until EAGAIN. */
        ssize_t n = read(c->fd, c->out + c->len, READ_SIZE);
        c->want_read = 0;
        if (n > 0) {
            c->len += (size_t)n;
            if (n < READ_SIZE && (ev & EPOLLRDHUP))
                c->eof = 1;
        } else if (n == 0) {
            c->eof = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            drop(c);
            return;
        }
        if (flush(c) < 0)
            return;
    }
    if (c->eof && c->len == 0)
        drop(c); /* everything echoed: close, which sends our FIN */
}

int main(int argc, char **argv)
{
    struct epoll_event evs[64];
    /* SIGTERM is delivered only inside epoll_pwait() */
    int lfd = tcp_server_start(argc, argv, 512);
    ep = epoll_with_listener(lfd, EPOLLIN); /* data.ptr NULL: lfd */
    if (ep < 0) {
        log_msg("epoll: %s", strerror(errno));
        return 1;
    }

    while (!stop_requested) {
        int n = wait_epoll(ep, evs, 64); /* -1: a signal */
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c != NULL) {
                on_event(c, evs[i].events);
                continue;
            }
            for (;;) { /* the accept side drains correctly */
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break;
                c = malloc(sizeof(*c));
                if (c == NULL) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                c->eof = c->want_read = c->watching_out = 0;
                c->len = 0;
                struct epoll_event cev = {.events = WATCH, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0)
                    drop(c);
            }
        }
    }
    return 0;
}
