/* BUG: poll() echo server that, when recv()/send() fails with ECONNRESET or
 * EPIPE, removes the fd from its poll set but never close()s it.
 * Why it is wrong: a reset ends the TCP connection, but not our file
 * descriptor: it (and its kernel socket) stays allocated until close().
 * Every client that resets instead of closing cleanly leaks one fd, and a
 * long-running server eventually fails accept() with EMFILE.  Graceful
 * EOF is handled correctly, which is why casual testing misses it.
 * Exposed by: tcp.process.fd-leak (its reset cycles, SO_LINGER {1,0}). */
#define _GNU_SOURCE
#include "chunk_echo.h"
#include "net.h"

#include <errno.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct chunk_pollset ps; /* ps.pfds[0] is the listener */
    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512);

    if (chunk_pollset_init(&ps) < 0)
        return 1;
    ps.pfds[0].fd = lfd;

    while (!stop_requested) {
        if (chunk_pollset_wait(&ps) < 0)
            continue;
        for (nfds_t i = ps.n - 1; i >= 1; i--) { /* backwards: remove swaps */
            int fd = ps.pfds[i].fd;
            /* 0: keep, 1: EOF (all echoed), -errno: error */
            int r = ps.pfds[i].revents ? chunk_echo(fd, ps.conns[i]) : 0;
            if (r == -ECONNRESET || r == -EPIPE) {
                /* the bug: "peer is gone" -- but our fd is not */
                chunk_pollset_remove(&ps, i);
            } else if (r != 0) {
                close(fd);
                chunk_pollset_remove(&ps, i);
            }
        }
        chunk_pollset_accept(&ps);
    }
    chunk_pollset_close_all(&ps);
    return 0;
}
