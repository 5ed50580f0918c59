/* BUG: fork-per-connection server whose SIGCHLD handler calls
 * waitpid(-1, NULL, WNOHANG) exactly once per signal instead of looping.
 * Why it is wrong: standard signals are not queued.  While SIGCHLD is
 * pending or its handler is running, further SIGCHLDs merge into that one,
 * so when many children exit together the parent gets fewer signals than
 * there were deaths, and each signal reaps just one child: the rest stay
 * zombies (until later exits happen to reap them one by one).  The fix is
 * "while (waitpid(-1, NULL, WNOHANG) > 0);".
 * Exposed by: tcp.process.zombies (32 clients close at the same instant).
 * Otherwise correct; on SIGTERM the parent signals, reaps all and exits 0. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXKIDS 65536 /* children not yet reaped */

static void on_sigchld(int signo)
{
    int saved = errno;
    pid_t pid = waitpid(-1, NULL, WNOHANG); /* the bug: no loop */

    (void)signo;
    if (pid > 0)
        children_forget(pid);
    errno = saved;
}

int main(int argc, char **argv)
{
    /* SIGTERM is delivered only inside ppoll() */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    install_sigchld(on_sigchld);
    block_sigchld(); /* like SIGTERM, SIGCHLD is delivered only in ppoll() */

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        pid_t pid = fork_echo_child(lfd, cfd, 4096);
        if (pid > 0 && (children_count() == MAXKIDS || children_add(pid) < 0))
            kill(pid, SIGKILL); /* table full: refuse (reaped later) */
        close(cfd);
    }

    children_stop(); /* SIGTERM to every child, then waitpid() them all */
    return 0;
}
