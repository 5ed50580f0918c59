/* fork_small_echo: PROCESS-PER-CONNECTION with a 16-byte buffer.
 *
 * The textbook str_echo() loop with a tiny buffer: each child reads at most
 * 16 bytes and writes them back with a blocking write before it reads
 * again.  Otherwise it is fork_echo (see there for the parent's side:
 * SIGCHLD reaping in a loop, the pid table, SIGTERM to every child).
 *
 * What it shows: a small buffer is slow, not wrong.  Echoing a megabyte
 * takes 65,536 read/write pairs, so while a client that has stopped reading
 * fills the buffers, the child works hard; once the client's receive window
 * and the child's send buffer are full, the child sleeps in the kernel's
 * write path (sk_stream_wait_memory) and uses no CPU until the client
 * reads again.  That is backpressure done right, whatever the buffer size:
 * the server waits, it does not spin.
 *
 * What it gets right: as fork_echo -- one close of each fd per process, no
 * zombies, SIGTERM ends the children too, sends with MSG_NOSIGNAL so a
 * reset ends only that child, and every byte comes back in order.
 */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole point of this server: far smaller than any socket buffer. */
#define SMALL_BUFFER 16

static void spawn(int lfd, int cfd, const sigset_t *chld)
{
    sigset_t old;

    /* SIGCHLD blocked until the pid is in the table (see fork_echo). */
    sigprocmask(SIG_BLOCK, chld, &old);
    if (children_reserve() < 0) {
        log_msg("out of memory");
    } else {
        /* The child: recv() 16 bytes, write them all back, until EOF. */
        pid_t pid = fork_echo_child(lfd, cfd, SMALL_BUFFER);
        if (pid < 0)
            log_msg("fork: %s", strerror(errno));
        else
            children_add(pid); /* cannot fail: room reserved above */
    }
    close(cfd); /* the parent's copy: the child owns the connection */
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
    sigset_t chld;
    int lfd = tcp_server_start(argc, argv, 512), cfd;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    install_sigchld(reap_children);

    while ((cfd = accept_next(lfd, SOCK_CLOEXEC)) >= 0)
        spawn(lfd, cfd, &chld);
    close(lfd);

    /* Shut down: signal every live child, then wait for all of them. */
    children_stop();
    return 0;
}
