/* BUG: select() echo server that FD_SETs every accepted fd without checking
 * fd < FD_SETSIZE (1024).
 * Why it is wrong: an fd_set is a fixed 1024-bit array, but accept() hands
 * out any fd below RLIMIT_NOFILE.  FD_SET(1024, &set) writes past the end
 * of the set.  With -D_FORTIFY_SOURCE=2 (as built here) glibc catches it
 * and aborts the whole server: "*** bit out of range 0 - FD_SETSIZE on
 * fd_set ***".  Without FORTIFY it silently flips bits in whatever lies
 * next to the set (other fd_sets, locals, saved registers) and select()
 * reads/writes beyond it too: corrupted state, lost or phantom events,
 * crashes.  The fix: close (or refuse) fds >= FD_SETSIZE, or use poll().
 * Exposed by: tcp.limits.select-fd (RLIMIT_NOFILE 4096, 1100 connections:
 * the server dies as soon as accept() returns fd 1024, ~1020 clients in). */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    size_t off, len; /* unsent echo bytes are buf[off..len) */
    char buf[4096];
};

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

int main(int argc, char **argv)
{
    const char *host;
    int port, lfd, maxfd;
    struct rlimit rl;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* SIGTERM is delivered only inside pselect() */
    getrlimit(RLIMIT_NOFILE, &rl); /* conns[] is indexed by fd */
    int cap = rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 1048576;
    struct conn **conns = calloc((size_t)cap, sizeof(*conns));
    if (!conns)
        return 1;
    lfd = maxfd = tcp_listen(host, port, 1, 512);
    set_nonblocking(lfd);

    while (!stop_requested) {
        fd_set rset, wset;
        int top = lfd;
        FD_ZERO(&rset);
        FD_ZERO(&wset);
        FD_SET(lfd, &rset);
        for (int fd = 0; fd <= maxfd; fd++)
            if (conns[fd]) {
                FD_SET(fd, conns[fd]->len ? &wset : &rset); /* fd >= 1024? */
                top = fd;
            }
        maxfd = top;
        if (pselect(maxfd + 1, &rset, &wset, NULL, NULL, stop_wait_mask()) < 0)
            continue;
        for (int fd = 0; fd <= maxfd; fd++)
            if (conns[fd] && (FD_ISSET(fd, &rset) || FD_ISSET(fd, &wset)) &&
                service(fd, conns[fd]) != 0) {
                close(fd);
                free(conns[fd]);
                conns[fd] = NULL;
            }
        while (FD_ISSET(lfd, &rset)) {
            int fd = accept_client(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == ECONNABORTED)
                    continue;
                break; /* EAGAIN: backlog drained */
            }
            /* the bug: no "if (fd >= FD_SETSIZE) { close(fd); continue; }" */
            if (fd >= cap || !(conns[fd] = calloc(1, sizeof(struct conn)))) {
                close(fd);
                continue;
            }
            if (fd > maxfd)
                maxfd = fd;
        }
    }
    for (int fd = 0; fd <= maxfd; fd++)
        if (conns[fd])
            close(fd);
    return 0;
}
