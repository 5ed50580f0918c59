/* Plumbing shared by the bundled C servers: argument parsing, listening
 * sockets, complete writes and SIGTERM handling.  Every server is started as
 *     PROGRAM PORT [HOST]
 * where HOST defaults to 127.0.0.1 and may be an IPv6 literal such as ::1. */
#ifndef SOCKCHECK_NET_H
#define SOCKCHECK_NET_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Set by the SIGTERM handler that install_sigterm() installs. */
extern volatile sig_atomic_t stop_requested;

/* Parses PORT [HOST]; exits with status 2 and a usage line on bad input. */
void parse_args(int argc, char **argv, const char **host, int *port);

/* A listening TCP socket on host:port.  reuseaddr selects SO_REUSEADDR,
 * which every correct server sets so that it can restart while old
 * connections sit in TIME_WAIT.  Exits with status 1 on failure. */
int tcp_listen(const char *host, int port, int reuseaddr, int backlog);

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

/* Prints "PROGRAM: message" to stderr. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
