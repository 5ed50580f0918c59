/* iterative_five.c: an iterative echo server that serves five clients and
 * exits.
 *
 * BUG: the accept loop is for (i = 0; i < 5; i++), as in the first example of
 * many textbooks: the sixth client finds nobody listening (connection
 * refused), and a client already waiting in the listen queue is reset when
 * the listening socket closes.
 * Seen by every check that needs a sixth client: tcp.concurrency.parallel
 * and burst-accept, tcp.process.fd-leak, tcp.limits.select-fd.
 * Fixed twin: iterative_forever.c.
 *
 * usage: iterative_five PORT [HOST]
 */
#include <arpa/inet.h>
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

int main(int argc, char *argv[])
{
    int serv_sock, clnt_sock, i, on = 1;
    ssize_t str_len;
    struct sockaddr_in serv_adr, clnt_adr;
    socklen_t clnt_adr_sz;
    char message[BUF_SIZE];

    if (argc < 2) {
        printf("Usage : %s <port> [host]\n", argv[0]);
        exit(1);
    }
    /* A write to a client that reset its connection raises SIGPIPE, which
     * would end the server. */
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

    clnt_adr_sz = sizeof(clnt_adr);
    for (i = 0; i < 5; i++) { /* BUG: five clients, then the server is gone */
        clnt_sock = accept(serv_sock, (struct sockaddr *)&clnt_adr, &clnt_adr_sz);
        if (clnt_sock == -1)
            error_handling("accept() error");
        printf("Connected client %d \n", i + 1);
        fflush(stdout);

        while ((str_len = read(clnt_sock, message, BUF_SIZE)) > 0)
            if (write(clnt_sock, message, str_len) != str_len)
                break;
        close(clnt_sock);
    }
    close(serv_sock);
    return 0;
}
