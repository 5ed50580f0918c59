/* Plumbing shared by the fork-per-connection servers; see children.h. */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t *children;
static size_t nchildren, children_cap;

pid_t fork_echo_child(int lfd, int cfd, size_t chunk)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;

    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    /* Unblock everything main() blocked; a SIGTERM that arrived since the
     * fork is pending and now kills the child as intended. */
    sigprocmask(SIG_SETMASK, stop_wait_mask(), NULL);
    close(lfd);
    echo_blocking(cfd, chunk);
    close(cfd); /* after client EOF: everything echoed, now FIN */
    _exit(0);
}

int children_reserve(void)
{
    if (nchildren < children_cap)
        return 0;
    size_t cap = children_cap ? children_cap * 2 : 64;
    pid_t *p = realloc(children, cap * sizeof(*p));
    if (p == NULL)
        return -1;
    children = p;
    children_cap = cap;
    return 0;
}

int children_add(pid_t pid)
{
    if (children_reserve() < 0)
        return -1;
    children[nchildren++] = pid;
    return 0;
}

void children_forget(pid_t pid)
{
    for (size_t i = 0; i < nchildren; i++) {
        if (children[i] == pid) {
            children[i] = children[--nchildren];
            return;
        }
    }
}

size_t children_count(void)
{
    return nchildren;
}

void install_sigchld(void (*handler)(int signo))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
}

void reap_children(int signo)
{
    int saved_errno = errno;
    pid_t pid;

    (void)signo;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) /* loop: signals merge */
        children_forget(pid);
    errno = saved_errno;
}

void block_sigchld(void)
{
    sigset_t chld;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
}

void children_stop(void)
{
    sigset_t chld;
    struct sigaction dfl;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    for (size_t i = 0; i < nchildren; i++)
        kill(children[i], SIGTERM);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, NULL);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    free(children);
    children = NULL;
    nchildren = children_cap = 0;
}
