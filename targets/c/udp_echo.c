/* udp_echo: the UDP DATAGRAM echo (one socket, recvfrom/sendto).
 *
 * What it gets right:
 *  - a 65536-byte buffer, larger than any UDP payload (65,507 bytes over
 *    IPv4, 65,527 over IPv6), so no datagram is truncated; one datagram in,
 *    exactly one datagram of the same size out -- UDP keeps message
 *    boundaries, and a zero-length datagram is echoed as a zero-length one;
 *  - replies go to the address each datagram came from (recvfrom's source
 *    address), so any number of clients share the one socket;
 *  - a failed sendto() (e.g. an unreachable peer) costs only that datagram;
 *  - SIGTERM is only unblocked while sleeping in ppoll(), so it is never
 *    lost between a check and the sleep; exit status 0.
 */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *host;
    int port;
    static char buf[65536];

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals();
    int fd = udp_bind(host, port);
    /* A burst arrives faster than any loop can echo it: give the kernel room
     * to queue it (capped by net.core.rmem_max) instead of dropping. */
    int rcvbuf = 4 * 1024 * 1024;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

    while (!stop_requested) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                             (struct sockaddr *)&peer, &plen);
        if (n >= 0) {
            /* Blocking sendto: waits for socket buffer space rather than
             * dropping the reply; errors lose only this datagram. */
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
