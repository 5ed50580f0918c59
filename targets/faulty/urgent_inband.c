/* urgent_inband.c - FAULTY: declares oob = "urgent" in the manifest, but
 * echoes TCP urgent data in-band, as an ordinary byte.
 *
 * The concept
 * -----------
 * send(fd, "!", 1, MSG_OOB) puts "!" into the TCP byte stream and marks it
 * with the URG flag and the urgent pointer (on Linux: one past the byte).
 * By default the receiving Linux kernel takes that single byte out of the
 * stream; it can only be read with recv(..., MSG_OOB), and poll() reports
 * POLLPRI (select(): the exceptional set) while it waits.  With the socket
 * option SO_OOBINLINE the byte instead stays in the stream where it was
 * sent, and recv(MSG_OOB) fails with EINVAL.
 *
 * A server with the "urgent" policy has to read the byte out of band and
 * send it back with send(..., MSG_OOB), so that the client's
 * recv(1, MSG_OOB) returns it and the echo segment carries URG.
 *
 * The mistake
 * -----------
 * The author read "SO_OOBINLINE: receive out-of-band data in the normal
 * data stream" and took it for the way to *handle* urgent data.  It only
 * turns urgent data into ordinary data.  So for "abc" + urgent "!" + "def"
 * this server echoes "abc!def" in-band, sends nothing urgent (the client's
 * recv(MSG_OOB) finds nothing) and no echo segment carries the URG flag.
 * That would be correct for oob = "inline" (see ../c/oobinline_echo.c),
 * but contradicts the declared "urgent" policy.  Otherwise it is a correct
 * echo server: a poll() loop on non-blocking sockets with per-connection
 * output buffers, half-close handled, resets survived, SIGTERM -> exit 0.
 *
 * Exposed by: tcp.urgent.stream-intact and tcp.urgent.wire-pointer (the
 * "!" comes back in-band, never as urgent data, and no echo segment
 * carries URG).
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_CAP (256 * 1024)

struct conn {
    int fd;
    int eof;
    char *buf; /* unsent echo: buf[head..tail) */
    size_t head, tail;
};

static struct conn *conns;
static size_t nconns, conns_cap;

static void drop_conn(size_t i)
{
    close(conns[i].fd);
    free(conns[i].buf);
    conns[i] = conns[--nconns];
}

static void accept_all(int lfd, int *paused)
{
    int one = 1;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        char *buf;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                *paused = 1;
            return;
        }
        /* THE BUG: urgent bytes become ordinary bytes. */
        if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0) {
            close(fd);
            continue;
        }
        if (nconns == conns_cap) {
            size_t cap = conns_cap ? conns_cap * 2 : 64;
            struct conn *p = realloc(conns, cap * sizeof(*p));
            if (p == NULL) {
                close(fd);
                *paused = 1;
                return;
            }
            conns = p;
            conns_cap = cap;
        }
        buf = malloc(OUT_CAP);
        if (buf == NULL) {
            close(fd);
            *paused = 1;
            return;
        }
        conns[nconns++] = (struct conn){.fd = fd, .buf = buf};
    }
}

/* Returns -1 when the connection is dead. */
static int service(struct conn *c, short re)
{
    if ((re & (POLLIN | POLLHUP | POLLERR)) && !c->eof &&
        c->tail < OUT_CAP) {
        ssize_t n = recv(c->fd, c->buf + c->tail, OUT_CAP - c->tail, 0);
        if (n > 0)
            c->tail += (size_t)n;
        else if (n == 0)
            c->eof = 1;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
    }
    while (c->head < c->tail) {
        ssize_t n = send(c->fd, c->buf + c->head, c->tail - c->head,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            return -1;
        }
        c->head += (size_t)n;
    }
    if (c->head == c->tail)
        c->head = c->tail = 0;
    else if (c->tail == OUT_CAP && c->head > 0) {
        memmove(c->buf, c->buf + c->head, c->tail - c->head);
        c->tail -= c->head;
        c->head = 0;
    }
    if ((re & POLLERR) && !(re & POLLIN))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    int paused = 0;
    struct pollfd *pfds = NULL;
    size_t pfds_cap = 0;
    int lfd = tcp_server_start(argc, argv, 512); /* SIGTERM only in ppoll() */

    while (!stop_requested) {
        size_t i;
        struct timespec pause_ts = {0, 100 * 1000 * 1000};

        if (pollfds_reserve(&pfds, &pfds_cap, nconns + 1) < 0) {
            log_msg("out of memory");
            return 1;
        }
        pfds[0] = (struct pollfd){.fd = paused ? -1 : lfd, .events = POLLIN};
        for (i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            short ev = 0;
            if (!c->eof && c->tail < OUT_CAP)
                ev |= POLLIN;
            if (c->tail > c->head)
                ev |= POLLOUT;
            pfds[i + 1] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        if (wait_pollfds(pfds, nconns + 1, paused ? &pause_ts : NULL) < 0)
            continue;
        paused = 0;
        for (i = nconns; i-- > 0;) {
            short re = pfds[i + 1].revents;
            if (re == 0)
                continue;
            if ((re & POLLNVAL) || service(&conns[i], re) < 0 ||
                (conns[i].eof && conns[i].head == conns[i].tail))
                drop_conn(i);
        }
        if (pfds[0].revents & POLLIN)
            accept_all(lfd, &paused);
    }
    while (nconns > 0)
        drop_conn(nconns - 1);
    free(conns);
    free(pfds);
    close(lfd);
    log_msg("stopping");
    return 0;
}
