/* BUG: select() echo server that FD_SETs every accepted fd without checking
 * fd < FD_SETSIZE (1024).
 * Why it is wrong: an fd_set is a fixed 1024-bit array, but accept() hands
 * out any fd below RLIMIT_NOFILE.  FD_SET(1024, &set) writes past the end
 * of the set.  With -D_FORTIFY_SOURCE=2 (bin/select_noguard, target
 * f-select-noguard) glibc catches it and aborts the whole server: "*** bit
 * out of range 0 - FD_SETSIZE on fd_set ***".  Without FORTIFY
 * (bin/select_noguard_unfortified, target f-select-noguard-unfortified:
 * Debian's gcc does not define _FORTIFY_SOURCE by default) nothing stops
 * it: it silently flips bits in whatever lies next to the set (other
 * fd_sets, locals, saved registers) and select() reads/writes beyond it
 * too: corrupted state, lost or phantom events, hangs, crashes.  The fix:
 * close (or refuse) fds >= FD_SETSIZE, or use poll().
 * Exposed by: tcp.limits.select-fd, tcp.limits.c10k (RLIMIT_NOFILE 4096,
 * 1100 connections opened one by one: the FORTIFY build dies as soon as
 * accept() returns fd 1024, ~1020 clients in; the other keeps running with
 * corrupted sets and stops answering at connection #1023).  Only the
 * FORTIFY build claims c10k: without the abort, the overflowing bits of
 * one fd_set land in the next one and in the stack beyond, which here
 * happens to serve 10,000 clients opened all at once.  Undefined behaviour
 * that works is still a bug; it is select-fd's to show. */
#define _GNU_SOURCE
#include "chunk_echo.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rlimit rl;
    /* SIGTERM is delivered only inside pselect() */
    int lfd = tcp_server_start(argc, argv, 512), maxfd = lfd;

    getrlimit(RLIMIT_NOFILE, &rl); /* conns[] is indexed by fd */
    int cap = rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 1048576;
    struct chunk_conn **conns = calloc((size_t)cap, sizeof(*conns));
    if (!conns)
        return 1;

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
                chunk_echo(fd, conns[fd]) != 0) {
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
            if (fd >= cap || !(conns[fd] = calloc(1, sizeof(*conns[fd])))) {
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
