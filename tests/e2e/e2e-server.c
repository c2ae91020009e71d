/* The program of the end-to-end tests: one line per connection saying what it received
 * from the service manager and who connected:
 *   LISTEN_FDS=1 LISTEN_FDNAMES=echo LISTEN_PID=1 PID=1 PEER=127.0.0.7:54321
 * Socket-activated when LISTEN_FDS is set (serves fd 3), else listens on the port given
 * as its argument. Built static so that it runs in a busybox rootfs; handles SIGTERM
 * itself, as PID 1 of a container must. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID"), *nm = getenv("LISTEN_FDNAMES");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    int lfd = 3, nfds = fds ? atoi(fds) : 1;
    if (nfds < 1 || nfds > 16) nfds = 1;
    if (!fds) {
        if (argc < 2) { fprintf(stderr, "usage: e2e-server PORT (or socket activation)\n"); return 2; }
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
        if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 16)) { perror("bind"); return 1; }
    }
    fprintf(stderr, "e2e-server: LISTEN_FDS=%s LISTEN_FDNAMES=%s LISTEN_PID=%s PID=%d\n",
            fds ? fds : "-", nm ? nm : "-", pid ? pid : "-", (int)getpid());
    for (;;) {
        /* Every passed socket is served. */
        struct pollfd pfd[16];
        for (int i = 0; i < nfds; i++) pfd[i] = (struct pollfd){.fd = fds ? 3 + i : lfd, .events = POLLIN};
        if (poll(pfd, nfds, -1) < 0) { perror("poll"); return 1; }
        int ready = lfd;
        for (int i = 0; i < nfds; i++) if (pfd[i].revents) { ready = pfd[i].fd; break; }
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int c = accept(ready, (struct sockaddr *)&peer, &len);
        if (c < 0) { perror("accept"); return 1; }
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (peer.ss_family == AF_INET) {
            struct sockaddr_in *p = (struct sockaddr_in *)&peer;
            inet_ntop(AF_INET, &p->sin_addr, host, sizeof host);
            port = ntohs(p->sin_port);
        } else if (peer.ss_family == AF_INET6) {
            struct sockaddr_in6 *p = (struct sockaddr_in6 *)&peer;
            inet_ntop(AF_INET6, &p->sin6_addr, host, sizeof host);
            port = ntohs(p->sin6_port);
        }
        char buf[512];
        int n = snprintf(buf, sizeof buf, "LISTEN_FDS=%s LISTEN_FDNAMES=%s LISTEN_PID=%s PID=%d PEER=%s:%d\n",
                         fds ? fds : "-", nm ? nm : "-", pid ? pid : "-", (int)getpid(), host, port);
        (void)!write(c, buf, n);
        /* Read what the client sent before closing, or its unread request makes the
           close a reset. */
        shutdown(c, SHUT_WR);
        struct timeval tv = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char sink[1024];
        while (read(c, sink, sizeof sink) > 0) {}
        close(c);
    }
}
