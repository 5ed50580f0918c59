/* fork_waitpid_once.c: a fork-per-client echo server whose SIGCHLD handler
 * calls waitpid() once.
 *
 * BUG: one waitpid() per SIGCHLD.  Signals are not queued: children that exit
 * together (clients that disconnect at once) may raise a single SIGCHLD, and
 * the handler reaps one of them; the rest stay zombies.  Loop instead:
 * while (waitpid(-1, &stat, WNOHANG) > 0).
 * Exposed by: tcp.process.zombies.  Fixed twin: fork_waitpid_loop.c.
 *
 * usage: fork_waitpid_once PORT [HOST]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF_SIZE 4096

static void error_handling(const char *msg)
{
    perror(msg);
    exit(1);
}

/* SIGTERM comes to this process only: take the children (our process group:
 * the shell's job, or the session the suite starts) along, or they go on
 * serving their clients as orphans. */
static void sig_term(int signo)
{
    (void)signo;
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM);
    _exit(0);
}

static void sig_chld(int signo)
{
    int stat, saved = errno;
    pid_t pid;

    (void)signo;
    pid = waitpid(-1, &stat, WNOHANG); /* BUG: one child per signal */
    printf("child %d terminated\n", (int)pid); /* as Stevens' sig_chld prints it */
    fflush(stdout);
    errno = saved;
}

static void str_echo(int sockfd)
{
    ssize_t n;
    char buf[BUF_SIZE];

    while ((n = read(sockfd, buf, BUF_SIZE)) > 0)
        if (write(sockfd, buf, n) != n)
            return;
}

int main(int argc, char *argv[])
{
    int serv_sock, clnt_sock, on = 1;
    struct sockaddr_in serv_adr, clnt_adr;
    socklen_t adr_sz;
    pid_t pid;
    struct sigaction act;

    if (argc < 2) {
        printf("Usage : %s <port> [host]\n", argv[0]);
        exit(1);
    }
    signal(SIGTERM, sig_term);
    act.sa_handler = sig_chld;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &act, 0);

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

    for (;;) {
        adr_sz = sizeof(clnt_adr);
        clnt_sock = accept(serv_sock, (struct sockaddr *)&clnt_adr, &adr_sz);
        if (clnt_sock == -1)
            continue; /* EINTR (SIGCHLD) included */
        pid = fork();
        if (pid == -1) {
            close(clnt_sock);
            continue;
        }
        if (pid == 0) { /* child */
            signal(SIGTERM, SIG_DFL);
            close(serv_sock);
            str_echo(clnt_sock);
            close(clnt_sock);
            exit(0);
        }
        close(clnt_sock);
    }
    return 0;
}
