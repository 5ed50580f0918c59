/* FAULTY: passes the address of a reused variable to a new thread.
 *
 * Bug: the accept loop calls pthread_create(..., serve, &fd) where fd is the
 * accept loop's own variable, and the thread reads *arg only later.
 * Why it is wrong: by the time the thread reads it, the main thread may
 * already have accepted the next connection into the same variable.  Two
 * threads then serve the same socket, and the earlier connection is served
 * by nobody (and never closed).  Pass the value itself (e.g. a malloc'ed
 * copy, or the int cast through intptr_t) so each thread owns its own.
 * Exposed by: tcp.concurrency.burst-accept and tcp.concurrency.parallel
 * (many clients connecting at once before any of them sends: some get no
 * echo at all and wait forever).  One client at a time
 * works, because nothing overwrites fd in between.
 *
 * Everything else is meant to be correct: blocking sockets, complete
 * writes, half-close, resets, SIGTERM via ppoll in the main thread. */
#define _GNU_SOURCE
#include "net.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    /* Stands for the work a real server does before it first touches its
     * argument (logging, allocation, scheduling delay); it widens the race
     * window so the bug shows every run instead of by luck. */
    usleep(2000);
    int fd = *(int *)arg; /* BUG: may already hold a later connection */

    echo_blocking(fd, 65536); /* until EOF (all echoed) or an error */
    close(fd); /* after EOF: FIN */
    return NULL;
}

int main(int argc, char **argv)
{
    int fd;
    pthread_attr_t attr;
    pthread_t tid;
    struct pollfd pfd = {.events = POLLIN};

    /* SIGTERM is blocked here and so in every thread; main unblocks it only
     * inside ppoll, so SIGTERM always reaches the accept loop. */
    pfd.fd = tcp_server_start(argc, argv, 512);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (!stop_requested) {
        if (wait_pollfds(&pfd, 1, NULL) < 0)
            continue;
        fd = accept4(pfd.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (pthread_create(&tid, &attr, serve, &fd) != 0) /* BUG: &fd */
            close(fd);
    }
    return 0;
}
