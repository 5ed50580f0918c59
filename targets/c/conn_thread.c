/* Plumbing shared by the thread-per-connection servers; see conn_thread.h. */
#define _GNU_SOURCE
#include "conn_thread.h"
#include "net.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int start_conn_thread(void *(*serve)(void *arg), int fd)
{
    static pthread_attr_t attr;
    static int attr_set = 0;
    pthread_t tid;

    if (!attr_set) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        attr_set = 1;
    }
    int err = pthread_create(&tid, &attr, serve, (void *)(intptr_t)fd);
    if (err != 0) {
        log_msg("pthread_create: %s, dropping a connection", strerror(err));
        close(fd);
        return -1;
    }
    return 0;
}
