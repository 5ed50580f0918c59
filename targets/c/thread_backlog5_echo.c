/* thread_backlog5_echo: THREAD-PER-CONNECTION as a course lab writes it, with listen(fd, 5).
 *
 * The fixed form of faulty/thread_fd_race.c: the connected fd is handed to
 * the thread by value, so every client is served.  Its listen backlog is
 * the textbooks' 5: when many clients connect at once, the kernel's accept
 * queue overflows and the handshakes beyond it are retried after 1 s, 3 s,
 * 7 s.  Those clients are served late, not lost: tcp.concurrency.burst-accept
 * reports a capacity figure (below its threshold, not a failure), where the
 * race fails tcp.concurrency.parallel at the must level (clients connected
 * and never served).  Together they show the difference.
 */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 5

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;

    echo_blocking(fd, 16384); /* until EOF (all echoed) or ECONNRESET etc. */
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int lfd = tcp_server_start(argc, argv, BACKLOG), cfd;

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        start_conn_thread(serve, cfd); /* detached, fd by value */
    close(lfd);
    return 0;
}
