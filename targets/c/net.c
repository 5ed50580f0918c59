/* Plumbing shared by the bundled C servers; see net.h. */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t stop_requested = 0;

/* Spare descriptor given up by accept_client() when out of descriptors. */
static int reserve_fd = -1;

/* See block_stop_signals(). */
static sigset_t wait_mask;
static int wait_mask_set = 0;

void log_msg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void parse_args(int argc, char **argv, const char **host, int *port)
{
    char *end = NULL;
    long value;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [HOST]\n", argv[0]);
        exit(2);
    }
    value = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || value < 1 || value > 65535) {
        fprintf(stderr, "%s: bad port '%s'\n", argv[0], argv[1]);
        exit(2);
    }
    *port = (int)value;
    *host = argc == 3 ? argv[2] : "127.0.0.1";
}

/* Fills a sockaddr for host:port; returns its length and the family. */
static socklen_t make_addr(const char *host, int port,
                           struct sockaddr_storage *ss, int *family)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((unsigned short)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            log_msg("bad IPv6 address '%s'", host);
            exit(2);
        }
        *family = AF_INET6;
        return sizeof(*a6);
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
        log_msg("bad IPv4 address '%s'", host);
        exit(2);
    }
    *family = AF_INET;
    return sizeof(*a4);
}

static int bound_socket(const char *host, int port, int type, int reuseaddr)
{
    struct sockaddr_storage ss;
    int family, fd, one = 1;
    socklen_t len = make_addr(host, port, &ss, &family);

    fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_msg("socket: %s", strerror(errno));
        exit(1);
    }
    if (reuseaddr &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        log_msg("setsockopt(SO_REUSEADDR): %s", strerror(errno));
        exit(1);
    }
    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        log_msg("bind %s port %d: %s", host, port, strerror(errno));
        exit(1);
    }
    return fd;
}

int tcp_listen(const char *host, int port, int reuseaddr, int backlog)
{
    int fd = bound_socket(host, port, SOCK_STREAM, reuseaddr);

    if (listen(fd, backlog) < 0) {
        log_msg("listen: %s", strerror(errno));
        exit(1);
    }
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_msg("listening on %s port %d (tcp)", host, port);
    return fd;
}

int tcp_server_start(int argc, char **argv, int backlog)
{
    const char *host;
    int port;

    parse_args(argc, argv, &host, &port);
    install_sigterm();
    block_stop_signals();
    int lfd = tcp_listen(host, port, 1, backlog);
    if (set_nonblocking(lfd) < 0) {
        log_msg("set_nonblocking: %s", strerror(errno));
        exit(1);
    }
    return lfd;
}

int udp_bind(const char *host, int port)
{
    int fd = bound_socket(host, port, SOCK_DGRAM, 0);

    log_msg("bound to %s port %d (udp)", host, port);
    return fd;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);

    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

void install_sigterm(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void block_stop_signals(void)
{
    sigset_t stop;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    wait_mask_set = 1;
}

const sigset_t *stop_wait_mask(void)
{
    if (!wait_mask_set) { /* not blocked: sleep with the current mask */
        pthread_sigmask(SIG_SETMASK, NULL, &wait_mask);
        wait_mask_set = 1;
    }
    return &wait_mask;
}

int wait_fd(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        if (stop_requested) {
            errno = EINTR;
            return -1;
        }
        int n = ppoll(&pfd, 1, NULL, stop_wait_mask());
        if (n > 0)
            return pfd.revents;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int wait_pollfds(struct pollfd *pfds, nfds_t n,
                 const struct timespec *timeout)
{
    int ready = ppoll(pfds, n, timeout, stop_wait_mask());

    if (ready < 0 && errno != EINTR) {
        log_msg("poll: %s", strerror(errno));
        exit(1);
    }
    return ready;
}

int wait_epoll(int epfd, struct epoll_event *events, int max)
{
    int n = epoll_pwait(epfd, events, max, -1, stop_wait_mask());

    if (n < 0 && errno != EINTR) {
        log_msg("epoll_pwait: %s", strerror(errno));
        exit(1);
    }
    return n;
}

int accept_client(int lfd, int flags)
{
    static int warned = 0;
    int fd = accept4(lfd, NULL, NULL, flags);

    if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || reserve_fd < 0)
        return fd;
    if (!warned) {
        log_msg("out of file descriptors: dropping new connections");
        warned = 1;
    }
    close(reserve_fd);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int saved = fd >= 0 ? ECONNABORTED : errno;
    if (fd >= 0)
        close(fd);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* Still out of descriptors: report "nothing pending" so no loop spins. */
    errno = (saved == EMFILE || saved == ENFILE) ? EAGAIN : saved;
    return -1;
}

int accept_next(int lfd, int flags)
{
    while (wait_fd(lfd, POLLIN) >= 0) {
        int fd = accept_client(lfd, flags);
        if (fd >= 0)
            return fd;
    }
    return -1;
}

int accept_or_pause(int lfd, int flags)
{
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    struct timespec pause_ts = {0, 100 * 1000 * 1000};
    int fd;

    if (ppoll(&pfd, 1, NULL, stop_wait_mask()) < 0) {
        if (errno != EINTR)
            log_msg("poll: %s", strerror(errno));
        return -1;
    }
    fd = accept4(lfd, NULL, NULL, flags);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM)) {
        /* Out of descriptors: wait instead of spinning. */
        log_msg("accept: %s (pausing)", strerror(errno));
        ppoll(NULL, 0, &pause_ts, stop_wait_mask());
    }
    return fd; /* -1 also for EAGAIN, ECONNABORTED, EINTR ... */
}

int pollfds_reserve(struct pollfd **pfds, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 0;
    struct pollfd *p = realloc(*pfds, 2 * n * sizeof(*p));
    if (p == NULL)
        return -1;
    *pfds = p;
    *cap = 2 * n;
    return 0;
}

int epoll_with_listener(int lfd, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = NULL};
    int epfd = epoll_create1(EPOLL_CLOEXEC);

    if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) < 0) {
        int saved = errno;
        close(epfd);
        errno = saved;
        return -1;
    }
    return epfd;
}

int echo_blocking(int fd, size_t chunk)
{
    char buf[65536];

    if (chunk > sizeof(buf))
        chunk = sizeof(buf);
    for (;;) {
        ssize_t n = recv(fd, buf, chunk, 0);
        if (n > 0) {
            if (write_all(fd, buf, (size_t)n) < 0)
                return -1; /* peer gone (EPIPE/ECONNRESET) */
        } else if (n == 0) {
            return 0; /* EOF: everything it sent has been echoed */
        } else if (errno != EINTR) {
            return -1; /* ECONNRESET etc. */
        }
    }
}

/* A drained buffer bigger than this is freed rather than kept per idle
 * connection. */
#define OUTBUF_KEEP (64 * 1024)

static int outbuf_append(struct outbuf *b, const char *p, size_t n)
{
    if (b->off + b->len + n > b->cap) {
        if (b->off > 0) {
            memmove(b->data, b->data + b->off, b->len);
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + n)
                cap *= 2;
            char *d = realloc(b->data, cap);
            if (d == NULL)
                return -1;
            b->data = d;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

int outbuf_send(int fd, struct outbuf *b, const void *buf, size_t n)
{
    const char *p = buf;

    if (b->len == 0) {
        for (;;) {
            ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w >= 0) {
                p += w;
                n -= (size_t)w;
                break;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno != EINTR)
                return -1;
        }
    }
    return n > 0 ? outbuf_append(b, p, n) : 0;
}

int outbuf_flush(int fd, struct outbuf *b)
{
    while (b->len > 0) {
        ssize_t w = send(fd, b->data + b->off, b->len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            b->off += (size_t)w;
            b->len -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else if (!(w < 0 && errno == EINTR)) {
            return -1;
        }
    }
    b->off = 0;
    if (b->cap > OUTBUF_KEEP)
        outbuf_free(b);
    return 0;
}

void outbuf_free(struct outbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

int echo_recv(int fd, struct outbuf *out, int *eof)
{
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

    if (n > 0)
        return outbuf_send(fd, out, chunk, (size_t)n);
    if (n == 0) {
        *eof = 1;
        return 0;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0
                                                                       : -1;
}
