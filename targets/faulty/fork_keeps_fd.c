/* BUG: fork-per-connection server whose parent forgets to close the
 * connected socket after fork().
 * Why it is wrong: fork() duplicates the descriptor, and a TCP connection is
 * only closed (FIN sent) when the LAST descriptor referring to it is closed.
 * The child echoes, sees the client's EOF and closes its copy, but the
 * parent's copy keeps the connection open: a half-closing client never gets
 * EOF, and the parent leaks one fd per connection until accept() hits EMFILE
 * (later children also inherit all those leaked fds).
 * Exposed by: tcp.half-close.eof-after-echo and tcp.half-close.large (no
 * EOF after shutdown(SHUT_WR)), tcp.close.fin-not-rst (no FIN after the
 * client's close) and tcp.process.fd-leak (the process tree's fd count
 * keeps growing).
 * Reaping (looping SIGCHLD handler) and SIGTERM handling are correct. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <signal.h>
#include <sys/socket.h>

#define MAXKIDS 65536 /* children not yet reaped */

int main(int argc, char **argv)
{
    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    install_sigchld(reap_children); /* loop: signals merge */
    block_sigchld(); /* like SIGTERM, SIGCHLD is delivered only in ppoll() */

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        pid_t pid = fork_echo_child(lfd, cfd, 4096);
        if (pid > 0 && (children_count() == MAXKIDS || children_add(pid) < 0))
            kill(pid, SIGKILL); /* table full: refuse (reaped later) */
        /* the bug: missing close(cfd) -- the child owns the connection now */
    }

    children_stop(); /* SIGTERM to every child, then waitpid() them all */
    return 0;
}
