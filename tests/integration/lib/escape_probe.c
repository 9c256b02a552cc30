/* escape_probe OP [ARG]: one escape attempt from inside a container. Prints
 * "ok" when the operation worked, else the errno's name (EPERM, EROFS, …),
 * so a test can assert the specific refusal. OPs:
 *   root           /proc/1/root, `..` out of / and a chroot break-out all
 *                  end at the container's root: prints "same" or "escaped"
 *   mount          mount a tmpfs on /mnt
 *   mount_cgroup   mount the cgroup v1 memory controller on /mnt
 *   handle         open_by_handle_at with a forged handle (the "shocker" exploit)
 *   init_module    init_module with an empty image
 *   finit_module   finit_module of /dev/null
 *   userns         unshare(CLONE_NEWUSER)
 *   clone_userns   clone(CLONE_NEWUSER)
 *   keyctl         keyctl(KEYCTL_GET_KEYRING_ID, session keyring)
 *   add_key        add_key("user", …)
 *   openw PATH     open PATH for writing (O_CREAT)
 *   mkdir PATH     mkdir PATH
 *   rlimit         lower RLIMIT_NOFILE's hard limit to 512, then raise it to 1024
 *   ptrace PID     PTRACE_ATTACH to PID
 *   fds [PID]      the open descriptors of PID (default: itself), space-separated */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int result(long rc) {
    if (rc < 0) printf("%s\n", strerrorname_np(errno));
    else printf("ok\n");
    return 0;
}

static int same(const struct stat* a, const struct stat* b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int root_checks(void) {
    struct stat root, other;
    if (stat("/", &root) < 0) return result(-1);
    const char* verdict = "same";
    if (stat("/proc/1/root/", &other) < 0 || !same(&root, &other)) verdict = "escaped(/proc/1/root)";
    if (chdir("/") < 0) return result(-1);
    for (int i = 0; i < 64; ++i)
        if (chdir("..") < 0) return result(-1);
    if (stat(".", &other) < 0 || !same(&root, &other)) verdict = "escaped(..)";
    /* The classic chroot break-out (CAP_SYS_CHROOT is a default capability). */
    mkdir("/tmp/escape-jail", 0755);
    if (chroot("/tmp/escape-jail") < 0) return result(-1);
    for (int i = 0; i < 64; ++i)
        if (chdir("..") < 0) return result(-1);
    if (chroot(".") < 0) return result(-1);
    if (stat("/", &other) < 0 || !same(&root, &other)) verdict = "escaped(chroot)";
    printf("%s\n", verdict);
    return 0;
}

static int forged_handle(void) {
    struct {
        struct file_handle fh;
        unsigned char bytes[8];
    } h;
    memset(&h, 0, sizeof h);
    h.fh.handle_bytes = 8;
    h.fh.handle_type = 1;  /* FILEID_INO32_GEN: inode 2, the root of an ext4 file system */
    h.bytes[0] = 2;
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    return result(syscall(SYS_open_by_handle_at, dir, &h.fh, O_RDONLY));
}

static int clone_userns(void) {
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0);
    return result(pid);
}

static int fds(const char* pid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%s/fd", pid);
    DIR* d = opendir(p);
    if (!d) return result(-1);
    int self = !strcmp(pid, "self");
    struct dirent* e;
    const char* sep = "";
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (self && atoi(e->d_name) == dirfd(d)) continue;
        printf("%s%s", sep, e->d_name);
        sep = " ";
    }
    printf("\n");
    closedir(d);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const char* op = argv[1];
    const char* arg = argc > 2 ? argv[2] : NULL;
    if (!strcmp(op, "root")) return root_checks();
    if (!strcmp(op, "mount")) return result(mount("tmpfs", "/mnt", "tmpfs", 0, NULL));
    if (!strcmp(op, "mount_cgroup")) return result(mount("cgroup", "/mnt", "cgroup", 0, "memory"));
    if (!strcmp(op, "handle")) return forged_handle();
    if (!strcmp(op, "init_module")) return result(syscall(SYS_init_module, "", 0UL, ""));
    if (!strcmp(op, "finit_module")) {
        int fd = open("/dev/null", O_RDONLY);
        return result(syscall(SYS_finit_module, fd, "", 0));
    }
    if (!strcmp(op, "userns")) return result(unshare(CLONE_NEWUSER));
    if (!strcmp(op, "clone_userns")) return clone_userns();
    if (!strcmp(op, "keyctl")) return result(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1));
    if (!strcmp(op, "add_key")) return result(syscall(SYS_add_key, "user", "escape", "x", 1, -3));
    if (!strcmp(op, "openw") && arg) return result(open(arg, O_WRONLY | O_CREAT, 0644));
    if (!strcmp(op, "mkdir") && arg) return result(mkdir(arg, 0755));
    if (!strcmp(op, "rlimit")) {
        /* Lowering is allowed; raising the hard limit back needs CAP_SYS_RESOURCE
         * (above fs.nr_open it fails for anyone, so stay below it). */
        struct rlimit low = {512, 512}, high = {1024, 1024};
        if (setrlimit(RLIMIT_NOFILE, &low) < 0) return result(-1);
        return result(setrlimit(RLIMIT_NOFILE, &high));
    }
    if (!strcmp(op, "ptrace") && arg) {
        long rc = ptrace(PTRACE_ATTACH, atoi(arg), 0, 0);
        if (rc == 0) ptrace(PTRACE_DETACH, atoi(arg), 0, 0);
        return result(rc);
    }
    if (!strcmp(op, "fds")) return fds(arg ? arg : "self");
    return 2;
}
