/* The load generator of scripts/bench-socket.sh: the same client, at the same cost, for
 * every column (the proxy, the container published directly, native socket activation).
 * One new TCP connection per request, as a browser without keep-alive or a health check
 * makes them: connect, send `GET / HTTP/1.0`, read the reply to its end, close. An
 * answer is a reply starting `HTTP/1.x 200` (busybox httpd) or `LISTEN_FDS=` (the e2e
 * test server, which is not HTTP but reads the request and answers one line).
 *
 *   bench-socket load HOST PORT SECONDS CONNECTIONS
 *       CONNECTIONS threads in a closed loop for SECONDS; prints
 *       `requests N errors N rps X p50 X p90 X p99 X` (latencies in ms).
 *   bench-socket cold HOST PORT TIMEOUT [CMD ARG...]
 *       starts CMD (if given) and, from the same instant, sends a request every 10 ms
 *       (a refused, reset or empty one is retried) until one is answered; prints
 *       `ms X tries N`. Exit 1 if nothing was answered within TIMEOUT s or CMD failed.
 *
 * Why not wrk or ab: the e2e server's reply is not HTTP, and the sandbox has no network to
 * fetch them with; this is a few dozen lines and costs every column the same. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static atomic_int stop;
/* How long one request may wait for its connection and answer: a cold start through a
   socket answers the first request only once the container is up. */
static int patience = 10;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* One request on a new connection; 1 if it was answered. */
static int request(void) {
    static const char req[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
    if (fd < 0) return 0;
    struct timeval tv = {patience, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        char buf[4096], head[16] = "";
        size_t got = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) {
            if (got < sizeof head - 1) {
                size_t k = sizeof head - 1 - got < (size_t)n ? sizeof head - 1 - got : (size_t)n;
                memcpy(head + got, buf, k);
                head[got + k] = 0;
            }
            got += n;
        }
        ok = n == 0 && ((strncmp(head, "HTTP/1.", 7) == 0 && strncmp(head + 8, " 200", 4) == 0) ||
                        strncmp(head, "LISTEN_FDS=", 11) == 0);
    }
    close(fd);
    return ok;
}

struct worker {
    pthread_t t;
    float *lat; /* ms */
    size_t n, cap;
    long errors;
};

static void *work(void *p) {
    struct worker *w = p;
    while (!atomic_load(&stop)) {
        double t0 = now();
        if (!request()) { w->errors++; continue; }
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            if (!w->lat) { perror("realloc"); exit(2); }
        }
        w->lat[w->n++] = (float)((now() - t0) * 1e3);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int load(double secs, int conns) {
    struct worker *w = calloc(conns, sizeof *w);
    if (!w) return 2;
    double t0 = now();
    for (int i = 0; i < conns; i++) pthread_create(&w[i].t, NULL, work, &w[i]);
    struct timespec d = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < conns; i++) { pthread_join(w[i].t, NULL); total += w[i].n; errors += w[i].errors; }
    double el = now() - t0;
    float *all = malloc((total ? total : 1) * sizeof *all);
    if (!all) return 2;
    size_t k = 0;
    for (int i = 0; i < conns; i++) { memcpy(all + k, w[i].lat, w[i].n * sizeof *all); k += w[i].n; }
    qsort(all, total, sizeof *all, cmp);
#define PCT(p) (total ? all[(size_t)((p) * (total - 1))] : 0.0)
    printf("requests %zu errors %ld rps %.1f p50 %.3f p90 %.3f p99 %.3f\n", total, errors, total / el,
           PCT(0.50), PCT(0.90), PCT(0.99));
    return total ? 0 : 1;
}

static int cold(double timeout, char **cmd) {
    double t0 = now();
    patience = (int)timeout;
    pid_t pid = 0;
    if (cmd[0]) {
        pid = fork();
        if (pid == 0) { execvp(cmd[0], cmd); perror(cmd[0]); _exit(127); }
        if (pid < 0) { perror("fork"); return 1; }
    }
    int tries = 0, ok = 0;
    while (now() - t0 < timeout) {
        tries++;
        if ((ok = request())) break;
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    double ms = (now() - t0) * 1e3;
    int st = 0;
    if (pid > 0 && (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        fprintf(stderr, "bench-socket: %s failed\n", cmd[0]);
        ok = 0;
    }
    if (!ok) { fprintf(stderr, "bench-socket: nothing answered within %.0f s (%d tries)\n", timeout, tries); return 1; }
    printf("ms %.1f tries %d\n", ms, tries);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5 || (strcmp(argv[1], "load") && strcmp(argv[1], "cold")) || (!strcmp(argv[1], "load") && argc != 6)) {
        fprintf(stderr, "usage: bench-socket load HOST PORT SECONDS CONNECTIONS\n"
                        "       bench-socket cold HOST PORT TIMEOUT [CMD ARG...]\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", argv[2]); return 2; }
    if (!strcmp(argv[1], "load")) return load(atof(argv[4]), atoi(argv[5]));
    return cold(atof(argv[4]), argv + 5);
}
