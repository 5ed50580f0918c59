/* oobinline_echo.c - a thread-per-connection echo server that sets
 * SO_OOBINLINE, so TCP urgent data is echoed as ordinary bytes.
 * Declared policy: oob = "inline".
 *
 * What urgent data is
 * -------------------
 * send(fd, "!", 1, MSG_OOB) puts "!" into the normal TCP byte stream and
 * also sets the URG flag and the "urgent pointer" on the segment, which
 * marks a position in the stream (on Linux, one past the urgent byte).  The
 * sockets API calls the byte in front of that position the out-of-band
 * (OOB) byte.  TCP has no separate channel: "out of band" is an illusion
 * the receiving kernel creates.
 *
 * What Linux does with it
 * -----------------------
 * By default the receiving kernel cuts that one byte out of the stream:
 * read()/recv() never return it (they stop at the mark and then skip the
 * byte), and only recv(..., MSG_OOB) can fetch it.  A plain echo server
 * therefore echoes "abc" + urgent "!" + "def" as "abcdef".
 *
 * SO_OOBINLINE switches that off: the urgent byte stays in the stream at
 * its place, recv() returns it like any other byte (a single recv still
 * stops at the mark, so reads come as "abc" then "!def"), SIOCATMARK still
 * tells where the mark is, and recv(MSG_OOB) fails with EINVAL.  The kernel
 * decides this when the data is read, not when it arrives, so setting the
 * option on the accepted socket before its first read is enough even if
 * urgent data came in earlier.
 *
 * What this server does
 * ---------------------
 * Each accepted connection gets SO_OOBINLINE and its own detached thread
 * (the fd is passed by value, so no shared, reused slot).  The thread does
 * blocking recv() and echoes with write_all(), which handles short writes.
 * So the urgent byte comes back in-band, as an ordinary byte: the client
 * receives "abc!def" and nothing urgent.  On the client's EOF everything
 * read has already been written back, so close() sends FIN; on a reset the
 * thread just closes.  SIGTERM is only unblocked in the main thread's
 * ppoll(), which then returns and the process exits with status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 65536

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[CHUNK];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (write_all(fd, buf, (size_t)n) < 0)
                break; /* peer gone (EPIPE/ECONNRESET) */
        } else if (n == 0) {
            break; /* EOF: everything echoed; close() sends FIN */
        } else if (errno != EINTR) {
            break; /* ECONNRESET etc. */
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host;
    int port, lfd, one = 1;
    sigset_t block, orig;
    pthread_attr_t attr;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    /* Blocked everywhere (threads inherit the mask) except in ppoll(). */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &orig);

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);

    lfd = tcp_listen(host, port, 1, 512);
    if (set_nonblocking(lfd) < 0) {
        log_msg("fcntl: %s", strerror(errno));
        return 1;
    }

    while (!stop_requested) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        struct timespec pause_ts = {0, 100 * 1000 * 1000};
        pthread_t tid;
        int fd;

        if (ppoll(&pfd, 1, NULL, &orig) < 0) {
            if (errno != EINTR)
                log_msg("poll: %s", strerror(errno));
            continue;
        }
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: wait instead of spinning. */
                log_msg("accept: %s (pausing)", strerror(errno));
                ppoll(NULL, 0, &pause_ts, &orig);
            }
            continue; /* EAGAIN, ECONNABORTED, EINTR ... */
        }
        /* Keep urgent bytes in the normal stream of this connection. */
        if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0) {
            log_msg("setsockopt(SO_OOBINLINE): %s", strerror(errno));
            close(fd);
            continue;
        }
        if (pthread_create(&tid, &attr, serve, (void *)(intptr_t)fd) != 0) {
            log_msg("pthread_create failed, dropping a connection");
            close(fd);
        }
    }
    log_msg("stopping");
    return 0;
}
