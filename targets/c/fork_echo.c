/* fork_echo: the PROCESS-PER-CONNECTION model (fork() per client).
 *
 * The parent accepts; each client gets a child process that echoes with
 * plain blocking recv()/write_all() and exits at the client's EOF.
 *
 * What it gets right:
 *  - the parent closes its copy of the connected fd at once and the child
 *    closes its copy of the listening fd, so every fd is closed once per
 *    process and a closed connection really sends its FIN;
 *  - no zombies: the SIGCHLD handler reaps in a loop
 *    (while (waitpid(-1, NULL, WNOHANG) > 0)), because several child exits
 *    can merge into one signal; it saves and restores errno;
 *  - the parent tracks its children's pids (SIGCHLD blocked while the table
 *    changes); on SIGTERM it stops accepting, closes the listening socket,
 *    sends SIGTERM to each child (not to its process group, which could hold
 *    whoever started it), waits for all of them and exits 0;
 *  - children restore default SIGTERM/SIGINT handling, so they die at once
 *    even when blocked on a client that does not read;
 *  - echo, half-close (echo everything, then close -> FIN), backpressure
 *    (the child sleeps in write_all) and resets (end only that child) as in
 *    the iterative server, but any number of clients at once.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Live children.  Changed by main() only with SIGCHLD blocked, and by the
 * SIGCHLD handler, which therefore always sees a consistent table. */
static pid_t *children;
static size_t nchildren, children_cap;

static void forget_child(pid_t pid)
{
    for (size_t i = 0; i < nchildren; i++) {
        if (children[i] == pid) {
            children[i] = children[--nchildren];
            return;
        }
    }
}

static void on_sigchld(int signo)
{
    int saved_errno = errno;
    pid_t pid;

    (void)signo;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        forget_child(pid);
    errno = saved_errno;
}

/* The child: blocking echo until EOF or error, then exit. */
static void child_serve(int cfd)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(cfd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (write_all(cfd, buf, (size_t)n) < 0)
                break;
        } else if (n == 0 || errno != EINTR) {
            break; /* EOF (all echoed) or ECONNRESET etc. */
        }
    }
    close(cfd);
}

static void spawn(int lfd, int cfd, const sigset_t *chld)
{
    sigset_t old;

    /* Block SIGCHLD so the handler cannot reap the child before its pid is
     * in the table (it would then never be forgotten). */
    sigprocmask(SIG_BLOCK, chld, &old);
    if (nchildren == children_cap) {
        size_t cap = children_cap ? children_cap * 2 : 64;
        pid_t *p = realloc(children, cap * sizeof(*p));
        if (p == NULL) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            log_msg("out of memory");
            close(cfd);
            return;
        }
        children = p;
        children_cap = cap;
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGCHLD, &dfl, NULL);
        /* Unblock everything main() blocked; a SIGTERM that arrived since
         * the fork is pending and now kills the child as intended. */
        sigprocmask(SIG_SETMASK, stop_wait_mask(), NULL);
        close(lfd);
        child_serve(cfd);
        _exit(0);
    }
    if (pid < 0)
        log_msg("fork: %s", strerror(errno));
    else
        children[nchildren++] = pid;
    close(cfd); /* the parent's copy: the child owns the connection */
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
    const char *host;
    int port;
    sigset_t chld;
    struct sigaction sa;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals();

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    int lfd = tcp_listen(host, port, 1, 512);
    if (set_nonblocking(lfd) < 0) {
        log_msg("set_nonblocking: %s", strerror(errno));
        return 1;
    }

    while (wait_fd(lfd, POLLIN) >= 0) {
        int cfd = accept_client(lfd, SOCK_CLOEXEC);
        if (cfd >= 0)
            spawn(lfd, cfd, &chld);
    }
    close(lfd);

    /* Shut down: signal every live child, then wait for all of them.  The
     * handler goes back to default (SIGCHLD is then discarded) so that the
     * blocking waitpid() below does the reaping. */
    sigprocmask(SIG_BLOCK, &chld, NULL);
    for (size_t i = 0; i < nchildren; i++)
        kill(children[i], SIGTERM);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    free(children);
    return 0;
}
