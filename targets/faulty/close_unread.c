/* FAULTY: thread-per-connection echo server that takes one recv() for the
 * whole request: it echoes the first chunk it reads, then close()s.
 * Bug: "read the request, send the reply, close": one recv() of up to
 * 512 bytes is taken to be everything the client will send, so whatever else
 * the client sent is still in the socket's receive buffer at close().
 * Why it is wrong: TCP is a byte stream, and one recv() returns whatever
 * has arrived, not a message.  And close() with unread data in the receive
 * buffer does not send FIN: the kernel aborts the connection with RST
 * (RFC 9293 section 3.6.1, RFC 2525 section 2.17), and the client gets
 * ECONNRESET instead of the rest of its echo.  A request/response server
 * reads until the request is complete (or the client's EOF) before it
 * closes.
 * Exposed by: tcp.half-close.eof-after-echo (64 KiB, then the client's
 * FIN: the first 512 bytes come back, then RST, "closed the connection with
 * N unread bytes in its receive buffer").  Every check whose client sends
 * more than a first chunk on a connection fails too: tcp.echo.large,
 * tcp.stream.reassembly, tcp.stream.coalesced, tcp.concurrency.parallel
 * (each client gets only part of its 1 KiB), tcp.backpressure.slow-reader,
 * tcp.nagle.small-writes and tcp.urgent.stream-intact; tcp.close.peer-reset
 * and tcp.half-close.large then say they cannot judge.  A client that sends
 * one small message and reads its echo is served correctly, which is why
 * casual testing (and tcp.echo.roundtrip, tcp.close.fin-not-rst) misses it.
 * Everything else is correct: short writes are completed, SIGPIPE is
 * ignored, SIGTERM -> exit 0. */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST 512

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[REQUEST];
    ssize_t n;

    do
        n = recv(fd, buf, sizeof(buf), 0);
    while (n < 0 && errno == EINTR);
    if (n > 0 && write_all(fd, buf, (size_t)n) < 0)
        log_msg("write: %s", strerror(errno));
    /* BUG: one recv() is not the whole request.  Whatever else the client
     * sent is still unread, and close() with unread data sends RST. */
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
