/* FAULTY: thread-per-connection echo server that copies the connection
 * through stdio streams, the K&R way, and never flushes.
 * Bug: each connection is wrapped in FILE streams (fdopen()) and echoed
 * with "while ((c = getc(in)) != EOF) putc(c, out);".  A FILE on a socket
 * is fully buffered: putc() only fills the stream's buffer (4 KiB), and
 * the bytes reach the socket when the buffer is full or at fclose().
 * Nothing calls fflush(out) when the input pauses.
 * Why it is wrong: an echo is owed as soon as the bytes arrive, not when
 * 4 KiB have piled up or the client has finished.  A client that sends 32
 * bytes and waits for them waits forever (or until it gives up and closes,
 * and then the late echo meets a closed socket, which answers with RST).
 * stdout is line buffered only on a terminal; on a socket or a pipe every
 * stream is fully buffered, which is the classic "works in my terminal"
 * surprise.  The fix is fflush(out) whenever getc() would block (or plain
 * read()/write()).
 * Exposed by: tcp.echo.roundtrip (32 bytes: nothing comes back), and every
 * check that waits for its echo before closing its side: tcp.echo.binary,
 * tcp.echo.large, tcp.stream.reassembly, tcp.stream.coalesced,
 * tcp.close.fin-not-rst, tcp.concurrency.parallel,
 * tcp.concurrency.idle-peer, tcp.concurrency.burst-accept,
 * tcp.backpressure.slow-reader, tcp.nagle.small-writes and
 * tcp.urgent.stream-intact.  The half-close checks pass: at the client's
 * EOF, fclose() sends everything, then FIN.  The checks that need an echoed
 * connection to set up what they judge (TIME_WAIT, fd leak, shutdown,
 * select-fd, peer-reset) say they cannot judge.
 * Everything else is correct: binary-safe (getc() returns an int, so 0xFF
 * is not EOF), the fd goes to its thread by value, resets end only their
 * own thread, SIGTERM -> exit 0. */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int wfd = dup(fd);
    FILE *in = fdopen(fd, "r");
    FILE *out = wfd >= 0 ? fdopen(wfd, "w") : NULL;
    int c;

    if (in == NULL || out == NULL) {
        log_msg("fdopen failed, dropping a connection");
        if (in != NULL)
            fclose(in);
        else
            close(fd);
        if (out != NULL)
            fclose(out);
        else if (wfd >= 0)
            close(wfd);
        return NULL;
    }
    while ((c = getc(in)) != EOF)
        putc(c, out); /* BUG: stays in out's buffer; no fflush(out) when the input pauses */
    fclose(out); /* now the rest is sent */
    fclose(in);  /* the last descriptor: FIN */
    return NULL;
}

int main(int argc, char **argv)
{
    /* SIGTERM blocked before any pthread_create(): inherited. */
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        start_conn_thread(serve, cfd); /* detached, fd by value */
    close(lfd);
    return 0; /* exit() ends the detached threads with the process */
}
