/* FAULTY: passes the address of a reused variable to a new thread.
 *
 * Bug: the accept loop calls pthread_create(..., serve, &fd) where fd is the
 * accept loop's own variable, and the thread reads *arg only later.
 * Why it is wrong: by the time the thread reads it, the main thread may
 * already have accepted the next connection into the same variable.  Two
 * threads then serve the same socket, and the earlier connection is served
 * by nobody (and never closed).  Pass the value itself (e.g. a malloc'ed
 * copy, or the int cast through intptr_t) so each thread owns its own.
 * Exposed by: many clients connecting at once before any of them sends
 * (e.g. 200): some get no echo at all and wait forever.  One client at a
 * time works, because nothing overwrites fd in between.
 *
 * Everything else is meant to be correct: blocking sockets, complete
 * writes, half-close, resets, SIGTERM via ppoll in the main thread. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    char buf[65536];
    ssize_t n;

    /* Stands for the work a real server does before it first touches its
     * argument (logging, allocation, scheduling delay); it widens the race
     * window so the bug shows every run instead of by luck. */
    usleep(2000);
    int fd = *(int *)arg; /* BUG: may already hold a later connection */

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            if (write_all(fd, buf, (size_t)n) < 0)
                break;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break; /* EOF: everything echoed, close sends FIN; or error */
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host;
    int port, fd;
    sigset_t block, orig;
    pthread_attr_t attr;
    pthread_t tid;
    struct pollfd pfd = {.events = POLLIN};

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    /* Blocked here and so in every thread; main unblocks it only inside
     * ppoll, so SIGTERM always reaches the accept loop. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

    pfd.fd = tcp_listen(host, port, 1, 512);
    set_nonblocking(pfd.fd);
    while (!stop_requested) {
        if (ppoll(&pfd, 1, NULL, &orig) < 0) {
            if (errno == EINTR)
                continue;
            log_msg("poll: %s", strerror(errno));
            return 1;
        }
        fd = accept4(pfd.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (pthread_create(&tid, &attr, serve, &fd) != 0) /* BUG: &fd */
            close(fd);
    }
    return 0;
}
