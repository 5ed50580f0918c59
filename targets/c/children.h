/* Plumbing shared by the fork-per-connection servers: the child that serves
 * one connection, the table of live children, SIGCHLD and shutdown. */
#ifndef SOCKCHECK_CHILDREN_H
#define SOCKCHECK_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

/* fork()s a child that serves cfd.  The child restores the default
 * SIGTERM, SIGINT and SIGCHLD actions and the signal mask from before
 * block_stop_signals() (so a SIGTERM that arrived since the fork is pending
 * and now kills it, even while it is blocked on a client that does not
 * read), closes its copy of lfd, echoes with echo_blocking(cfd, chunk) until
 * the client's EOF or an error, closes cfd (after EOF: FIN) and _exit(0)s.
 * Returns only in the parent: the child's pid, or -1 with errno if fork()
 * failed.  The parent's copy of cfd stays open: closing it is the
 * caller's job. */
pid_t fork_echo_child(int lfd, int cfd, size_t chunk);

/* The table of live children's pids.  The main program changes it only
 * with SIGCHLD blocked; the SIGCHLD handler (children_forget()) therefore
 * always sees a consistent table. */

/* Makes room for one more pid, so that the next children_add() cannot
 * fail.  Returns 0, or -1 when out of memory. */
int children_reserve(void);

/* Records pid.  Returns 0, or -1 (pid not recorded) when out of memory. */
int children_add(pid_t pid);

/* Removes pid from the table if it is there; async-signal-safe. */
void children_forget(pid_t pid);

/* How many pids the table holds. */
size_t children_count(void);

/* Installs handler for SIGCHLD, with SA_RESTART | SA_NOCLDSTOP. */
void install_sigchld(void (*handler)(int signo));

/* The correct SIGCHLD handler: reaps in a loop
 * (while (waitpid(-1, NULL, WNOHANG) > 0)), because several child exits can
 * merge into one signal, and forgets each reaped pid; saves and restores
 * errno. */
void reap_children(int signo);

/* Blocks SIGCHLD.  Called after block_stop_signals(), it makes SIGCHLD, like
 * SIGTERM, arrive only while the server sleeps in ppoll()/wait_fd() with
 * stop_wait_mask(). */
void block_sigchld(void);

/* Shutdown: sends SIGTERM to every child in the table (to each pid, not to
 * the process group, which could hold whoever started the server), then
 * waits until every child has exited.  SIGCHLD goes back to its default
 * action first, so that the blocking waitpid() does the reaping. */
void children_stop(void);

#endif
