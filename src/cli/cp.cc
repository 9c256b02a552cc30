// `berth cp SERVICE:SRC DEST` and `berth cp SRC SERVICE:DEST`: files between
// the host and a running container, as a tar stream over a pipe. The
// container side runs in a forked child that joined the container's mount
// namespace, so paths (and symlinks) resolve inside the container and never
// escape to the host; extraction refuses "..", absolute names and links out.
#include "base/error.h"
#include "base/fd.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "images/extract.h"
#include "state/state.h"

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace fs = std::filesystem;

namespace berth::cli {
namespace {

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

// Writes `src` (a file or a tree; symlinks kept as links) to `fd` as tar,
// every name starting with the last component of `src`.
void write_tar(const std::string& src, int fd) {
    std::string path = src;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    std::string base = fs::path(path).filename().string();
    if (base.empty() || base == "/") base = ".";
    ArchivePtr out(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(out.get());
    if (archive_write_open_fd(out.get(), fd) != ARCHIVE_OK) throw Error(images::archive_message(out.get()));
    ArchivePtr disk(archive_read_disk_new(), archive_read_free);
    archive_read_disk_set_symlink_physical(disk.get());
    archive_read_disk_set_standard_lookup(disk.get());
    if (archive_read_disk_open(disk.get(), path.c_str()) != ARCHIVE_OK)
        throw Error(std::string(images::archive_message(disk.get())), "check the path");
    for (;;) {
        archive_entry* e = archive_entry_new();
        int r = archive_read_next_header2(disk.get(), e);
        if (r == ARCHIVE_EOF) {
            archive_entry_free(e);
            break;
        }
        if (r < ARCHIVE_WARN) {
            std::string msg = images::archive_message(disk.get());
            archive_entry_free(e);
            throw Error(msg);
        }
        archive_read_disk_descend(disk.get());
        std::string p = archive_entry_pathname(e);
        std::string rel = p.size() > path.size() ? p.substr(path.size()) : "";
        if (!rel.empty() && rel[0] != '/') rel = "/" + rel;
        archive_entry_set_pathname(e, (base + rel).c_str());
        if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
            std::string msg = images::archive_message(out.get());
            archive_entry_free(e);
            throw Error(msg);
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
            int in = ::open(archive_entry_sourcepath(e), O_RDONLY | O_CLOEXEC);
            if (in >= 0) {
                char buf[65536];
                ssize_t n;
                while ((n = ::read(in, buf, sizeof buf)) > 0) archive_write_data(out.get(), buf, static_cast<size_t>(n));
                ::close(in);
            }
        }
        archive_entry_free(e);
    }
    archive_write_close(out.get());
}

// Reads tar from `fd` and writes it at `dest` (absolute): into it when it is a
// directory, else as `dest` itself (the archive's top entry renamed), as cp does.
void read_tar(int fd, const std::string& dest, bool keep_owner) {
    ArchivePtr in(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(in.get());
    if (archive_read_open_fd(in.get(), fd, 65536) != ARCHIVE_OK) throw Error(images::archive_message(in.get()));
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
    while (archive_read_next_header(in.get(), &e) == ARCHIVE_OK) {
        std::string p = archive_entry_pathname(e);
        std::string top = p.substr(0, p.find('/'));
        std::string rest = p.substr(top.size());
        std::string name = into ? (target.empty() ? p : target + "/" + p) : target + rest;
        archive_entry_set_pathname(e, name.c_str());
        if (archive_write_header(disk.get(), e) < ARCHIVE_WARN)
            throw Error(std::string("cannot write ") + "/" + name + ": " + images::archive_message(disk.get()));
        const void* buf;
        size_t size;
        la_int64_t off;
        while (archive_read_data_block(in.get(), &buf, &size, &off) == ARCHIVE_OK)
            archive_write_data_block(disk.get(), buf, size, off);
        archive_write_finish_entry(disk.get());
    }
    archive_write_close(disk.get());
}

// Runs `fn` in a child that joined the mount namespace of `pid`; returns its pid.
// The child closes `parents_end` (the parent's end of their pipe: else, the
// parent killed, the child would wait forever for an EOF or a reader) and dies
// with the parent.
template <class F>
pid_t in_container(int pid, int parents_end, F fn) {
    UniqueFd ns(::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw Error::sys(errno, "open the container's mount namespace");
    pid_t parent = ::getpid();
    pid_t child = fork();
    if (child < 0) throw Error::sys(errno, "fork");  // ns closes itself
    if (child == 0) {
        ::close(parents_end);
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || ::getppid() != parent) _exit(1);  // (already gone)
        try {
            if (setns(ns.get(), CLONE_NEWNS) < 0) throw Error::sys(errno, "join the container's mount namespace");
            fn();
            _exit(0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            _exit(1);
        }
    }
    return child;
}

int wait_child(pid_t child) {
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int cp_command(const GlobalOptions& g, const std::string& from, const std::string& to, int index, bool archive_mode) {
    auto split = [](const std::string& s) -> std::pair<std::string, std::string> {
        auto colon = s.find(':');
        if (colon == std::string::npos || colon == 0 || s[0] == '/' || s[0] == '.') return {"", s};
        return {s.substr(0, colon), s.substr(colon + 1)};
    };
    auto [fsvc, fpath] = split(from);
    auto [tsvc, tpath] = split(to);
    if (fsvc.empty() == tsvc.empty())
        throw Error("berth cp copies between a container and the host",
                    "write SERVICE:PATH on exactly one side: berth cp web:/etc/hosts ./hosts");
    std::string service = fsvc.empty() ? tsvc : fsvc;
    compose::Project project = load_project(g);
    int pid = 0;
    for (const auto& r : state::ProjectState(state::runtime_dir(), project.name).read_all())
        if (r.service == service && r.index == index && state::process_alive(r.pid, r.pid_start_time)) pid = r.pid;
    if (!pid) throw Error("service \"" + service + "\" has no running container with index " + std::to_string(index),
                          "start it with `berth up -d " + service + "`");
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
    if (!fsvc.empty()) {
        // Container → host.
        std::string src = fpath.empty() || fpath[0] != '/' ? "/" + fpath : fpath;
        std::string dest = fs::absolute(tpath).lexically_normal().string();
        int wfd = p[1];
        pid_t child = in_container(pid, p[0], [&] { write_tar(src, wfd); });
        ::close(p[1]);
        try {
            read_tar(p[0], dest, true);
        } catch (...) {
            ::close(p[0]);
            wait_child(child);
            throw;
        }
        ::close(p[0]);
        if (wait_child(child) != 0) return 1;
        return 0;
    }
    // Host → container.
    std::string src = fs::absolute(fpath).lexically_normal().string();
    if (!fs::exists(fs::symlink_status(src))) throw Error("no such file or directory: " + fpath);
    std::string dest = tpath.empty() || tpath[0] != '/' ? "/" + tpath : tpath;
    int rfd = p[0];
    pid_t child = in_container(pid, p[1], [&] { read_tar(rfd, fs::path(dest).lexically_normal().string(), archive_mode); });
    ::close(p[0]);
    try {
        write_tar(src, p[1]);
    } catch (...) {
        ::close(p[1]);
        wait_child(child);
        throw;
    }
    ::close(p[1]);
    return wait_child(child) != 0 ? 1 : 0;
}

}  // namespace

void add_cp_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("cp", "Copy files between a running container and the host");
    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto index = std::make_shared<int>(1);
    auto archive_mode = std::make_shared<bool>(false);
    cmd->add_option("SRC", *from, "SERVICE:PATH or a host path")->required();
    cmd->add_option("DEST", *to, "a host path or SERVICE:PATH")->required();
    cmd->add_option("--index", *index, "Which replica (default 1)");
    cmd->add_flag("-a,--archive", *archive_mode, "Keep the files' owners when copying into the container");
    cmd->callback([&cli, from, to, index, archive_mode] {
        cli.action = [&cli, from, to, index, archive_mode] {
            return cp_command(cli.global, *from, *to, *index, *archive_mode);
        };
    });
}

}  // namespace berth::cli
