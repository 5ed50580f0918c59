/* FAULTY: ignores short writes on non-blocking sockets.
 *
 * Bug: each chunk read is passed to send() once; if send() accepts only part
 * of it (short write) or fails with EAGAIN, the rest is silently dropped.
 * Why it is wrong: on a non-blocking socket send() copies only what fits in
 * the kernel send buffer right now and returns that count.  The caller must
 * keep the remainder and send it when poll() reports POLLOUT; the return
 * value is not a formality.
 * Exposed by: tcp.echo.large, tcp.half-close.large and
 * tcp.backpressure.slow-reader (a large stream while the client reads more
 * slowly than it writes: the send buffer fills, and the echo comes back
 * with bytes missing).  Small echoes always fit, so they work.  The modest
 * fixed send buffer (a legitimate choice) makes the short write happen on
 * every run rather than only when the client happens to read slowly.
 *
 * Everything else is meant to be correct: poll() loop (no busy waiting),
 * half-close, resets, SIGTERM via ppoll. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFDS 4096

static char buf[256 * 1024];

int main(int argc, char **argv)
{
    int nfds = 1;
    int sndbuf = 128 * 1024; /* fixed kernel send buffer (Linux doubles it) */
    struct pollfd pfds[MAXFDS];

    /* SIGTERM is delivered only inside ppoll() */
    pfds[0].fd = tcp_server_start(argc, argv, 512);
    pfds[0].events = POLLIN;

    while (!stop_requested) {
        pfds[0].events = nfds < MAXFDS ? POLLIN : 0; /* full: stop accepting */
        if (wait_pollfds(pfds, (nfds_t)nfds, NULL) < 0)
            continue;
        for (int i = nfds - 1; i >= 1; i--) {
            if (pfds[i].revents == 0)
                continue;
            ssize_t n = recv(pfds[i].fd, buf, sizeof(buf), 0);
            if (n > 0) {
                /* BUG: a short count or EAGAIN means the rest is lost; it
                 * should be buffered and sent on POLLOUT. */
                if (send(pfds[i].fd, buf, (size_t)n, MSG_NOSIGNAL) >= 0 ||
                    errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            /* EOF (all echoes already handed over) or error: close. */
            close(pfds[i].fd);
            pfds[i] = pfds[--nfds];
        }
        if (pfds[0].revents & POLLIN) {
            while (nfds < MAXFDS) {
                int fd = accept4(pfds[0].fd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    break;
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
                pfds[nfds].fd = fd;
                pfds[nfds].events = POLLIN;
                pfds[nfds].revents = 0;
                nfds++;
            }
        }
    }
    return 0;
}
