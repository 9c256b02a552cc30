// The tar streams of `berth cp` and the worker that runs them inside a
// container's mount namespace (see copy.h).
#include "runtime/copy.h"

#include "base/error.h"
#include "base/fd.h"

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;

namespace berth::runtime {
namespace {

// libarchive's message for its last error (it may have none).
std::string message_of(archive* a) {
    const char* m = archive_error_string(a);
    return m ? m : "unknown archive error";
}

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

// One file's bytes into the tar being written: a file that cannot be read, or
// a stream that cannot be written (the other side gone), is an error, not a
// file silently left short (the tar would pad it with zeros). The name is
// opened O_PATH (no device's open runs) and read only if it is still a regular
// file: a container may swap it for a symlink or a device node meanwhile, and
// the worker, outside the container's device cgroup, must not read /dev/mem.
// `proc`: the host's /proc, to reopen the O_PATH fd for reading.
void copy_data(const std::string& source, archive* out, int proc) {
    UniqueFd at(::open(source.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!at) throw Error::sys(errno, "open " + source);
    struct stat st {};
    if (::fstat(at.get(), &st) < 0) throw Error::sys(errno, "stat " + source);
    if (!S_ISREG(st.st_mode)) throw Error(source + " changed while it was copied: it is no longer a regular file");
    UniqueFd in(::openat(proc, ("self/fd/" + std::to_string(at.get())).c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw Error::sys(errno, "open " + source);
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + source);
        if (n == 0) return;
        if (archive_write_data(out, buf, static_cast<size_t>(n)) < 0) throw Error(message_of(out));
    }
}

// Writes `src` (a file or a tree; symlinks kept as links) to `fd` as tar,
// every name starting with the last component of `src`.
void write_tar(const std::string& src, int fd, int proc) {
    std::string path = src;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    std::string base = fs::path(path).filename().string();
    if (base.empty() || base == "/") base = ".";
    ArchivePtr out(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(out.get());
    if (archive_write_open_fd(out.get(), fd) != ARCHIVE_OK) throw Error(message_of(out.get()));
    ArchivePtr disk(archive_read_disk_new(), archive_read_free);
    archive_read_disk_set_symlink_physical(disk.get());
    archive_read_disk_set_standard_lookup(disk.get());
    if (archive_read_disk_open(disk.get(), path.c_str()) != ARCHIVE_OK)
        throw Error(message_of(disk.get()), "check the path");
    for (;;) {
        archive_entry* e = archive_entry_new();
        int r = archive_read_next_header2(disk.get(), e);
        if (r == ARCHIVE_EOF) {
            archive_entry_free(e);
            break;
        }
        if (r < ARCHIVE_WARN) {
            std::string msg = message_of(disk.get());
            archive_entry_free(e);
            throw Error(msg);
        }
        archive_read_disk_descend(disk.get());
        std::string p = archive_entry_pathname(e);
        std::string rel = p.size() > path.size() ? p.substr(path.size()) : "";
        if (!rel.empty() && rel[0] != '/') rel = "/" + rel;
        archive_entry_set_pathname(e, (base + rel).c_str());
        if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
            std::string msg = message_of(out.get());
            archive_entry_free(e);
            throw Error(msg);
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
            std::string source = archive_entry_sourcepath(e);
            archive_entry_free(e);
            copy_data(source, out.get(), proc);
            continue;
        }
        archive_entry_free(e);
    }
    if (archive_write_close(out.get()) != ARCHIVE_OK) throw Error(message_of(out.get()));
}

// Reads tar from `fd` and writes it at `dest` (absolute): into it when it is a
// directory, else as `dest` itself (the archive's top entry renamed), as cp does.
// `devices` false (the host's side): device nodes are left out, with a warning;
// a container makes any node it likes (mknod), and its device cgroup stays behind.
void read_tar(int fd, const std::string& dest, bool keep_owner, bool devices) {
    ArchivePtr in(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(in.get());
    if (archive_read_open_fd(in.get(), fd, 65536) != ARCHIVE_OK) throw Error(message_of(in.get()));
    ArchivePtr disk(archive_write_disk_new(), archive_write_free);
    int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
    if (keep_owner) flags |= ARCHIVE_EXTRACT_OWNER;
    archive_write_disk_set_options(disk.get(), flags);
    archive_write_disk_set_standard_lookup(disk.get());
    bool into = fs::is_directory(dest);
    if (::chdir("/") < 0) throw Error::sys(errno, "chdir /");
    std::string target = dest.substr(1);  // relative to "/": absolute names are refused on purpose
    archive_entry* e;
    for (;;) {
        int r = archive_read_next_header(in.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) throw Error("the copied files' stream: " + message_of(in.get()));
        std::string p = archive_entry_pathname(e);
        if (!devices && (archive_entry_filetype(e) == AE_IFCHR || archive_entry_filetype(e) == AE_IFBLK)) {
            spdlog::warn("{} not copied: it is a device node", p);
            continue;
        }
        std::string top = p.substr(0, p.find('/'));
        std::string rest = p.substr(top.size());
        std::string name = into ? (target.empty() ? p : target + "/" + p) : target + rest;
        archive_entry_set_pathname(e, name.c_str());
        auto cannot_write = [&] { return Error("cannot write /" + name + ": " + message_of(disk.get())); };
        if (archive_write_header(disk.get(), e) < ARCHIVE_WARN) throw cannot_write();
        const void* buf;
        size_t size;
        la_int64_t off;
        // A failed write (a full disk) fails the copy: no truncated file reported as copied.
        // (libarchive says ARCHIVE_WARN when write(2) fails.)
        for (;;) {
            r = archive_read_data_block(in.get(), &buf, &size, &off);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) throw Error("the copied files' stream: " + message_of(in.get()));
            if (archive_write_data_block(disk.get(), buf, size, off) != ARCHIVE_OK) throw cannot_write();
        }
        if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN) throw cannot_write();
    }
    if (archive_write_close(disk.get()) < ARCHIVE_WARN) throw Error("cannot write " + dest + ": " + message_of(disk.get()));
}

// The mount points of procfs instances in `mountinfo` (this process's), deepest first.
std::vector<std::string> proc_mounts(const std::string& mountinfo) {
    std::vector<std::string> out;
    std::istringstream lines(mountinfo);
    std::string line;
    while (std::getline(lines, line)) {  // "ID PARENT MAJ:MIN ROOT MOUNTPOINT … - TYPE …"
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        f >> id >> parent >> dev >> root >> point;
        auto dash = line.find(" - ");
        if (dash == std::string::npos || line.compare(dash + 3, 5, "proc ") != 0) continue;
        std::string path;  // octal escapes: \040 is a space
        for (size_t i = 0; i < point.size(); ++i) {
            if (point[i] == '\\' && i + 3 < point.size()) {
                path += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
                i += 3;
            } else {
                path += point[i];
            }
        }
        out.push_back(path);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return out;
}

// The worker joined the container's mount namespace as host root with every
// capability: setns() set its root and cwd to the container's root, so "/",
// ".." and absolute symlinks resolve inside the container. Magic links do not:
// /proc/PID/fd/N (and root, cwd) of a process in the container's pid namespace
// name whatever that process holds, which may be a host file or directory (a
// `berth exec` helper holds the supervisor's fds until its execve), and the
// worker passes the ptrace checks a container process fails. So the worker
// takes a mount namespace of its own, a private copy of the container's, and
// detaches every procfs from it: no path it resolves can cross a magic link.
// The files it reads and writes are the container's, the same superblocks.
void confine(int host_proc) {
    if (::unshare(CLONE_NEWNS) < 0) throw Error::sys(errno, "make the copy's own mount namespace");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        throw Error::sys(errno, "make the copy's mounts private");
    UniqueFd info(::openat(host_proc, "self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!info) throw Error::sys(errno, "read the container's mounts");
    for (const auto& m : proc_mounts(read_all(info.get())))
        if (::umount2(m.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            throw Error::sys(errno, "hide " + m + " from the copy");
}

// A worker that joined the mount namespace of `pid` and runs `fn` there. Its
// failure comes back as the message written on an error pipe. It closes
// `parents_end` (the parent's end of their data pipe: else, the parent
// killed, it would wait forever for an EOF or a reader) and dies with the
// parent.
//
// It also dies with the container. Its mount namespace holds the container's
// root, so a copy that outlived the container would go on reading and writing
// the container's upper dir after the container's teardown, when that dir may
// be a new container's (a spare dir, runtime/spare.cc). So the worker runs in
// the container's pid namespace, forked by a go-between that joined it: when
// the container's PID 1 dies, the kernel kills every process of the namespace,
// and PID 1 is reaped only after the go-between has reaped the worker.
// (`pid: host` has no namespace of its own: there, this does not hold.)
class Worker {
public:
    template <class F>
    Worker(pid_t pid, int parents_end, int host_proc, F fn) {
        UniqueFd ns(::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) throw Error::sys(errno, "open the container's mount namespace");
        UniqueFd pid_ns(::open(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC));
        if (!pid_ns) throw Error::sys(errno, "open the container's pid namespace");
        Pipe err = make_pipe();
        pid_t parent = ::getpid();
        child_ = ::fork();
        if (child_ < 0) throw Error::sys(errno, "fork");  // every fd here is owned: none leaks
        if (child_ == 0) {
            err.read.reset();
            ::close(parents_end);
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || ::getppid() != parent) ::_exit(1);  // (already gone)
            ::signal(SIGPIPE, SIG_DFL);  // the parent gave up reading: its error is the one to report
            try {
                go_between(pid_ns.get(), ns.get(), err.write.get());
                if (::setns(ns.get(), CLONE_NEWNS) < 0) throw Error::sys(errno, "join the container's mount namespace");
                confine(host_proc);
                fn();
                ::_exit(0);
            } catch (const std::exception& e) {
                write_all(err.write.get(), e.what());
                ::_exit(1);
            }
        }
        err_ = std::move(err.read);
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    ~Worker() {
        if (child_ > 0) wait();
    }

    // Waits for the worker; throws its error when it failed.
    void finish() {
        std::string msg = read_all(err_.get(), 4096);
        int st = wait();
        if (!msg.empty()) throw Error(msg);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw Error("the copy inside the container failed");
    }
    // This side failed (its end of the data pipe closed by now, so the worker
    // cannot block on it): waits for the worker and throws its message when
    // it has one (the first failure, e.g. a missing source), else returns.
    void finish_after_failure() {
        std::string msg = read_all(err_.get(), 4096);
        wait();
        if (!msg.empty()) throw Error(msg);
    }

private:
    // In the forked child: joins the pid namespace `pid_ns` and forks the worker into it, which
    // returns; this process stays outside, waits for the worker and leaves with its status.
    // The worker's parent is outside its namespace, so it sees 0 as its parent's pid (the
    // go-between's own under `pid: host`; another once orphaned: then it leaves). Killed
    // (SIGKILL), the worker was most likely ended with its container: that is the message.
    // It keeps no hold on the container's namespaces while it waits (`mnt_ns`: closed).
    static void go_between(int pid_ns, int mnt_ns, int err_fd) {
        if (::setns(pid_ns, CLONE_NEWPID) < 0) throw Error::sys(errno, "join the container's pid namespace");
        pid_t self = ::getpid();
        pid_t worker = ::fork();
        if (worker < 0) throw Error::sys(errno, "fork");
        if (worker == 0) {
            // Seen by the container's processes now: none may ptrace it or read its /proc files.
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || ::prctl(PR_SET_DUMPABLE, 0) < 0) ::_exit(1);
            if (pid_t ppid = ::getppid(); ppid != 0 && ppid != self) ::_exit(1);
            return;
        }
        ::close(mnt_ns);
        ::close(pid_ns);
        int st = 0;
        while (::waitpid(worker, &st, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(st)) ::_exit(WEXITSTATUS(st));
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) write_all(err_fd, "the container stopped during the copy");
        ::_exit(1);
    }

    int wait() {
        int st = 0;
        while (::waitpid(child_, &st, 0) < 0 && errno == EINTR) {
        }
        child_ = -1;
        return st;
    }
    pid_t child_ = -1;
    UniqueFd err_;
};

// Blocks SIGPIPE in this thread while it lives, so a write to a pipe whose
// reader is gone fails with EPIPE instead of killing berth; a SIGPIPE raised
// meanwhile is discarded on the way out.
class NoSigpipe {
public:
    NoSigpipe() {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &s, &old_);
    }
    ~NoSigpipe() {
        if (!sigismember(&old_, SIGPIPE)) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGPIPE);
            timespec zero{};
            while (::sigtimedwait(&s, nullptr, &zero) == SIGPIPE) {
            }
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    NoSigpipe(const NoSigpipe&) = delete;
    NoSigpipe& operator=(const NoSigpipe&) = delete;

private:
    sigset_t old_{};
};

// Reads the rest of a pipe to its end. The reading side of a copy stops at the archive's end
// marker, but the writer's last block (end marker and padding, 10 KiB) is more than a pipe
// takes at once: the writer may still be writing it. Closing the pipe then would kill it
// (SIGPIPE) or fail it (EPIPE), and the copy that had worked would be reported as failed.
void drain(int fd) {
    char sink[16384];
    for (;;) {
        ssize_t n = ::read(fd, sink, sizeof sink);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        return;
    }
}

}  // namespace

namespace {

// The host's /proc (copy_data reopens through it), opened before the worker leaves the host's namespace.
UniqueFd open_host_proc() {
    UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!proc) throw Error::sys(errno, "open /proc");
    return proc;
}

}  // namespace

void copy_out_of(pid_t pid, const std::string& src, const std::string& dest) {
    UniqueFd proc = open_host_proc();
    Pipe p = make_pipe();
    int wfd = p.write.get();
    Worker w(pid, p.read.get(), proc.get(), [&] { write_tar(src, wfd, proc.get()); });
    p.write.reset();
    try {
        read_tar(p.read.get(), dest, true, false);
    } catch (...) {
        p.read.reset();  // else a worker with more to write blocks on the full pipe while we wait for it
        w.finish_after_failure();
        throw;
    }
    drain(p.read.get());
    p.read.reset();
    w.finish();
}

void copy_into(pid_t pid, const std::string& src, const std::string& dest, bool keep_owner) {
    if (!fs::exists(fs::symlink_status(src))) throw Error("no such file or directory: " + src);
    UniqueFd proc = open_host_proc();
    Pipe p = make_pipe();
    int rfd = p.read.get();
    Worker w(pid, p.write.get(), proc.get(), [&] {
        read_tar(rfd, dest, keep_owner, true);
        drain(rfd);
    });
    p.read.reset();
    try {
        NoSigpipe guard;  // the worker failing first closes the pipe: EPIPE here, then its error below
        write_tar(src, p.write.get(), proc.get());
    } catch (...) {
        p.write.reset();
        w.finish();  // the container's side failing first (a broken pipe here): its error
        throw;
    }
    p.write.reset();
    w.finish();
}

}  // namespace berth::runtime
