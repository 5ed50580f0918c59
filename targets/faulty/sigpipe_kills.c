/* FAULTY: poll() echo server that never ignores SIGPIPE and writes with
 * plain write() (no MSG_NOSIGNAL).
 * Bug: SIGPIPE keeps its default action, which is to kill the process.
 * Why it is wrong: a write() on a connection the peer has reset fails with
 * EPIPE, and the kernel also sends the writer SIGPIPE.  Unless the server
 * ignores SIGPIPE (signal(SIGPIPE, SIG_IGN)) or writes with
 * send(..., MSG_NOSIGNAL), that signal kills the whole server, every
 * client with it, because one client went away.  Any client can do it on
 * purpose: connect, send more than it reads, reset.
 * The rest of the error handling is correct, and it is why the signal
 * comes: a reset reported by read() means "no more input", like EOF, so
 * the server then sends the echo it still owes before closing (which is
 * right after a half-close), and that write hits the dead connection.  With
 * SIGPIPE ignored the write would just fail with EPIPE and close the
 * connection.
 * Exposed by: tcp.close.peer-reset (a client that sent 1 MiB without
 * reading resets while the server's echo to it is blocked: the server dies
 * of signal 13 and the next client is refused).
 * Everything else is correct: non-blocking sockets, input read whenever it
 * arrives, unsent echo queued per connection and sent as the socket takes
 * it (POLLOUT asked for only while some waits), half-close (everything
 * echoed, then close -> FIN), SIGTERM -> exit 0. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int eof; /* no more input: the client shut down its side, or reset */
    char *out;
    size_t off, len, cap; /* unsent echo is out[off .. off+len) */
};

/* Entry 0 is the listening socket; pfds[i] and conns[i] go together. */
static struct pollfd *pfds;
static struct conn *conns;
static size_t nfds, cap;

static void on_stop(int signo)
{
    (void)signo;
    stop_requested = 1;
}

static int queue(struct conn *c, const char *p, size_t n)
{
    if (c->off + c->len + n > c->cap) {
        memmove(c->out, c->out + c->off, c->len);
        c->off = 0;
        if (c->len + n > c->cap) {
            size_t ncap = c->cap ? c->cap : 65536;
            while (ncap < c->len + n)
                ncap *= 2;
            char *o = realloc(c->out, ncap);
            if (o == NULL)
                return -1;
            c->out = o;
            c->cap = ncap;
        }
    }
    memcpy(c->out + c->off + c->len, p, n);
    c->len += n;
    return 0;
}

/* Reads until the socket is empty; EOF and errors both end the input. */
static int take_input(int fd, struct conn *c)
{
    char buf[65536];

    while (!c->eof) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            if (queue(c, buf, (size_t)n) < 0)
                return -1;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            break;
        } else {
            c->eof = 1; /* 0: EOF; -1: ECONNRESET and the like */
        }
    }
    return 0;
}

/* Sends queued echo until the socket is full. */
static int flush(int fd, struct conn *c)
{
    while (c->len > 0) {
        ssize_t w = write(fd, c->out + c->off, c->len); /* BUG: SIGPIPE not ignored: EPIPE kills the server */
        if (w > 0) {
            c->off += (size_t)w;
            c->len -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        } else {
            return -1;
        }
    }
    c->off = 0;
    return 0;
}

static void conn_close(size_t i)
{
    close(pfds[i].fd);
    free(conns[i].out);
    nfds--;
    pfds[i] = pfds[nfds];
    conns[i] = conns[nfds];
}

static void accept_all(int lfd)
{
    for (;;) {
        if (nfds == cap) {
            size_t ncap = cap * 2;
            struct pollfd *p = realloc(pfds, ncap * sizeof(*p));
            struct conn *c = p ? realloc(conns, ncap * sizeof(*c)) : NULL;
            if (p)
                pfds = p;
            if (c == NULL)
                return;
            conns = c;
            cap = ncap;
        }
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return; /* EAGAIN: backlog drained */
        }
        pfds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
        memset(&conns[nfds], 0, sizeof(conns[nfds]));
        nfds++;
    }
}

int main(int argc, char **argv)
{
    const char *host;
    int port;
    struct sigaction sa;

    parse_args(argc, argv, &host, &port);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    block_stop_signals(); /* SIGTERM arrives only inside ppoll() */
    int lfd = tcp_listen(host, port, 1, 512);
    if (set_nonblocking(lfd) < 0)
        return 1;

    cap = 256;
    pfds = malloc(cap * sizeof(*pfds));
    conns = malloc(cap * sizeof(*conns));
    if (pfds == NULL || conns == NULL)
        return 1;
    pfds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    nfds = 1;

    while (!stop_requested) {
        if (wait_pollfds(pfds, nfds, NULL) < 0)
            continue;
        for (size_t i = nfds - 1; i >= 1; i--) { /* backwards: close moves the last */
            struct conn *c = &conns[i];
            short re = pfds[i].revents;

            if (re == 0)
                continue;
            /* POLLHUP and POLLERR too: read() says what happened. */
            if ((re & (POLLIN | POLLHUP | POLLERR)) && take_input(pfds[i].fd, c) < 0) {
                conn_close(i);
                continue;
            }
            if (flush(pfds[i].fd, c) < 0 || (c->eof && c->len == 0)) {
                conn_close(i); /* write error, or everything echoed after EOF */
                continue;
            }
            pfds[i].events = (c->eof ? 0 : POLLIN) | (c->len ? POLLOUT : 0);
        }
        if (pfds[0].revents & POLLIN)
            accept_all(lfd);
    }
    while (nfds > 1)
        conn_close(nfds - 1);
    close(lfd);
    return 0;
}
