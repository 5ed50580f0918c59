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

    /* EOF: everything echoed, close() sends FIN; or a reset: just close. */
    echo_blocking(fd, CHUNK);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int one = 1;
    /* SIGTERM blocked everywhere (threads inherit the mask) except in
     * ppoll(). */
    int lfd = tcp_server_start(argc, argv, 512);

    while (!stop_requested) {
        int fd = accept_or_pause(lfd, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* EAGAIN, ECONNABORTED, EINTR, out of fds ... */
        /* Keep urgent bytes in the normal stream of this connection. */
        if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0) {
            log_msg("setsockopt(SO_OOBINLINE): %s", strerror(errno));
            close(fd);
            continue;
        }
        start_conn_thread(serve, fd);
    }
    log_msg("stopping");
    return 0;
}
