/* BUG: poll() echo server whose listening socket does not set SO_REUSEADDR.
 * Why it is wrong: the side that closes a TCP connection first keeps it in
 * TIME_WAIT for 2*MSL (60 s on Linux).  When the server is stopped while
 * clients are connected it is that side, and without SO_REUSEADDR the kernel
 * refuses to bind the port again while any TIME_WAIT connection on it
 * exists: a restart fails with "Address already in use" for a minute.
 * Exposed by: tcp.time-wait.rebind (stop with a client connected, restart on
 * the same port at once).  Apart from that a correct non-blocking server. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    size_t off, len; /* unsent echo bytes are buf[off..len) */
    char buf[4096];
};

static struct pollfd *pfds; /* pfds[0] is the listener */
static struct conn **conns;
static nfds_t n = 1;

/* Reads (when nothing is pending) and echoes; returns 0 to keep the
 * connection, 1 on EOF (all echoed: close sends FIN), -1 on error. */
static int service(int fd, struct conn *c)
{
    if (c->len == 0) {
        ssize_t r = recv(fd, c->buf, sizeof(c->buf), 0);
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->off = 0;
        c->len = (size_t)r;
    }
    while (c->off < c->len) {
        ssize_t w = send(fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->off += (size_t)w;
    }
    c->len = 0;
    return 0;
}

static void drop(nfds_t i)
{
    close(pfds[i].fd);
    free(conns[i]);
    n--;
    pfds[i] = pfds[n];
    conns[i] = conns[n];
}

int main(int argc, char **argv)
{
    const char *host;
    int port;
    struct rlimit rl;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* SIGTERM is delivered only inside ppoll() */
    getrlimit(RLIMIT_NOFILE, &rl);
    nfds_t cap = rl.rlim_cur < 1048576 ? rl.rlim_cur : 1048576;
    pfds = calloc(cap, sizeof(*pfds));
    conns = calloc(cap, sizeof(*conns));
    if (!pfds || !conns)
        return 1;
    pfds[0].fd = tcp_listen(host, port, 0, 512); /* the bug: reuseaddr 0 */
    set_nonblocking(pfds[0].fd);

    while (!stop_requested) {
        pfds[0].events = POLLIN;
        for (nfds_t i = 1; i < n; i++)
            pfds[i].events = conns[i]->len ? POLLOUT : POLLIN;
        if (ppoll(pfds, n, NULL, stop_wait_mask()) < 0)
            continue;
        for (nfds_t i = n - 1; i >= 1; i--) /* backwards: drop() swaps */
            if (pfds[i].revents && service(pfds[i].fd, conns[i]) != 0)
                drop(i);
        while (pfds[0].revents & POLLIN) {
            int fd = accept_client(pfds[0].fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == ECONNABORTED)
                    continue;
                break; /* EAGAIN: backlog drained */
            }
            struct conn *c = n < cap ? calloc(1, sizeof(*c)) : NULL;
            if (!c) {
                close(fd);
                continue;
            }
            pfds[n] = (struct pollfd){.fd = fd};
            conns[n++] = c;
        }
    }
    while (n > 1)
        drop(n - 1);
    return 0;
}
