/* The floor of a generator run, for scripts/bench-generator.py: the system calls that any
 * generator reading these sources and writing these units must make, and nothing else.
 *
 * Usage: bench-floor SOURCES MANIFEST OUT
 *   SOURCES   the directory of sources: each regular file in it is opened, read and closed
 *             (through the directory's fd, as rootlet does);
 *   MANIFEST  what a generator wrote there, one line each, in this order: `d NAME` (a
 *             subdirectory), `f SIZE NAME` (a unit of SIZE bytes), `l NAME TARGET` (a
 *             symlink); written by the benchmark from a real run's output;
 *   OUT       the output directory (empty): the same tree is made again, each unit created
 *             (O_CREAT|O_EXCL), written in one write and closed, each link one symlinkat.
 *
 * No parsing, no translating, no rendering: the CPU time of this program is what the
 * kernel charges for the files alone, which quadlet and rootlet both pay. A generator's
 * ratio beside quadlet cannot exceed this program's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: bench-floor SOURCES MANIFEST OUT\n"); return 2; }
    static char buf[1 << 20], body[1 << 20];
    memset(body, 'x', sizeof body);
    DIR *d = opendir(argv[1]);
    if (!d) die(argv[1]);
    int sfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_REG) continue;
        int f = openat(sfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (f < 0) die(e->d_name);
        while (read(f, buf, sizeof buf) > 0) {}
        close(f);
    }
    int out = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out < 0) die(argv[3]);
    FILE *m = fopen(argv[2], "r");
    if (!m) die(argv[2]);
    char line[8192], a[4096], b[4096], dir_name[4096] = "";
    long size;
    int dir_fd = -1;
    while (fgets(line, sizeof line, m)) {
        if (sscanf(line, "d %4095s", a) == 1) {
            if (mkdirat(out, a, 0755)) die(a);
        } else if (sscanf(line, "f %ld %4095s", &size, a) == 2) {
            if (size < 0 || size > (long)sizeof body) { fprintf(stderr, "bad size\n"); return 1; }
            int f = openat(out, a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (f < 0) die(a);
            if (write(f, body, (size_t)size) != size) die(a);
            close(f);
        } else if (sscanf(line, "l %4095s %4095s", a, b) == 2) {
            /* Relative to its directory, opened once (as rootlet does). */
            char *slash = strrchr(a, '/');
            int at = out;
            if (slash) {
                *slash = 0;
                if (strcmp(a, dir_name) != 0) {
                    if (dir_fd >= 0) close(dir_fd);
                    dir_fd = openat(out, a, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                    if (dir_fd < 0) die(a);
                    snprintf(dir_name, sizeof dir_name, "%s", a);
                }
                at = dir_fd;
            }
            if (symlinkat(b, at, slash ? slash + 1 : a)) die(b);
        }
    }
    return 0;
}
