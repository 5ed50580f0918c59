/* FAULTY: a thread-per-connection echo server that sends back each recv()
 * as a C string.
 * Bug: the buffer is NUL-terminated and written with strlen(buf), so the
 * echo of every chunk stops at its first NUL byte and the rest is dropped.
 * Why it is wrong: TCP carries bytes, not text.  NUL (like 0xFF, CR, LF)
 * is data; the length of what recv() returned is n, never strlen().
 * Exposed by: tcp.echo.binary (the 256 byte values in seeded order come
 * back cut at the NUL).  The other checks send no NUL (see
 * fixtures/payloads.py), so this server passes them.
 * Everything else is correct: short writes are retried, one thread per
 * client, the descriptor is handed over by value. */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4097];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0 || (n < 0 && errno == EINTR)) {
        if (n < 0)
            continue;
        buf[n] = '\0';
        if (write_all(fd, buf, strlen(buf)) < 0) /* BUG: strlen() stops at the first NUL; n was meant */
            break;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        start_conn_thread(serve, cfd);
    close(lfd);
    return 0;
}
