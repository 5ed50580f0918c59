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
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_sigchld(int signo)
{
    int saved = errno;

    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) /* loop: signals merge */
        ;
    errno = saved;
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
        close(cfd);
    }

    /* the bug: missing "kill every child, then waitpid() until ECHILD" */
    return 0;
}
