/* fork_echo: the PROCESS-PER-CONNECTION model (fork() per client).
 *
 * The parent accepts; each client gets a child process that echoes with
 * plain blocking recv()/write_all() and exits at the client's EOF.
 *
 * What it gets right:
 *  - the parent closes its copy of the connected fd at once and the child
 *    closes its copy of the listening fd, so every fd is closed once per
 *    process and a closed connection really sends its FIN;
 *  - no zombies: the SIGCHLD handler reaps in a loop
 *    (while (waitpid(-1, NULL, WNOHANG) > 0)), because several child exits
 *    can merge into one signal; it saves and restores errno;
 *  - the parent tracks its children's pids (SIGCHLD blocked while the table
 *    changes); on SIGTERM it stops accepting, closes the listening socket,
 *    sends SIGTERM to each child (not to its process group, which could hold
 *    whoever started it), waits for all of them and exits 0;
 *  - children restore default SIGTERM/SIGINT handling, so they die at once
 *    even when blocked on a client that does not read;
 *  - echo, half-close (echo everything, then close -> FIN), backpressure
 *    (the child sleeps in write_all) and resets (end only that child) as in
 *    the iterative server, but any number of clients at once.
 *
 * Built a second time as fork_small_echo, with ECHO_BUFFER=16 (Makefile):
 * the textbook str_echo() loop with a tiny buffer.  A small buffer is slow,
 * not wrong.  Echoing a megabyte takes 65,536 read/write pairs, so while a
 * client that has stopped reading fills the buffers, the child works hard;
 * once the client's receive window and the child's send buffer are full,
 * the child sleeps in the kernel's write path (sk_stream_wait_memory) and
 * uses no CPU until the client reads again.  That is backpressure done
 * right, whatever the buffer size: the server waits, it does not spin.
 */
#define _GNU_SOURCE
#include "children.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef ECHO_BUFFER
#define ECHO_BUFFER 65536 /* bytes each child reads, and writes back, at a time */
#endif

/* Live children are kept in children.h's table, changed by main() only with
 * SIGCHLD blocked, and by the SIGCHLD handler reap_children(), which
 * therefore always sees a consistent table. */

static void spawn(int lfd, int cfd, const sigset_t *chld)
{
    sigset_t old;

    /* Block SIGCHLD so the handler cannot reap the child before its pid is
     * in the table (it would then never be forgotten). */
    sigprocmask(SIG_BLOCK, chld, &old);
    if (children_reserve() < 0) {
        log_msg("out of memory");
    } else {
        /* The child: blocking echo until EOF or error, then exit. */
        pid_t pid = fork_echo_child(lfd, cfd, ECHO_BUFFER);
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
