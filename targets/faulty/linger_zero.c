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
 * should be.
 *
 * Exposed by: tcp.close.fin-not-rst, tcp.half-close.eof-after-echo and
 * tcp.half-close.large (an RST where the FIN should be, and the echo still
 * unsent at close() thrown away).
 */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 65536

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    echo_blocking(fd, CHUNK); /* until EOF, or ECONNRESET etc. */
    /* THE BUG: "avoid TIME_WAIT".  close() now discards unsent data and
     * sends RST instead of FIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        log_msg("setsockopt(SO_LINGER): %s", strerror(errno));
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    /* SIGTERM blocked everywhere (threads inherit the mask) except in
     * ppoll(). */
    int lfd = tcp_server_start(argc, argv, 512);

    while (!stop_requested) {
        int fd = accept_or_pause(lfd, SOCK_CLOEXEC);
        if (fd >= 0)
            start_conn_thread(serve, fd);
    }
    log_msg("stopping");
    return 0;
}
