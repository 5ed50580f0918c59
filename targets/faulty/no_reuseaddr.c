/* BUG: poll() echo server whose listening socket does not set SO_REUSEADDR.
 * Why it is wrong: the side that closes a TCP connection first keeps it in
 * TIME_WAIT for 2*MSL (60 s on Linux).  When the server is stopped while
 * clients are connected it is that side, and without SO_REUSEADDR the kernel
 * refuses to bind the port again while any TIME_WAIT connection on it
 * exists: a restart fails with "Address already in use" for a minute.
 * Exposed by: tcp.time-wait.rebind (stop with a client connected, restart on
 * the same port at once).  Apart from that a correct non-blocking server. */
#define _GNU_SOURCE
#include "chunk_echo.h"
#include "net.h"

int main(int argc, char **argv)
{
    const char *host;
    int port;
    struct chunk_pollset ps; /* ps.pfds[0] is the listener */

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals(); /* SIGTERM is delivered only inside ppoll() */
    if (chunk_pollset_init(&ps) < 0)
        return 1;
    ps.pfds[0].fd = tcp_listen(host, port, 0, 512); /* the bug: reuseaddr 0 */
    set_nonblocking(ps.pfds[0].fd);

    chunk_pollset_serve(&ps); /* a correct poll() echo loop */
    return 0;
}
