/* thread_echo: the THREAD-PER-CONNECTION model.
 *
 * The main thread accepts; each client gets a detached thread that echoes
 * with plain blocking recv()/write_all() and closes at the client's EOF.
 *
 * What it gets right:
 *  - the connected fd is handed to the thread BY VALUE
 *    ((void *)(intptr_t)fd), never as a pointer to the accept loop's
 *    variable, which the next accept() would overwrite before the thread
 *    reads it (two threads on one fd, another never served and leaked);
 *  - threads are detached, so finished threads leave nothing to join, and
 *    each closes its own fd exactly once;
 *  - SIGTERM/SIGINT are blocked before any thread starts, so workers inherit
 *    the mask and the signal can only reach the main thread, in ppoll();
 *    main then closes the listening socket and returns 0, which ends the
 *    whole process including threads blocked on clients that do not read;
 *  - small thread stacks (256 KiB), so hundreds of clients cost little;
 *  - echo, half-close (echo everything, then close -> FIN), backpressure
 *    (the thread sleeps in write_all) and resets (end only that thread).
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (write_all(fd, buf, (size_t)n) < 0)
                break;
        } else if (n == 0 || errno != EINTR) {
            break; /* EOF (all echoed) or ECONNRESET etc. */
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host;
    int port;
    pthread_attr_t attr;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* before any pthread_create(): inherited */
    int lfd = tcp_listen(host, port, 1, 512);
    if (set_nonblocking(lfd) < 0) {
        log_msg("set_nonblocking: %s", strerror(errno));
        return 1;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);

    while (wait_fd(lfd, POLLIN) >= 0) {
        int cfd = accept_client(lfd, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        pthread_t tid;
        int err = pthread_create(&tid, &attr, serve, (void *)(intptr_t)cfd);
        if (err != 0) {
            log_msg("pthread_create: %s", strerror(err));
            close(cfd);
        }
    }
    close(lfd);
    pthread_attr_destroy(&attr);
    return 0; /* exit() ends the detached threads with the process */
}
