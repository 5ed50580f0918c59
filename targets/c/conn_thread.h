/* Plumbing shared by the thread-per-connection servers. */
#ifndef SOCKCHECK_CONN_THREAD_H
#define SOCKCHECK_CONN_THREAD_H

/* Starts serve((void *)(intptr_t)fd) in a new detached thread with a small
 * (256 KiB) stack: the fd goes BY VALUE, never as a pointer to the accept
 * loop's variable, and a finished thread leaves nothing to join.  Threads
 * inherit the creator's signal mask, so block_stop_signals() comes first.
 * If the thread cannot be created it logs and closes fd.  Returns 0 or -1. */
int start_conn_thread(void *(*serve)(void *arg), int fd);

#endif
