/* linger_zero.c - FAULTY: an echo server that ends every connection with a
 * reset (RST) instead of an orderly close (FIN).
 *
 * The concept
 * -----------
 * close() on a TCP socket normally hands any unsent bytes to the kernel,
 * which delivers them and then sends FIN: "I am done sending, everything
 * before this arrived".  The side that closes first ends up in TIME_WAIT
 * for about a minute (2*MSL), so that stray old segments of this
 * connection cannot be mistaken for a new one on the same address pair.
 *
 * SO_LINGER with {l_onoff = 1, l_linger = 0} changes close() into an abort:
 * the kernel throws away whatever is still unsent in the send buffer and
 * sends RST instead of FIN.  No TIME_WAIT state is kept.
 *
 * Why people do it, and why it is wrong
 * -------------------------------------
 * It is a popular "fix" for servers that see thousands of TIME_WAIT
 * sockets, or that fail to restart with EADDRINUSE.  But TIME_WAIT is
 * harmless bookkeeping (the restart problem is solved by SO_REUSEADDR),
 * and the abort has real costs:
 *   - the peer sees ECONNRESET instead of a clean EOF, so it cannot tell a
 *     finished reply from a crash;
 *   - data still in the send buffer (not yet delivered, e.g. because the
 *     peer's receive window was full) is silently discarded: a large echo
 *     arrives truncated, followed by "connection reset by peer";
 *   - data the peer sent that this side had not read yet is lost as well.
 *
 * What this server does
 * ---------------------
 * A thread-per-connection echo server that is correct in every other way
 * (all bytes echoed, short writes handled, EOF handled, resets survived,
 * SIGTERM -> exit 0) but sets SO_LINGER {1, 0} on each accepted socket, so
 * the close() after the client's EOF puts an RST on the wire where a FIN
 * should be.  The conformance suite must catch this.
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
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (write_all(fd, buf, (size_t)n) < 0)
                break;
        } else if (n == 0 || errno != EINTR) {
            break; /* EOF, or ECONNRESET etc. */
        }
    }
    /* THE BUG: "avoid TIME_WAIT".  close() now discards unsent data and
     * sends RST instead of FIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        log_msg("setsockopt(SO_LINGER): %s", strerror(errno));
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host;
    int port, lfd;
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
                log_msg("accept: %s (pausing)", strerror(errno));
                ppoll(NULL, 0, &pause_ts, &orig);
            }
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
