/* poll_urgent.c - a poll() echo server that also echoes TCP urgent data,
 * out of band.  Declared policy: oob = "urgent".
 *
 * What urgent data is
 * -------------------
 * TCP has one "urgent pointer" per direction.  A sender that calls
 *     send(fd, "!", 1, MSG_OOB);
 * puts the byte "!" into the ordinary byte stream and additionally sets the
 * URG flag and the urgent pointer on the segments that carry it.  The
 * pointer marks a position in the stream (Linux, like BSD, points one past
 * the last urgent byte), so the receiver learns "something urgent is
 * coming" even while its receive buffer is still full of older data.  The
 * sockets API calls the one byte in front of that position the
 * "out-of-band" (OOB) byte, and the place where it sits is the "mark".
 *
 * What Linux does on the receiving side
 * -------------------------------------
 * - Without SO_OOBINLINE (the default) the kernel takes the single urgent
 *   byte out of the stream: ordinary recv() never returns it and stops at
 *   the mark, so "abc" + urgent "!" + "def" reads as "abc" then "def".
 *   The byte can be fetched once with recv(fd, &b, 1, MSG_OOB).  If the
 *   program reads in-band past the mark first, the byte is gone for good
 *   (a later recv(MSG_OOB) fails with EINVAL).
 * - poll() reports POLLPRI (select(): the "exceptional" set) while an
 *   unread urgent byte is waiting; ioctl(SIOCATMARK) (sockatmark()) says
 *   whether the next in-band byte to read is the one right after the mark.
 * - Only one byte is urgent: a second MSG_OOB send moves the mark, and a
 *   previous urgent byte that was not yet passed becomes ordinary data.
 * - With SO_OOBINLINE the byte simply stays in the stream (see
 *   oobinline_echo.c).
 *
 * What this server does
 * ---------------------
 * Non-blocking sockets, one poll() loop, one output buffer per connection.
 * It always asks for POLLPRI.  When POLLPRI fires it reads the urgent byte
 * with recv(MSG_OOB) *before* reading any more in-band data (so in-band
 * reads cannot run past the mark and lose it), then keeps it "held" until
 * SIOCATMARK says all in-band bytes in front of the mark have been read.
 * At that point the byte is queued behind those bytes, and the writer sends
 * it with send(fd, &b, 1, MSG_OOB) once the in-band bytes in front of it
 * have gone out.  The client therefore gets the in-band echo "abcdef" and
 * its own recv(1, MSG_OOB) returns "!", and the echo segment carrying "!"
 * has the URG flag and an urgent pointer.
 * Everything else is an ordinary echo server: all bytes echoed whatever the
 * chunking, short writes buffered, half-close (after the client's EOF the
 * rest is sent, then close() sends FIN), resets survived, SIGTERM -> exit 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_CAP (256 * 1024) /* per-connection output buffer */
#define URG_MAX 8            /* urgent bytes queued but not yet sent */

struct urgent {
    unsigned long long pos; /* in-band bytes that must be sent before it */
    unsigned char byte;
};

struct conn {
    int fd;
    int eof;                        /* client sent FIN: read no more */
    char *buf;                      /* unsent in-band bytes: buf[head..tail) */
    size_t head, tail;
    unsigned long long queued;      /* in-band bytes ever put into buf */
    unsigned long long sent;        /* in-band bytes ever sent */
    int has_held;                   /* urgent byte read, mark not reached */
    unsigned char held;
    struct urgent urg[URG_MAX];     /* FIFO of urgent bytes to send */
    int urg_first, urg_count;
};

static struct conn **conns;
static size_t nconns, conns_cap;

static void drop_conn(size_t i)
{
    struct conn *c = conns[i];

    close(c->fd);
    free(c->buf);
    free(c);
    conns[i] = conns[--nconns];
}

static int add_conn(int fd)
{
    struct conn *c;

    if (nconns == conns_cap) {
        size_t cap = conns_cap ? conns_cap * 2 : 64;
        struct conn **p = realloc(conns, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        conns = p;
        conns_cap = cap;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->buf = malloc(OUT_CAP);
    if (c->buf == NULL) {
        free(c);
        return -1;
    }
    c->fd = fd;
    conns[nconns++] = c;
    return 0;
}

/* Queue the held urgent byte once the in-band stream has reached its mark
 * (or the client has finished sending, when no mark can come any more). */
static void place_held(struct conn *c, int force)
{
    int at_mark = 0;

    if (!c->has_held)
        return;
    if (!force && ioctl(c->fd, SIOCATMARK, &at_mark) < 0)
        return;
    if (force || at_mark) {
        /* Room is guaranteed: bytes are only taken while urg_count <
         * URG_MAX, and nothing else is queued while one is held. */
        struct urgent *u = &c->urg[(c->urg_first + c->urg_count) % URG_MAX];
        u->pos = c->queued;
        u->byte = c->held;
        c->urg_count++;
        c->has_held = 0;
    }
}

/* POLLPRI: fetch the urgent byte.  Returns -1 if the connection is dead. */
static int read_urgent(struct conn *c)
{
    unsigned char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_OOB);

    if (n == 1) {
        /* If a byte was still held, the peer moved the mark before we
         * reached it; the kernel now delivers that old byte in-band, so
         * forget our copy and hold the new one. */
        c->held = b;
        c->has_held = 1;
        place_held(c, 0);
        return 0;
    }
    /* EINVAL: no urgent byte pending (already read, or passed in-band);
     * EAGAIN: the pointer arrived but the byte itself has not yet. */
    if (n < 0 && (errno == EINVAL || errno == EAGAIN ||
                  errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return -1;
}

/* POLLIN: exactly one recv() per wakeup, so that an urgent byte that
 * arrives meanwhile is seen by poll (POLLPRI) before the next read could
 * step over its mark.  Returns -1 if the connection is dead. */
static int read_inband(struct conn *c)
{
    ssize_t n;

    if (c->tail == OUT_CAP && c->head > 0) {
        memmove(c->buf, c->buf + c->head, c->tail - c->head);
        c->tail -= c->head;
        c->head = 0;
    }
    if (c->tail == OUT_CAP)
        return 0;
    n = recv(c->fd, c->buf + c->tail, OUT_CAP - c->tail, 0);
    if (n > 0) {
        c->tail += (size_t)n;
        c->queued += (unsigned long long)n;
        place_held(c, 0);
        return 0;
    }
    if (n == 0) {
        c->eof = 1;
        place_held(c, 1);
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return -1; /* ECONNRESET and friends */
}

/* Sends as much as the socket takes, urgent bytes in their place.
 * Returns -1 if the connection is dead. */
static int flush(struct conn *c)
{
    for (;;) {
        size_t len = c->tail - c->head;
        ssize_t n;

        if (c->urg_count > 0) {
            struct urgent *u = &c->urg[c->urg_first];
            if (u->pos == c->sent) {
                /* MSG_OOB: this one byte goes out with the URG flag and
                 * the urgent pointer just past it. */
                if (send(c->fd, &u->byte, 1, MSG_OOB | MSG_NOSIGNAL) < 0)
                    break;
                c->urg_first = (c->urg_first + 1) % URG_MAX;
                c->urg_count--;
                continue;
            }
            if (len > u->pos - c->sent)
                len = (size_t)(u->pos - c->sent);
        }
        if (len == 0)
            return 0; /* all sent */
        n = send(c->fd, c->buf + c->head, len, MSG_NOSIGNAL);
        if (n < 0)
            break;
        c->head += (size_t)n;
        c->sent += (unsigned long long)n;
        if (c->head == c->tail)
            c->head = c->tail = 0;
    }
    /* A send failed: a full socket buffer just means "wait for POLLOUT";
     * EPIPE, ECONNRESET and the like mean the connection is gone. */
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0
                                                                      : -1;
}

static int pending_output(const struct conn *c)
{
    return c->tail > c->head || c->urg_count > 0;
}

/* Accepts every waiting connection.  Returns 1 if accept() ran out of file
 * descriptors (or memory), so the caller pauses the listener for a while
 * instead of spinning on a listener that stays readable. */
static int accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                log_msg("accept: %s (pausing)", strerror(errno));
                return 1;
            }
            return 0; /* EAGAIN, or a transient error on one connection */
        }
        if (add_conn(fd) < 0) {
            log_msg("out of memory, dropping a connection");
            close(fd);
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    int paused = 0;
    struct pollfd *pfds = NULL;
    size_t pfds_cap = 0;
    /* SIGTERM stays blocked except inside ppoll(), which unblocks it
     * atomically: no window where the signal comes just before we sleep. */
    int lfd = tcp_server_start(argc, argv, 512);

    while (!stop_requested) {
        size_t i, n = 0;
        struct timespec pause_ts = {0, 100 * 1000 * 1000};

        if (pollfds_reserve(&pfds, &pfds_cap, nconns + 1) < 0) {
            log_msg("out of memory");
            return 1;
        }
        pfds[n].fd = paused ? -1 : lfd;
        pfds[n].events = POLLIN;
        pfds[n++].revents = 0;
        for (i = 0; i < nconns; i++) {
            struct conn *c = conns[i];
            short ev = 0;
            /* Read (in-band and urgent) only while there is room for the
             * echo: otherwise TCP flow control holds the client back. */
            if (!c->eof && c->tail - c->head < OUT_CAP &&
                c->urg_count < URG_MAX)
                ev |= POLLIN | POLLPRI;
            if (pending_output(c))
                ev |= POLLOUT;
            pfds[n].fd = c->fd;
            pfds[n].events = ev;
            pfds[n++].revents = 0;
        }

        if (wait_pollfds(pfds, n, paused ? &pause_ts : NULL) < 0)
            continue; /* a signal: the loop condition looks at the flag */
        paused = 0;

        /* conns[] is compacted by drop_conn (last one moves into the hole),
         * so walk it backwards: pfds[i + 1] always belongs to conns[i]. */
        for (i = nconns; i-- > 0;) {
            struct conn *c = conns[i];
            short re = pfds[i + 1].revents;
            int dead = 0;

            if (re == 0)
                continue;
            if (re & POLLNVAL) {
                dead = 1;
            } else {
                /* The urgent byte first, before in-band reads pass it. */
                if (re & POLLPRI)
                    dead = read_urgent(c) < 0;
                if (!dead && (re & (POLLIN | POLLHUP | POLLERR)) && !c->eof)
                    dead = read_inband(c) < 0;
                if (!dead && pending_output(c))
                    dead = flush(c) < 0;
                if (!dead && (re & POLLERR) && !(re & (POLLIN | POLLPRI)))
                    dead = 1; /* reset with nothing left to read */
            }
            if (dead || (c->eof && !pending_output(c) && !c->has_held))
                drop_conn(i); /* after EOF + everything echoed: FIN */
        }
        if (pfds[0].revents & POLLIN)
            paused = accept_all(lfd);
    }

    while (nconns > 0)
        drop_conn(nconns - 1);
    free(conns);
    free(pfds);
    close(lfd);
    log_msg("stopping");
    return 0;
}
