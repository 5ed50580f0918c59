/*
 * c10k_client: the work of the tcp.limits.c10k check, in C, as a yardstick for the Python driver.
 *
 *   c10k_client HOST PORT [COUNT [IN_FLIGHT]]      (defaults: 10000 connections, 512 in flight)
 *
 * Phase 1 opens COUNT non-blocking connections with at most IN_FLIGHT
 * handshakes pending, watched by one epoll instance, and keeps them open.
 * Phase 2 sends 16 bytes of its own on every connection at once and reads
 * them back, again through epoll.  The same shape as sockcheck.net.crowd
 * open_many() + converse(), so the two times compare like for like.
 *
 * Prints one JSON object: connections, connect_seconds, total_seconds,
 * rate (connections per second of phase 1) and echoed.  Exit status 1 when
 * a connection fails, an echo is wrong, or 30 s pass.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 16
#define DEADLINE_SECONDS 30.0
#define EVENTS 1024

struct conn {
    int fd;
    char want[PAYLOAD];
    char got[PAYLOAD];
    int sent;
    int received;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, int err, int index)
{
    printf("{\"error\": \"%s: %s\", \"connection\": %d}\n", what, strerror(err), index);
    exit(1);
}

/* One epoll_wait until the deadline; a timeout fails the phase, naming how far it got. */
static int wait_events(int ep, struct epoll_event *events, double deadline, const char *phase, int progress)
{
    double left = deadline - now();
    if (left <= 0)
        fail(phase, ETIMEDOUT, progress);
    int n = epoll_wait(ep, events, EVENTS, (int)(left * 1000) + 1);
    if (n < 0 && errno != EINTR)
        fail("epoll_wait", errno, progress);
    return n < 0 ? 0 : n;
}

/* 10,000 sockets need more descriptors than the usual soft limit of 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [COUNT [IN_FLIGHT]]\n", argv[0]);
        return 2;
    }
    int count = argc > 3 ? atoi(argv[3]) : 10000;
    int in_flight = argc > 4 ? atoi(argv[4]) : 512;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (count <= 0 || in_flight <= 0 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "%s: bad HOST, PORT, COUNT or IN_FLIGHT\n", argv[0]);
        return 2;
    }
    raise_nofile();
    struct conn *conns = calloc((size_t)count, sizeof *conns);
    int ep = epoll_create1(0);
    if (!conns || ep < 0)
        fail("setup", errno, 0);
    struct epoll_event events[EVENTS];
    double started = now();
    double deadline = started + DEADLINE_SECONDS;

    /* Phase 1: connect, IN_FLIGHT at a time.  ev.data.u32 is the connection's index. */
    int opened = 0, connected = 0, pending = 0;
    while (connected < count) {
        while (pending < in_flight && opened < count) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0)
                fail("socket", errno, opened);
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
                fail("connect", errno, opened);
            conns[opened].fd = fd;
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (unsigned)opened};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                fail("epoll_ctl", errno, opened);
            opened++;
            pending++;
        }
        int n = wait_events(ep, events, deadline, "connect phase", connected);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[events[i].data.u32];
            int err = 0;
            socklen_t len = sizeof err;
            /* As the Python driver: a failed handshake raises EPOLLERR; only then ask SO_ERROR. */
            if (events[i].events & (EPOLLERR | EPOLLHUP))
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err)
                fail("connect", err, (int)events[i].data.u32);
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            pending--;
            connected++;
        }
    }
    double connect_seconds = now() - started;

    /* Phase 2: every connection sends its 16 bytes and reads them back, all at once.
     * The first send needs no EPOLLOUT: a connected socket has room (as converse()). */
    for (int i = 0; i < count; i++) {
        struct conn *c = &conns[i];
        snprintf(c->want, PAYLOAD, "c10k-%010d", i);
        c->want[PAYLOAD - 1] = '\n';
        ssize_t w = send(c->fd, c->want, PAYLOAD, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
            fail("send", errno, i);
        if (w > 0)
            c->sent = (int)w;
        struct epoll_event ev = {.events = EPOLLIN | (c->sent < PAYLOAD ? EPOLLOUT : 0), .data.u32 = (unsigned)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            fail("epoll_ctl", errno, i);
    }
    int done = 0, echoed = 0;
    while (done < count) {
        int n = wait_events(ep, events, deadline, "round trips", done);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[events[i].data.u32];
            if ((events[i].events & EPOLLOUT) && c->sent < PAYLOAD) {
                ssize_t w = send(c->fd, c->want + c->sent, (size_t)(PAYLOAD - c->sent), MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN)
                    fail("send", errno, (int)events[i].data.u32);
                if (w > 0)
                    c->sent += (int)w;
                if (c->sent == PAYLOAD) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[i].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(c->fd, c->got + c->received, (size_t)(PAYLOAD - c->received), 0);
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (r > 0)
                    c->received += (int)r;
                if (r <= 0 || c->received == PAYLOAD) {
                    if (c->received == PAYLOAD && memcmp(c->got, c->want, PAYLOAD) == 0)
                        echoed++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    done++;
                }
            }
        }
    }
    double total_seconds = now() - started;
    for (int i = 0; i < count; i++)
        close(conns[i].fd);
    printf("{\"connections\": %d, \"connect_seconds\": %.4f, \"total_seconds\": %.4f, \"rate\": %.0f, "
           "\"echoed\": %d}\n", count, connect_seconds, total_seconds, count / connect_seconds, echoed);
    free(conns);
    return echoed == count ? 0 : 1;
}
