/* FAULTY: fork-per-connection echo server whose child closes the wrong
 * descriptor.
 * Bug: after fork() the child is meant to close its copy of the LISTENING
 * socket (it only serves its one client) and the parent its copy of the
 * CONNECTED socket.  Here the child closes the connected socket instead,
 * then tries to echo on it: read() fails with EBADF at once and the child
 * exits.  With both copies closed, the client's connection is closed
 * before a single byte is echoed.
 * Why it is wrong: fork() duplicates every descriptor; each process must
 * close exactly the ones it does not use, and the two lists are opposite
 * in parent and child.  Swapping them loses every connection (and leaves
 * each child holding a listener it never uses).
 * Exposed by: tcp.echo.roundtrip (32 bytes sent; nothing comes back, then
 * EOF).  Every other check meets a server that answers no connection at
 * all, which the suite reports as this one finding: they say they cannot
 * judge.
 * Everything else is correct: the SIGCHLD handler reaps in a loop, the
 * parent records its children and stops them on SIGTERM, then exits 0. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve_child(int lfd, int cfd)
{
    struct sigaction dfl;

    (void)lfd;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    sigprocmask(SIG_SETMASK, stop_wait_mask(), NULL);
    close(cfd); /* BUG: the connected socket; close(lfd) was meant */
    echo_blocking(cfd, 65536); /* EBADF at once */
    _exit(0);
}

static void spawn(int lfd, int cfd, const sigset_t *chld)
{
    sigset_t old;

    /* SIGCHLD blocked until the pid is in the table. */
    sigprocmask(SIG_BLOCK, chld, &old);
    if (children_reserve() < 0) {
        log_msg("out of memory");
    } else {
        pid_t pid = fork();
        if (pid == 0)
            serve_child(lfd, cfd);
        if (pid < 0)
            log_msg("fork: %s", strerror(errno));
        else
            children_add(pid); /* cannot fail: room reserved above */
    }
    close(cfd); /* the parent's copy */
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
    sigset_t chld;
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    install_sigchld(reap_children);

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        spawn(lfd, cfd, &chld);
    close(lfd);
    children_stop(); /* SIGTERM each child, wait for all */
    return 0;
}
