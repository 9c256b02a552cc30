#include "notify/notify.h"

#include "base/uv_handle.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <uv.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace berth::notify {

std::string status_line(const std::map<std::string, ContainerStatus>& containers) {
    size_t up = 0, checked = 0, healthy = 0, waiting_count = 0;
    std::string waiting;
    for (const auto& [name, c] : containers) {
        bool completed = c.state == "exited" && c.exit_code.value_or(-1) == 0;
        bool running = c.state == "running";
        if (running || completed) ++up;
        if (!c.health.empty()) ++checked;
        if (running && c.health == "healthy") ++healthy;
        bool there = completed || (running && (c.health.empty() || c.health == "healthy"));
        if (!there && ++waiting_count <= kStatusNames) waiting += (waiting.empty() ? "" : ", ") + name;
    }
    if (waiting_count > kStatusNames) waiting += " and " + std::to_string(waiting_count - kStatusNames) + " more";
    std::string line = std::to_string(up) + "/" + std::to_string(containers.size()) + " running";
    if (checked) line += ", " + std::to_string(healthy) + "/" + std::to_string(checked) + " healthy";
    if (!waiting.empty()) line += ", waiting for " + waiting;
    return line;
}

std::optional<std::pair<sockaddr_un, socklen_t>> socket_address(const std::string& name) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (name.size() < 2 || name.size() >= sizeof a.sun_path || (name[0] != '/' && name[0] != '@')) return std::nullopt;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';  // abstract: no terminating NUL counts
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
    return std::make_pair(a, len);
}

bool is_journal_stream(int fd) {
    const char* js = std::getenv("JOURNAL_STREAM");
    struct stat st{};
    if (!js || ::fstat(fd, &st) != 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

std::unique_ptr<Notifier> Notifier::from_environment(bool keep_environment) {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    if (!sock || !*sock) return nullptr;
    std::string name = sock;
    uint64_t usec = 0;
    if (const char* w = std::getenv("WATCHDOG_USEC")) {
        const char* pid = std::getenv("WATCHDOG_PID");
        if (!pid || std::strtoll(pid, nullptr, 10) == ::getpid()) usec = std::strtoull(w, nullptr, 10);
    }
    if (!keep_environment)
        for (const char* v : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) ::unsetenv(v);
    if (!socket_address(name)) {
        spdlog::warn("NOTIFY_SOCKET={}: not an absolute path or @abstract name; not notifying systemd", name);
        return nullptr;
    }
    return std::make_unique<Notifier>(name, usec);
}

Notifier::Notifier(const std::string& socket, uint64_t watchdog_usec) : watchdog_usec_(watchdog_usec) {
    if (auto a = socket_address(socket)) std::tie(addr_, addr_len_) = *a;
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_ || !addr_len_) broken_ = true;
}

Notifier::~Notifier() { stop(); }

bool Notifier::send(std::string_view message) {
    if (broken_) return false;
    ssize_t n;
    do {
        n = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return true;
    if (errno == EAGAIN) return false;  // systemd is busy: a later message carries the state again
    spdlog::warn("cannot notify systemd: {}", std::strerror(errno));
    broken_ = true;
    return false;
}

void Notifier::container(const std::string& name, ContainerStatus status) {
    containers_[name] = std::move(status);
    if (started_) send_status();
}

void Notifier::send_status() {
    std::string line = status_line(containers_);
    if (line == last_status_ || stopping_) return;
    last_status_ = line;
    std::string msg = "STATUS=" + line;
    if (!ready_) msg += "\nEXTEND_TIMEOUT_USEC=" + std::to_string(kExtendUsec);
    send(msg);
}

void Notifier::preparing(const std::string& what) {
    if (started_ || ready_ || stopping_) return;
    auto now = std::chrono::steady_clock::now();
    std::string extend = "EXTEND_TIMEOUT_USEC=" + std::to_string(kExtendUsec);
    if (what != last_status_) {
        last_status_ = what;
        send("STATUS=" + what + "\n" + extend);
    } else if (now - last_extend_ >= std::chrono::seconds(1)) {
        send(extend);
    } else {
        return;
    }
    last_extend_ = now;
}

void Notifier::ready() {
    if (ready_) return;
    ready_ = true;
    last_status_ = status_line(containers_);
    send("READY=1\nSTATUS=" + last_status_);
}

void Notifier::failed(const std::string& error) {
    std::string one_line = error.substr(0, error.find('\n'));
    send("STATUS=failed: " + one_line);
}

void Notifier::stopping() {
    if (stopping_) return;
    stopping_ = true;
    send("STOPPING=1\nSTATUS=stopping");
}

void Notifier::start(uv_loop_s* loop) {
    if (started_) return;
    started_ = true;
    send_status();
    if (!watchdog_usec_) return;
    timer_ = new_handle<uv_timer_t>();
    uv_timer_init(loop, timer_);
    timer_->data = this;
    uint64_t ms = std::max<uint64_t>(watchdog_usec_ / 2000, 1);
    send("WATCHDOG=1");
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<Notifier*>(t->data)->send("WATCHDOG=1"); }, ms, ms);
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_));  // the stack's end ends the loop, not this
}

void Notifier::stop() { close_handle(timer_); }

}  // namespace berth::notify
