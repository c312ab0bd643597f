/* The reference for scripts/bench-proxy.sh: the plainest TCP relay there is. Two blocking threads
 * per connection, each copying one direction through a 256 KiB buffer; TCP_NODELAY on both legs;
 * a FIN is passed on as shutdown(SHUT_WR). Usage: relay UPSTREAM_PORT  (prints its own port). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER = 256 * 1024 };

struct pipe_ends { int from, to; int *remaining; pthread_mutex_t *lock; int peer_from, peer_to; };

static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }

static void *copy(void *argument) {
    struct pipe_ends *ends = argument;
    char *buffer = malloc(BUFFER);
    for (;;) {
        ssize_t n = read(ends->from, buffer, BUFFER);
        if (n <= 0) break;
        for (ssize_t sent = 0; sent < n;) {
            ssize_t w = write(ends->to, buffer + sent, (size_t)(n - sent));
            if (w <= 0) { n = -1; break; }
            sent += w;
        }
        if (n < 0) break;
    }
    shutdown(ends->to, SHUT_WR);
    free(buffer);
    pthread_mutex_lock(ends->lock);
    int last = --*ends->remaining == 0;
    pthread_mutex_unlock(ends->lock);
    if (last) { close(ends->from); close(ends->to); free(ends->remaining); free(ends->lock); }
    free(ends);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: relay UPSTREAM_PORT\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 4096)) { perror("listen"); return 1; }
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    printf("%d\n", ntohs(address.sin_port));
    fflush(stdout);
    struct sockaddr_in upstream = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons((uint16_t)atoi(argv[1])) };
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        int server = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(server, (struct sockaddr *)&upstream, sizeof upstream)) { close(client); close(server); continue; }
        nodelay(client);
        nodelay(server);
        int *remaining = malloc(sizeof *remaining);
        *remaining = 2;
        pthread_mutex_t *lock = malloc(sizeof *lock);
        pthread_mutex_init(lock, NULL);
        struct pipe_ends *up = malloc(sizeof *up), *down = malloc(sizeof *down);
        *up = (struct pipe_ends){ client, server, remaining, lock };
        *down = (struct pipe_ends){ server, client, remaining, lock };
        pthread_t thread;
        pthread_create(&thread, &attributes, copy, up);
        pthread_create(&thread, &attributes, copy, down);
    }
}
