/* Plumbing shared by the bundled C servers: argument parsing, listening
 * sockets, complete writes, echo loops and SIGTERM handling.  Every server is
 * started as
 *     PROGRAM PORT [HOST]
 * where HOST defaults to 127.0.0.1 and may be an IPv6 literal such as ::1. */
#ifndef SOCKCHECK_NET_H
#define SOCKCHECK_NET_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Set by the SIGTERM handler that install_sigterm() installs. */
extern volatile sig_atomic_t stop_requested;

/* Parses PORT [HOST]; exits with status 2 and a usage line on bad input. */
void parse_args(int argc, char **argv, const char **host, int *port);

/* A listening TCP socket on host:port.  reuseaddr selects SO_REUSEADDR,
 * which every correct server sets so that it can restart while old
 * connections sit in TIME_WAIT.  It also reserves one spare descriptor
 * (/dev/null) for accept_client().  Exits with status 1 on failure. */
int tcp_listen(const char *host, int port, int reuseaddr, int backlog);

/* The usual start of a TCP server: parse_args(), install_sigterm(),
 * block_stop_signals() (so SIGTERM arrives only while the server sleeps
 * with stop_wait_mask()), tcp_listen() with SO_REUSEADDR and the given
 * backlog, and set_nonblocking() on the listener, so that accept() never
 * blocks.  Returns the listening fd; exits with status 2 on bad arguments
 * and 1 on any other failure. */
int tcp_server_start(int argc, char **argv, int backlog);

/* A UDP socket bound to host:port.  Exits with status 1 on failure. */
int udp_bind(const char *host, int port);

/* Writes all len bytes, looping over short writes and EINTR.  On a
 * non-blocking socket it waits with poll() for POLLOUT.  Returns 0, or -1
 * with errno set. */
int write_all(int fd, const void *buf, size_t len);

/* Makes fd non-blocking; returns 0 or -1. */
int set_nonblocking(int fd);

/* SIGTERM (and SIGINT) set stop_requested; installed without SA_RESTART so
 * that a blocking accept()/poll() returns EINTR and the loop can exit. */
void install_sigterm(void);

/* Blocks SIGTERM and SIGINT in the calling thread (threads created later
 * inherit the mask).  From then on a server sleeps only in ppoll(),
 * pselect() or epoll_pwait() with stop_wait_mask(), which unblocks them for
 * the duration of the sleep: a SIGTERM that lands between checking
 * stop_requested and going to sleep stays pending and cuts the sleep short
 * instead of being lost. */
void block_stop_signals(void);

/* The mask to sleep with: the mask before block_stop_signals(), minus
 * SIGTERM and SIGINT. */
const sigset_t *stop_wait_mask(void);

/* Sleeps until fd reports one of events (or an error/hangup), with the
 * stop signals unblocked.  Other signals are waited through.  Returns the
 * revents, or -1 with errno EINTR once stop_requested is set. */
int wait_fd(int fd, short events);

/* ppoll(pfds, n, timeout) with the stop signals unblocked (as wait_fd()).
 * Returns the number of ready entries (0: timeout), or -1 with errno EINTR
 * after a signal: check stop_requested.  Any other failure is fatal: it
 * logs and exits with status 1. */
int wait_pollfds(struct pollfd *pfds, nfds_t n,
                 const struct timespec *timeout);

struct epoll_event;

/* epoll_pwait(epfd, events, max, -1) likewise: returns the number of
 * events, or -1 with errno EINTR after a signal; other failures log and
 * exit with status 1. */
int wait_epoll(int epfd, struct epoll_event *events, int max);

/* accept4(lfd, NULL, NULL, flags), except that when the process is out of
 * descriptors (EMFILE/ENFILE) it frees the spare descriptor tcp_listen()
 * set aside, accepts the pending connection, closes it at once and
 * re-reserves: the listening socket is drained rather than staying
 * readable forever, so a level-triggered loop cannot spin on it and an
 * edge-triggered one cannot stall.  Returns the new fd, or -1 with errno
 * (EAGAIN: nothing pending; ECONNABORTED: connection dropped or aborted). */
int accept_client(int lfd, int flags);

/* Sleeps with wait_fd() until a client connects to non-blocking lfd and
 * accepts it with accept_client(lfd, flags), retrying whatever that
 * reports (EAGAIN, ECONNABORTED, ...).  Returns the new fd, or -1 once a
 * stop is requested. */
int accept_next(int lfd, int flags);

/* One turn of an accept loop that pauses instead of keeping a spare
 * descriptor: sleeps (stop signals unblocked) until lfd is readable, then
 * accept4(lfd, NULL, NULL, flags).  When out of descriptors or memory it
 * logs and sleeps 100 ms, so it does not spin on a listener that stays
 * readable.  Returns the new fd, or -1 when nothing was accepted (a stop
 * request, or try again). */
int accept_or_pause(int lfd, int flags);

/* Makes room for n entries in the growable pollfd array *pfds of *cap
 * entries (growing it to 2 * n).  Returns 0, or -1 when out of memory. */
int pollfds_reserve(struct pollfd **pfds, size_t *cap, size_t n);

/* A new epoll instance (close-on-exec) with lfd registered for events and
 * data.ptr NULL, which marks the listener.  Returns its fd, or -1 with
 * errno. */
int epoll_with_listener(int lfd, uint32_t events);

/* The blocking echo loop: recv() at most chunk bytes (up to 65536) at a
 * time and write_all() them back, until the client's EOF (returns 0: all it
 * sent has been echoed) or a connection error such as a reset (-1).  EINTR
 * is retried.  Does not close fd. */
int echo_blocking(int fd, size_t chunk);

/* Output queued on a non-blocking socket: bytes received but not yet sent
 * back, data[off .. off+len).  Zero-initialise; grows on demand and gives
 * back large allocations once drained. */
struct outbuf {
    char *data;
    size_t off, len, cap;
};

/* Sends p[0..n) after whatever is queued: straight to the socket when
 * nothing is queued, and queues what the socket does not take.  Never
 * drops bytes.  Returns 0, or -1 on a connection error or ENOMEM. */
int outbuf_send(int fd, struct outbuf *b, const void *p, size_t n);

/* Sends queued bytes until the queue is empty or the socket is full
 * (EAGAIN).  Returns 0, or -1 on a connection error. */
int outbuf_flush(int fd, struct outbuf *b);

void outbuf_free(struct outbuf *b);

/* One recv() of up to 64 KiB from non-blocking fd; whatever arrives is sent
 * back with outbuf_send().  Sets *eof at the client's EOF.  Returns 0, or -1
 * when the connection is over (an error such as a reset, or ENOMEM). */
int echo_recv(int fd, struct outbuf *out, int *eof);

/* Prints "PROGRAM: message" to stderr. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
