/* FAULTY: UDP echo with a receive buffer that is too small.
 *
 * Bug: datagrams are received into a 1024-byte buffer, so anything longer
 * is truncated to its first 1024 bytes and only those are echoed.
 * Why it is wrong: UDP delivers a datagram whole, in ONE recvfrom(); the
 * part that does not fit in the buffer is discarded by the kernel (the
 * MSG_TRUNC case), not kept for a later call as TCP would.  The buffer must
 * hold the largest datagram possible (65535 bytes), or the server must at
 * least detect truncation.
 * Exposed by: udp.datagram.max-size and udp.datagram.boundaries (any
 * datagram longer than 1024 bytes: the echo is 1024 bytes long).  Short
 * and zero-length datagrams echo fine.
 *
 * Everything else is meant to be correct: each datagram echoed to its own
 * sender, zero-length datagrams echoed, SIGTERM via ppoll. */
#define _GNU_SOURCE
#include "net.h"

#include <poll.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    const char *host;
    int port;
    struct pollfd pfd = {.events = POLLIN};
    char buf[1024]; /* BUG: should be 65535 */

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* unblocked only inside ppoll */

    pfd.fd = udp_bind(host, port);
    /* Room to queue bursts: the bug here is the application's buffer, not the kernel's. */
    int rcvbuf = 4 * 1024 * 1024;
    (void)setsockopt(pfd.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    while (!stop_requested) {
        if (wait_pollfds(&pfd, 1, NULL) < 0)
            continue;
        for (;;) {
            struct sockaddr_storage peer;
            socklen_t plen = sizeof(peer);
            ssize_t n = recvfrom(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT,
                                 (struct sockaddr *)&peer, &plen);
            if (n < 0)
                break; /* EAGAIN: drained (or a transient ICMP error) */
            sendto(pfd.fd, buf, (size_t)n, MSG_DONTWAIT,
                   (struct sockaddr *)&peer, plen);
        }
    }
    return 0;
}
