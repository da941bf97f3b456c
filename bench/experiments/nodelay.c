// Experiment, not part of the benchmark: an LD_PRELOAD shim that sets TCP_NODELAY on
// every socket the process accepts, which is what actix-web's
// `HttpServer::tcp_nodelay(true)` would do (actix-web 4 leaves Nagle's algorithm on
// unless told). It tests the hypothesis of docs/benchmarks.md without changing
// Switchboard:
//
//   gcc -shared -fPIC -O2 -o /tmp/nodelay.so bench/experiments/nodelay.c -ldl
//   SB_PRELOAD=/tmp/nodelay.so bench/run.sh echo stream
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
    if (fd >= 0) {
        int one = 1;
        // Fails harmlessly (EOPNOTSUPP) on Unix sockets.
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int accept4(int s, struct sockaddr *addr, socklen_t *len, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = dlsym(RTLD_NEXT, "accept4");
    int fd = real(s, addr, len, flags);
    nodelay(fd);
    return fd;
}

int accept(int s, struct sockaddr *addr, socklen_t *len) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = dlsym(RTLD_NEXT, "accept");
    int fd = real(s, addr, len);
    nodelay(fd);
    return fd;
}
