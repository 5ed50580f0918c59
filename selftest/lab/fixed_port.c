/* fixed_port.c: a correct fork-per-client echo server on a hard-coded port.
 *
 * It listens on SERV_PORT (9877, the port of Stevens' UNIX Network
 * Programming examples) whatever its arguments say.  Not a bug for the
 * suite: it finds the server's listening socket, checks it there and says
 * so.  Stevens' tcpserv04 otherwise: the SIGCHLD handler loops on waitpid().
 *
 * usage: fixed_port [anything]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERV_PORT 9877
#define LISTENQ 1024
#define MAXLINE 4096

static void sig_chld(int signo)
{
    int stat, saved = errno;

    (void)signo;
    while (waitpid(-1, &stat, WNOHANG) > 0)
        ;
    errno = saved;
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

static void str_echo(int sockfd)
{
    ssize_t n;
    char buf[MAXLINE];

again:
    while ((n = read(sockfd, buf, MAXLINE)) > 0)
        if (write(sockfd, buf, n) != n)
            return;
    if (n < 0 && errno == EINTR)
        goto again;
}

int main(void)
{
    int listenfd, connfd, on = 1;
    pid_t childpid;
    socklen_t clilen;
    struct sockaddr_in cliaddr, servaddr;
    struct sigaction act;

    signal(SIGTERM, sig_term);
    act.sa_handler = sig_chld;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &act, 0);

    listenfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_ANY);
    servaddr.sin_port = htons(SERV_PORT);
    if (bind(listenfd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0)
        exit(1);
    listen(listenfd, LISTENQ);

    for (;;) {
        clilen = sizeof(cliaddr);
        if ((connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen)) < 0)
            continue; /* EINTR (SIGCHLD) included */
        if ((childpid = fork()) == 0) { /* child process */
            signal(SIGTERM, SIG_DFL);
            close(listenfd);
            str_echo(connfd);
            exit(0);
        }
        close(connfd); /* parent closes connected socket */
    }
}
