// Scratch dirs, overlay mounts and layer commits of the builder's filesystem steps.
#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "build/builder_internal.h"
#include "images/layer_writer.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <random>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::build::detail {

std::vector<std::string> layer_dirs(const images::Store& store, const ImageState& st) {
    std::vector<std::string> out;
    for (auto it = st.layers.rbegin(); it != st.layers.rend(); ++it) out.push_back(store.layer_dir(it->diff_id));
    return out;
}

bool path_in_layers(const std::vector<std::string>& layers, const std::string& rel) {
    struct stat st {};
    for (const auto& l : layers)
        if (::lstat((l + "/" + rel).c_str(), &st) == 0) return !(S_ISCHR(st.st_mode) && st.st_rdev == 0);
    return false;
}

std::string now_rfc3339() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void add_history(ImageState& st, const std::string& by, bool empty_layer, const std::string& created) {
    nlohmann::json& h = st.config["history"];
    if (!h.is_array()) h = nlohmann::json::array();
    std::string when = created;
    if (when.empty()) when = st.config.value("created", std::string("1970-01-01T00:00:00Z"));
    nlohmann::json e = {{"created", when}, {"created_by", by}, {"comment", "buildkit.dockerfile.v0"}};
    if (empty_layer) e["empty_layer"] = true;
    h.push_back(e);
    st.config["created"] = when;
}

ScratchDir::ScratchDir(const std::string& root) {
    std::random_device rd;
    char name[32];
    std::snprintf(name, sizeof name, "%08x%08x", rd(), rd());
    name_ = name;
    // Made hidden, locked, then named: a sweep never takes a dir of a live build for a dead one's.
    std::string hidden = root + "/build-tmp/." + name_;
    path_ = root + "/build-tmp/" + name_;
    files::create_directories(hidden);
    lock_ = UniqueFd(::open(hidden.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock_ || ::flock(lock_.get(), LOCK_EX) < 0 || ::rename(hidden.c_str(), path_.c_str()) < 0) {
        int err = errno;
        ::rmdir(hidden.c_str());
        throw Error::sys(err, "make the build's scratch dir " + path_);
    }
}

ScratchDir::~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) spdlog::warn("remove {}: {}", path_, ec.message());
}

std::string ScratchDir::sub(const std::string& name) const {
    std::string p = path_ + "/" + name;
    files::create_directories(p);
    return p;
}

OverlayMount::OverlayMount(const std::vector<std::string>& lowers, const ScratchDir& dir, bool writable) {
    std::string lower;
    for (const auto& l : lowers) lower += (lower.empty() ? "" : ":") + l;
    // Overlay needs a lower dir, and two when there is no upper.
    if (lowers.size() < (writable ? 1u : 2u)) lower += (lower.empty() ? "" : ":") + dir.sub("empty");
    std::string opts = "lowerdir=" + lower;
    if (writable) {
        upper_ = dir.sub("upper");
        opts += ",upperdir=" + upper_ + ",workdir=" + dir.sub("work");
    }
    if (opts.size() >= 4096) throw Error("too many layers for one overlay mount", "use fewer RUN/COPY steps, or a shorter BERTH_ROOT");
    merged_ = dir.sub("merged");
    if (::mount("overlay", merged_.c_str(), "overlay", writable ? 0 : MS_RDONLY, opts.c_str()) < 0)
        throw Error::sys(errno, "mount overlay on " + merged_);
}

OverlayMount::~OverlayMount() {
    if (::umount2(merged_.c_str(), 0) < 0 && ::umount2(merged_.c_str(), MNT_DETACH) < 0)
        spdlog::warn("unmount {}: {}", merged_, std::strerror(errno));
}

std::optional<images::BuiltLayer> commit_layer(images::Store& store, const std::string& upper, const ScratchDir& dir) {
    if (files::is_empty(upper)) return std::nullopt;
    std::string tmp = dir.path() + "/layer.tar";
    images::LayerInfo info = images::write_layer(upper, tmp, images::LayerOptions{false, false});
    images::BuiltLayer l{info.digest, info.diff_id, info.size, "application/vnd.oci.image.layer.v1.tar"};
    store.adopt_layer(tmp, upper, l);
    return l;
}

Interrupts::Interrupts() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, &old_);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

Interrupts::~Interrupts() {
    if (fd_ >= 0) ::close(fd_);
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

bool Interrupts::pending() const {
    signalfd_siginfo si{};
    if (fd_ >= 0 && ::read(fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) hit_ = true;
    return hit_;
}

void Interrupts::check() const {
    if (pending()) throw_interrupted();
}

void throw_interrupted() {
    Error e("build interrupted");
    e.set_exit_status(130);
    throw e;
}

void run_in_root(const std::string& root, const std::function<void()>& fn) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw Error::sys(errno, "fork");
    if (pid == 0) {
        rd.reset();
        std::string msg;
        try {
            if (::chroot(root.c_str()) < 0 || ::chdir("/") < 0) throw Error::sys(errno, "chroot " + root);
            ::umask(0);
            fn();
        } catch (const std::exception& e) {
            msg = e.what();
            if (msg.empty()) msg = "failed";
        }
        if (!msg.empty()) {
            ssize_t w = ::write(wr.get(), msg.data(), msg.size());
            (void)w;
        }
        ::_exit(msg.empty() ? 0 : 1);
    }
    wr.reset();
    std::string msg;
    char buf[4096];
    for (ssize_t n; (n = ::read(rd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        msg.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!msg.empty()) throw Error(msg);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("the copy process failed");
}

}  // namespace berth::build::detail
