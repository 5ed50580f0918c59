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
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXKIDS 65536
static pid_t kids[MAXKIDS]; /* children not yet reaped; 0 = free slot */
static int nkids;

static void on_sigchld(int signo)
{
    int saved = errno;
    pid_t pid = waitpid(-1, NULL, WNOHANG); /* the bug: no loop */

    (void)signo;
    for (int i = 0; pid > 0 && i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = 0;
    errno = saved;
}

static int remember(pid_t pid)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] == 0)
            return kids[i] = pid, 0;
    if (nkids == MAXKIDS)
        return -1;
    kids[nkids++] = pid;
    return 0;
}

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
    sigset_t chld;
    struct sigaction sa;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* SIGTERM is delivered only inside ppoll() */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    /* Like SIGTERM, SIGCHLD is delivered only inside ppoll() */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    lfd = tcp_listen(host, port, 1, 512);
    set_nonblocking(lfd);

    while (wait_fd(lfd, POLLIN) >= 0) {
        int cfd = accept_client(lfd, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGCHLD, SIG_DFL);
            sigprocmask(SIG_SETMASK, stop_wait_mask(), NULL);
            close(lfd);
            echo_child(cfd);
        }
        if (pid > 0 && remember(pid) < 0)
            kill(pid, SIGKILL); /* table full: refuse (reaped later) */
        close(cfd);
    }

    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    return 0;
}
