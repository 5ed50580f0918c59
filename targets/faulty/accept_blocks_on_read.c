/* FAULTY: poll() echo server that, right after accept(), waits for the new
 * client's first bytes before it goes back to its poll() loop.
 * Bug: "accept, then read the request": the server blocks on the one
 * connection it just accepted (as a blocking recv() would) until that
 * client sends something.  Meanwhile nothing else is served: no other
 * connection is read or written, no other client is accepted.
 * Why it is wrong: an event loop may only sleep in poll() (or select(),
 * epoll_wait()), on every descriptor at once.  A client that connects and
 * says nothing, whether slow, idle or malicious, stalls everyone for as
 * long as it likes; the fix is to put the new descriptor into the poll set
 * and read it when poll() says it is readable.
 * Exposed by: tcp.concurrency.idle-peer (a connected client that sends
 * nothing: the second client's echo never comes).  Clients that send as
 * soon as they connect are served one after another, which is why the
 * other concurrency checks pass.
 * Everything else is correct: non-blocking sockets, one pending chunk per
 * connection (see chunk_echo.h), half-close, SIGTERM -> exit 0. */
#define _GNU_SOURCE
#include "chunk_echo.h"
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    /* a deep backlog: clients wait in it while the server is stuck */
    int lfd = tcp_server_start(argc, argv, 4096);
    struct chunk_pollset ps;

    if (chunk_pollset_init(&ps) < 0)
        return 1;
    ps.pfds[0].fd = lfd;

    while (!stop_requested) {
        if (chunk_pollset_wait(&ps) < 0)
            continue;
        for (nfds_t i = ps.n - 1; i >= 1; i--) { /* backwards: remove swaps */
            if (ps.pfds[i].revents && chunk_echo(ps.pfds[i].fd, ps.conns[i]) != 0) {
                close(ps.pfds[i].fd);
                chunk_pollset_remove(&ps, i);
            }
        }
        if (!(ps.pfds[0].revents & POLLIN))
            continue;
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* EAGAIN, ECONNABORTED: back to poll() */
        struct chunk_conn *c = ps.n < ps.cap ? calloc(1, sizeof(*c)) : NULL;
        /* BUG: sleeps until this one client sends (or a stop is requested),
         * exactly like a blocking recv(); every other client waits too */
        if (c == NULL || wait_fd(fd, POLLIN) < 0 || chunk_echo(fd, c) != 0) {
            free(c);
            close(fd);
            continue;
        }
        ps.pfds[ps.n] = (struct pollfd){.fd = fd};
        ps.conns[ps.n++] = c;
    }
    chunk_pollset_close_all(&ps);
    close(lfd);
    return 0;
}
