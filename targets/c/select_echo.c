/* select_echo: the single-threaded SELECT() event loop.
 *
 * One thread, non-blocking sockets, a per-connection output buffer, and
 * pselect() over read and write sets rebuilt on every turn.
 *
 * What it gets right:
 *  - FD_SETSIZE guard: an fd_set holds only fds below FD_SETSIZE (1024);
 *    FD_SET() on a larger fd writes past the set (undefined behaviour, in
 *    practice stack corruption).  An accepted fd >= FD_SETSIZE is closed at
 *    once and never touches an fd_set;
 *  - short sends never lose output: unsent bytes stay queued per connection;
 *  - backpressure: while a connection's queue is above HIGH_WATER its fd
 *    leaves the read set and only waits for writability, so a client that
 *    stops reading costs neither CPU nor unbounded memory; reading resumes
 *    once the queue drains;
 *  - half-close: after the client's EOF the queue is still flushed, and
 *    close() comes only when it is empty -> FIN, not RST;
 *  - accepts in a loop until EAGAIN (a burst of clients is not left in the
 *    backlog); a reset ends only its own connection; each fd is closed once;
 *  - SIGTERM is only unblocked inside pselect(): it cannot slip in between
 *    the stop_requested check and the sleep; exit status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024) /* stop reading above this much queued */

struct conn {
    int open;
    int eof; /* the client has shut down its sending side */
    struct outbuf out;
};

static struct conn conns[FD_SETSIZE];
static int maxfd = -1; /* highest open connection fd */

static void conn_close(int fd)
{
    close(fd);
    outbuf_free(&conns[fd].out);
    conns[fd].open = 0;
    while (maxfd >= 0 && !conns[maxfd].open)
        maxfd--;
}

static void accept_all(int lfd)
{
    static int warned = 0;

    for (;;) {
        int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            return; /* EAGAIN: backlog drained (or a resource error) */
        }
        if (fd >= FD_SETSIZE) {
            if (!warned) {
                log_msg("fd %d >= FD_SETSIZE (%d): closing such connections",
                        fd, FD_SETSIZE);
                warned = 1;
            }
            close(fd);
            continue;
        }
        conns[fd].open = 1;
        conns[fd].eof = 0;
        if (fd > maxfd)
            maxfd = fd;
    }
}

int main(int argc, char **argv)
{
    fd_set rset, wset;
    int lfd = tcp_server_start(argc, argv, 512);

    if (lfd >= FD_SETSIZE) {
        log_msg("unusable listening socket");
        return 1;
    }

    while (!stop_requested) {
        int top = lfd;

        FD_ZERO(&rset);
        FD_ZERO(&wset);
        FD_SET(lfd, &rset);
        for (int fd = 0; fd <= maxfd; fd++) {
            struct conn *c = &conns[fd];
            if (!c->open)
                continue;
            if (!c->eof && c->out.len < HIGH_WATER)
                FD_SET(fd, &rset);
            if (c->out.len > 0)
                FD_SET(fd, &wset);
            if (fd > top)
                top = fd;
        }
        if (pselect(top + 1, &rset, &wset, NULL, NULL, stop_wait_mask()) < 0) {
            if (errno == EINTR)
                continue;
            log_msg("pselect: %s", strerror(errno));
            return 1;
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            struct conn *c = &conns[fd];
            if (!c->open || fd == lfd)
                continue;
            if (FD_ISSET(fd, &wset) && outbuf_flush(fd, &c->out) < 0) {
                conn_close(fd);
                continue;
            }
            if (FD_ISSET(fd, &rset) && echo_recv(fd, &c->out, &c->eof) < 0) {
                conn_close(fd);
                continue;
            }
            if (c->eof && c->out.len == 0)
                conn_close(fd); /* everything echoed: FIN */
        }
        if (FD_ISSET(lfd, &rset))
            accept_all(lfd);
    }

    close(lfd);
    for (int fd = maxfd; fd >= 0; fd--)
        if (conns[fd].open)
            conn_close(fd);
    return 0;
}
