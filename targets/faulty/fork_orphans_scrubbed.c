/* FAULTY: fork-per-connection server that scrubs its environment at start
 * and, on SIGTERM, exits without stopping the children serving clients.
 * Bug: the parent's SIGTERM path is a bare "return 0": no kill() of the
 * children, no waitpid() for them (the same bug as sigterm_orphans.c).
 * Why it is wrong: children do not die with their parent.  They are
 * re-parented (to init, or to a subreaper) and keep serving their clients,
 * so "stopping" the server leaves processes that hold client connections
 * and that no supervisor accounts for.
 * The scrubbed environment is not a bug: like inetd, sudo or any careful
 * daemon it does not pass on the environment it was started with.  main()
 * re-executes itself once with an empty environment (clearenv() alone
 * would leave the original strings in /proc/PID/environ), so neither the
 * server nor its children carry anything of it.  It means that whoever
 * looks for the server's leftovers by an environment variable set at
 * launch finds none: only the process tree known at the moment of the
 * signal (descendants, session, process group) still shows the orphans.
 * Exposed by: tcp.process.shutdown (SIGTERM to the main process with
 * clients connected: it exits 0, its children keep running).
 * Reaping during normal operation (looping SIGCHLD handler) is correct. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (environ != NULL && environ[0] != NULL) {
        /* Environment hygiene: start over with nothing inherited.  The same
         * pid, the same arguments, an empty environment. */
        char *empty[] = {NULL};
        execve("/proc/self/exe", argv, empty);
        log_msg("execve: %s", strerror(errno));
        return 1;
    }

    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    install_sigchld(reap_children); /* loop: signals merge */
    block_sigchld(); /* like SIGTERM, SIGCHLD is delivered only in ppoll() */

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        fork_echo_child(lfd, cfd, 65536);
        close(cfd);
    }

    return 0; /* BUG: the children are left running; children_stop() (kill
               * each child, then waitpid() until none is left) is missing */
}
