/* BUG: fork-per-connection server whose parent, on SIGTERM, just exits 0
 * without signalling (or waiting for) the children serving connections.
 * Why it is wrong: children do not die with their parent.  They are
 * re-parented to init (or a subreaper) and keep serving, so "stopping" the
 * server leaves orphan processes that still hold client connections (and
 * the port, if they kept the listener), and nobody accounts for them.
 * Exposed by: tcp.process.shutdown (after SIGTERM with clients connected the
 * process tree does not disappear; the children show up as orphans).
 * Reaping during normal operation (looping SIGCHLD handler) is correct. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    install_sigchld(reap_children); /* loop: signals merge */
    block_sigchld(); /* like SIGTERM, SIGCHLD is delivered only in ppoll() */

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        fork_echo_child(lfd, cfd, 4096);
        close(cfd);
    }

    /* the bug: missing children_stop(), i.e. "kill every child, then
     * waitpid() until ECHILD" (this server does not even record its
     * children's pids) */
    return 0;
}
