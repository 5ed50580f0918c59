/* FAULTY: UDP echo with a 30-byte receive buffer, as textbook examples size
 * it for the short lines their client sends.
 *
 * Bug: datagrams are received into a 30-byte buffer, so anything longer is
 * cut to its first 30 bytes and only those are echoed.
 * Why it is wrong: UDP delivers a datagram whole, in ONE recvfrom(); the
 * part that does not fit in the buffer is discarded by the kernel (the
 * MSG_TRUNC case), not kept for a later call as TCP would.  The buffer must
 * hold the largest datagram possible (65535 bytes).
 * Exposed by: udp.echo.roundtrip (its 32 bytes come back as 30),
 * udp.datagram.max-size and udp.datagram.boundaries (the 700- and
 * 1400-byte datagrams come back as 30 bytes).  The replies still go to
 * their own sender: udp.peers.* cannot judge them and say so, naming the
 * check that owns the truncation.
 *
 * Everything else is meant to be correct: each datagram echoed to its own
 * sender from the socket it arrived on, zero-length datagrams echoed,
 * SIGTERM via ppoll. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *host;
    int port;
    char buf[30]; /* BUG: should be 65535 */

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* unblocked only inside ppoll */
    int fd = udp_bind(host, port);
    /* Room to queue bursts: the bug here is the application's buffer, not the kernel's. */
    int rcvbuf = 4 * 1024 * 1024;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

    while (!stop_requested) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                             (struct sockaddr *)&peer, &plen);
        if (n >= 0) {
            while (sendto(fd, buf, (size_t)n, MSG_NOSIGNAL,
                          (struct sockaddr *)&peer, plen) < 0 &&
                   errno == EINTR)
                ;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN) < 0)
                break;
        }
        /* other errors (EINTR, a queued ICMP error): keep serving */
    }
    close(fd);
    return 0;
}
