/* BUG: fork-per-connection server that never reaps its children (no SIGCHLD
 * handler, no waitpid() in the accept loop).
 * Why it is wrong: a process that exits stays in the process table as a
 * zombie, holding its PID and exit status, until its parent collects it with
 * wait()/waitpid().  A long-running server that never does so piles up one
 * zombie per finished connection until fork() fails with EAGAIN.
 * Exposed by: tcp.process.zombies (32 clients close at once; their 32
 * children stay <defunct>).  Everything else is correct: on SIGTERM the
 * parent signals its children, reaps them all and exits 0. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <sys/socket.h>
#include <unistd.h>

#define MAXKIDS 65536 /* children not yet reaped: all of them, here */

int main(int argc, char **argv)
{
    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    /* No SIGCHLD handler, and no waitpid() in the loop. */
    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        if (children_count() == MAXKIDS || children_reserve() < 0) {
            close(cfd); /* table full: refuse */
            continue;
        }
        pid_t pid = fork_echo_child(lfd, cfd, 4096);
        if (pid > 0)
            children_add(pid); /* ... and nobody ever waits for it */
        close(cfd);
    }

    children_stop(); /* SIGTERM to every child, then waitpid() them all */
    return 0;
}
