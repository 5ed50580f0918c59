/* BUG: fork-per-connection server whose parent forgets to close the
 * connected socket after fork().
 * Why it is wrong: fork() duplicates the descriptor, and a TCP connection is
 * only closed (FIN sent) when the LAST descriptor referring to it is closed.
 * The child echoes, sees the client's EOF and closes its copy, but the
 * parent's copy keeps the connection open: a half-closing client never gets
 * EOF, and the parent leaks one fd per connection until accept() hits EMFILE
 * (later children also inherit all those leaked fds).
 * Exposed by: the half-close checks (no EOF after shutdown(SHUT_WR)) and
 * tcp.process.fd-leak (the process tree's fd count keeps growing).
 * Reaping (looping SIGCHLD handler) and SIGTERM handling are correct. */
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
    pid_t pid;

    (void)signo;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) /* loop: signals merge */
        for (int i = 0; i < nkids; i++)
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
        /* the bug: missing close(cfd) -- the child owns the connection now */
    }

    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    return 0;
}
