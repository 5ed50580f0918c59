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
#include "conn_thread.h"
#include "net.h"

#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;

    echo_blocking(fd, 16384); /* until EOF (all echoed) or ECONNRESET etc. */
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    /* SIGTERM blocked before any pthread_create(): inherited. */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        start_conn_thread(serve, cfd); /* detached, fd by value */
    close(lfd);
    return 0; /* exit() ends the detached threads with the process */
}
