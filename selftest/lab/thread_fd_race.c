/* thread_fd_race.c: a thread-per-client echo server that hands each thread
 * the address of the accept loop's variable.
 *
 * BUG: pthread_create(&t_id, NULL, handle_clnt, (void *)&clnt_sock).  The
 * thread reads *arg only once it runs; if the main thread has accepted the
 * next client into clnt_sock by then, two threads serve the same socket and
 * the earlier client is served by nobody, and never closed.  Pass the value
 * itself instead.
 * Exposed by: tcp.concurrency.parallel and tcp.concurrency.burst-accept
 * (clients connected and never served).  Fixed twin: thread_fd_copy.c.
 *
 * usage: thread_fd_race PORT [HOST]
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 4096

static void error_handling(const char *msg)
{
    perror(msg);
    exit(1);
}

static void *handle_clnt(void *arg)
{
    int clnt_sock = *((int *)arg); /* BUG: may be the next client's by now */
    ssize_t str_len;
    char buf[BUF_SIZE];

    while ((str_len = read(clnt_sock, buf, sizeof(buf))) > 0)
        if (write(clnt_sock, buf, str_len) != str_len)
            break;
    close(clnt_sock);
    return NULL;
}

int main(int argc, char *argv[])
{
    int serv_sock, clnt_sock, on = 1;
    struct sockaddr_in serv_adr, clnt_adr;
    socklen_t clnt_adr_sz;
    pthread_t t_id;

    if (argc < 2) {
        printf("Usage : %s <port> [host]\n", argv[0]);
        exit(1);
    }
    /* A write to a client that reset its connection raises SIGPIPE, which
     * would end the server, every client with it. */
    signal(SIGPIPE, SIG_IGN);

    serv_sock = socket(PF_INET, SOCK_STREAM, 0);
    setsockopt(serv_sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    memset(&serv_adr, 0, sizeof(serv_adr));
    serv_adr.sin_family = AF_INET;
    serv_adr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (argc > 2 && inet_pton(AF_INET, argv[2], &serv_adr.sin_addr) != 1)
        error_handling("inet_pton() error");
    serv_adr.sin_port = htons(atoi(argv[1]));
    if (bind(serv_sock, (struct sockaddr *)&serv_adr, sizeof(serv_adr)) == -1)
        error_handling("bind() error");
    if (listen(serv_sock, 5) == -1)
        error_handling("listen() error");

    for (;;) {
        clnt_adr_sz = sizeof(clnt_adr);
        clnt_sock = accept(serv_sock, (struct sockaddr *)&clnt_adr, &clnt_adr_sz);
        if (clnt_sock == -1)
            continue;
        if (pthread_create(&t_id, NULL, handle_clnt, (void *)&clnt_sock) != 0) { /* BUG: &clnt_sock */
            close(clnt_sock);
            continue;
        }
        pthread_detach(t_id);
    }
    close(serv_sock);
    return 0;
}
