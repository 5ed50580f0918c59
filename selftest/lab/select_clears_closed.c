/* select_clears_closed.c: select_keeps_closed.c fixed: when read() returns
 * 0 (the client's FIN) or fails, the server removes the descriptor from its
 * read set and closes it, which sends the server's FIN.
 *
 * usage: select_clears_closed PORT [HOST]
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
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
    int serv_sock, clnt_sock, fd_max, fd_num, i, on = 1;
    ssize_t str_len;
    struct sockaddr_in serv_adr, clnt_adr;
    socklen_t adr_sz;
    fd_set reads, cpy_reads;
    char buf[BUF_SIZE];

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
    if (listen(serv_sock, 128) == -1)
        error_handling("listen() error");

    FD_ZERO(&reads);
    FD_SET(serv_sock, &reads);
    fd_max = serv_sock;

    for (;;) {
        cpy_reads = reads;
        if ((fd_num = select(fd_max + 1, &cpy_reads, 0, 0, NULL)) == -1)
            continue;
        for (i = 0; i < fd_max + 1; i++) {
            if (!FD_ISSET(i, &cpy_reads))
                continue;
            if (i == serv_sock) { /* connection request */
                adr_sz = sizeof(clnt_adr);
                clnt_sock = accept(serv_sock, (struct sockaddr *)&clnt_adr, &adr_sz);
                if (clnt_sock == -1)
                    continue;
                if (clnt_sock >= FD_SETSIZE) { /* no room in an fd_set */
                    close(clnt_sock);
                    continue;
                }
                FD_SET(clnt_sock, &reads);
                if (fd_max < clnt_sock)
                    fd_max = clnt_sock;
            } else { /* read message */
                str_len = read(i, buf, BUF_SIZE);
                if (str_len <= 0) { /* close request (or reset) */
                    FD_CLR(i, &reads);
                    close(i);
                    continue;
                }
                write(i, buf, str_len);
            }
        }
    }
    close(serv_sock);
    return 0;
}
