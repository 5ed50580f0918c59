/* poll_echo: the single-threaded POLL() event loop.
 *
 * One thread, non-blocking sockets, a per-connection output buffer, and a
 * growable pollfd array (no FD_SETSIZE limit; tens of thousands of
 * connections work, at O(n) cost per turn).
 *
 * What it gets right:
 *  - the pollfd array grows by doubling and shrinks by moving the last
 *    entry into a closed slot, scanning from the end so that no entry is
 *    skipped or handled twice;
 *  - short sends never lose output: unsent bytes stay queued per connection;
 *  - backpressure: while a connection's queue is above HIGH_WATER it waits
 *    for POLLOUT only, so a client that stops reading costs neither CPU nor
 *    unbounded memory; POLLIN comes back once the queue drains;
 *  - half-close: after the client's EOF the queue is still flushed, and
 *    close() comes only when it is empty -> FIN, not RST;
 *  - POLLERR/POLLHUP/POLLNVAL (always reported, even when not asked for)
 *    close the connection, so a dead peer cannot make poll() spin;
 *  - accepts in a loop until EAGAIN; a reset ends only its own connection;
 *    each fd is closed once;
 *  - SIGTERM is only unblocked inside ppoll(): it cannot slip in between the
 *    stop_requested check and the sleep; exit status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024) /* stop reading above this much queued */

struct conn {
    int eof; /* the client has shut down its sending side */
    struct outbuf out;
};

/* Entry 0 is the listening socket; pfds[i] and conns[i] go together. */
static struct pollfd *pfds;
static struct conn *conns;
static size_t nfds, cap;

static short wanted(const struct conn *c)
{
    short ev = 0;

    if (!c->eof && c->out.len < HIGH_WATER)
        ev |= POLLIN;
    if (c->out.len > 0)
        ev |= POLLOUT;
    return ev;
}

static void conn_close(size_t i)
{
    close(pfds[i].fd);
    outbuf_free(&conns[i].out);
    nfds--;
    pfds[i] = pfds[nfds];
    conns[i] = conns[nfds];
}

static int grow(void)
{
    size_t ncap = cap ? cap * 2 : 256;
    struct pollfd *p = realloc(pfds, ncap * sizeof(*p));
    if (p == NULL)
        return -1;
    pfds = p;
    struct conn *c = realloc(conns, ncap * sizeof(*c));
    if (c == NULL)
        return -1;
    conns = c;
    cap = ncap;
    return 0;
}

static void accept_all(int lfd)
{
    for (;;) {
        if (nfds == cap && grow() < 0) {
            log_msg("out of memory: not accepting for now");
            return;
        }
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            return; /* EAGAIN: backlog drained (or a resource error) */
        }
        pfds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
        memset(&conns[nfds], 0, sizeof(conns[nfds]));
        nfds++;
    }
}

int main(int argc, char **argv)
{
    int lfd = tcp_server_start(argc, argv, 4096);

    if (grow() < 0) {
        log_msg("setup failed: %s", strerror(errno));
        return 1;
    }
    pfds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    nfds = 1;

    while (!stop_requested) {
        if (wait_pollfds(pfds, nfds, NULL) < 0)
            continue; /* a signal: the loop condition looks at the flag */
        /* From the end, so that conn_close()'s move of the last entry into
         * slot i only moves an entry that has already been handled. */
        for (size_t i = nfds - 1; i >= 1; i--) {
            struct conn *c = &conns[i];
            int fd = pfds[i].fd;
            short re = pfds[i].revents;

            if (re == 0)
                continue;
            pfds[i].revents = 0;
            if ((re & (POLLERR | POLLHUP | POLLNVAL)) ||
                ((re & POLLOUT) && outbuf_flush(fd, &c->out) < 0) ||
                ((re & POLLIN) && echo_recv(fd, &c->out, &c->eof) < 0) ||
                (c->eof && c->out.len == 0)) {
                conn_close(i); /* error, reset, or everything echoed */
                continue;
            }
            pfds[i].events = wanted(c);
        }
        if (pfds[0].revents & POLLIN)
            accept_all(lfd);
    }

    close(lfd);
    while (nfds > 1)
        conn_close(nfds - 1);
    free(pfds);
    free(conns);
    return 0;
}
