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
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXKIDS 65536
static pid_t kids[MAXKIDS]; /* children not yet reaped */
static int nkids;

static void echo_child(int cfd)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(cfd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && write_all(cfd, buf, (size_t)n) < 0)
            break;
    close(cfd); /* after client EOF: everything echoed, now FIN */
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *host;
    int port, lfd;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* SIGTERM is delivered only inside ppoll() */
    lfd = tcp_listen(host, port, 1, 512);
    set_nonblocking(lfd);

    while (wait_fd(lfd, POLLIN) >= 0) {
        int cfd = accept_client(lfd, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        if (nkids == MAXKIDS) { /* table full: refuse */
            close(cfd);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            sigprocmask(SIG_SETMASK, stop_wait_mask(), NULL);
            close(lfd);
            echo_child(cfd);
        }
        if (pid > 0)
            kids[nkids++] = pid; /* ... and nobody ever waits for it */
        close(cfd);
    }

    for (int i = 0; i < nkids; i++)
        kill(kids[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    return 0;
}
