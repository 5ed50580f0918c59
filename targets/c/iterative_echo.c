/* iterative_echo: the ITERATIVE model -- one client at a time.
 *
 * Accepts a client, echoes until that client's EOF, closes, and only then
 * accepts the next one; other clients wait in the listen backlog.  This is
 * the model that cannot serve two clients at once, and claims nothing else.
 *
 * What it gets right:
 *  - every byte comes back unchanged whatever the chunking, short sends are
 *    retried until the whole chunk is out;
 *  - half-close: on EOF from the client everything read has already been
 *    echoed (it echoes each chunk before reading the next), so close() only
 *    then sends a FIN, never a RST;
 *  - backpressure: a client that stops reading stalls the server in a
 *    sleeping wait for POLLOUT (no busy loop, no buffering beyond one chunk);
 *  - a reset (ECONNRESET/EPIPE) ends only that connection; SIGPIPE is
 *    ignored and sends use MSG_NOSIGNAL;
 *  - SIGTERM is blocked except while sleeping in ppoll(), so it is never
 *    lost between a check and a sleep, and it ends the server promptly even
 *    while it is stalled on a client that does not read; exit status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends all len bytes; waits (sleeping) for POLLOUT when the socket buffer
 * is full.  Returns 0, or -1 on a connection error or a stop request. */
static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT) < 0)
                return -1;
        } else if (!(n < 0 && errno == EINTR)) {
            return -1;
        }
    }
    return 0;
}

/* Echoes until EOF, a connection error or a stop request. */
static void serve(int fd)
{
    static char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (send_all(fd, buf, (size_t)n) < 0)
                return;
        } else if (n == 0) {
            return; /* client's FIN: all its bytes have been echoed */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN) < 0)
                return;
        } else if (errno != EINTR) {
            return; /* ECONNRESET and friends: drop this client only */
        }
    }
}

int main(int argc, char **argv)
{
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0) {
        serve(cfd);
        close(cfd);
    }
    close(lfd);
    return 0;
}
