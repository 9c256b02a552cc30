// notify: systemd's service notification protocol (sd_notify(3)) for an attached `berth up`
// run as a Type=notify unit. It owns the datagram socket to $NOTIFY_SOCKET (a path, or an
// abstract name written with a leading '@'), the watchdog timer on the caller's libuv loop
// (WATCHDOG=1 every half $WATCHDOG_USEC), and the stack's progress as STATUS= lines. It knows
// no compose model and no supervisor: the CLI feeds it container states (UpOptions hooks).
//
// Invariants: READY=1 is sent once, and only by ready(); STOPPING=1 once; nothing is sent
// after the socket failed once (systemd is gone or it was never systemd's); EXTEND_TIMEOUT_USEC=
// only before READY=1, while the stack is still making progress.
#pragma once

#include "base/fd.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>
#include <sys/un.h>

struct uv_loop_s;
struct uv_timer_s;

namespace berth::notify {

// One container as the stack's progress counts it.
struct ContainerStatus {
    std::string state;   // created, starting, running, restarting, stopping, exited, …
    std::string health;  // "" without a health check; starting, healthy, unhealthy
    std::optional<int> exit_code;
};

// "3/5 running, 2/3 healthy, waiting for db, web": containers running (or a one-shot job done
// with 0) out of all, healthy out of those with a health check, and the ones not there yet
// (the first kStatusNames by name, then "and N more").
inline constexpr size_t kStatusNames = 5;
std::string status_line(const std::map<std::string, ContainerStatus>& containers);

// How long systemd should still wait for READY=1 each time the stack makes progress.
inline constexpr uint64_t kExtendUsec = 30'000'000;

class Notifier {
public:
    // Null when $NOTIFY_SOCKET is unset or unusable. Reads $WATCHDOG_USEC (used only when
    // $WATCHDOG_PID is unset or this process), then unsets the three variables so that no child
    // (a container, a health check, a hook) inherits them; with keep_environment, leaves them for a
    // child that notifies in turn (the supervisor that berth's unit runs under its keeper, cli/kept.h).
    static std::unique_ptr<Notifier> from_environment(bool keep_environment = false);
    // socket: a path or "@abstract"; watchdog_usec 0: no watchdog.
    Notifier(const std::string& socket, uint64_t watchdog_usec);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // One datagram, newline-separated assignments. False (and logged once) when it failed.
    bool send(std::string_view message);

    // A container changed: STATUS= when the line changed (once started), EXTEND_TIMEOUT_USEC=
    // before READY=1.
    void container(const std::string& name, ContainerStatus status);
    // The stack's loop runs (every container of `up` known): the first STATUS= line, and
    // WATCHDOG=1 every half interval from `loop` (none without a watchdog). The timer does not
    // keep the loop alive; stop() must run before the loop is closed.
    void start(uv_loop_s* loop);
    void stop();
    // Before the stack starts, while its images are built or pulled: STATUS=`what` and
    // EXTEND_TIMEOUT_USEC= when `what` changes; the same `what` again (a step's line, a
    // layer's progress) only extends the timeout, at most once a second. A build or pull
    // that goes silent stops extending it, so systemd's start timeout can end it.
    void preparing(const std::string& what);
    void ready();                             // READY=1 with the status line
    void failed(const std::string& error);    // STATUS=failed: … (systemd sees the exit code)
    void stopping();                          // STOPPING=1, STATUS=stopping
    uint64_t watchdog_usec() const { return watchdog_usec_; }

private:
    UniqueFd fd_;
    sockaddr_un addr_{};
    socklen_t addr_len_ = 0;
    uint64_t watchdog_usec_ = 0;
    bool broken_ = false, started_ = false, ready_ = false, stopping_ = false;
    std::map<std::string, ContainerStatus> containers_;
    std::string last_status_;
    std::chrono::steady_clock::time_point last_extend_{};
    uv_timer_s* timer_ = nullptr;
    void send_status();
};

// $NOTIFY_SOCKET's address: a path, or an abstract name from "@name". Nullopt if too long or
// not absolute/abstract.
std::optional<std::pair<sockaddr_un, socklen_t>> socket_address(const std::string& name);

// True when `fd` is the journal's stream ($JOURNAL_STREAM names its device:inode), as systemd
// sets it for a service's stdout/stderr.
bool is_journal_stream(int fd);

}  // namespace berth::notify
