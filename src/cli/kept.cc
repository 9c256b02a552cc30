// Foreground `up` under systemd: the unit's main process and the supervisor
// the project's keeper spawns for it (cli/kept.h).
#include "cli/kept.h"

#include "base/error.h"
#include "base/fd.h"
#include "cli/detach.h"
#include "cli/systemd.h"
#include "notify/notify.h"
#include "state/state.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace berth::cli {
namespace {

std::atomic<pid_t> g_supervisor{0};

void forward(int sig) {
    if (pid_t p = g_supervisor.load(); p > 0) ::kill(p, sig);
}

void forward_signals(pid_t supervisor) {
    g_supervisor = supervisor;
    struct sigaction sa{};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &sa, nullptr);  // no SA_RESTART: reads see EINTR
}

// Waits for a supervisor this process did not spawn (started for a main process killed
// since): 0 once it is gone having stopped every container (`down`, SIGTERM), else 1.
int wait_running(pid_t pid, const state::ProjectState& ps) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return ps.supervisor_pid() > 0 ? 1 : 0;
    forward_signals(pid);
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    ::close(fd);
    for (const auto& r : ps.read_all())
        if (r.state != "exited" && r.state != "created" && state::process_alive(r.pid, r.pid_start_time)) return 1;
    return 0;
}

}  // namespace

bool kept_mode() {
    const char* s = std::getenv("NOTIFY_SOCKET");
    return s && *s && !std::getenv("BERTH_SUPERVISOR_FD");
}

int up_kept(const compose::Project& project, const std::function<std::optional<int>()>& apply_to_running) {
    state::ProjectState ps(state::runtime_dir(), project.name);
    if (pid_t running = ps.supervisor_pid(); running > 0) {
        // Our main process was killed, its supervisor was not: apply the file to it, say so, wait for it.
        for (int attempt = 0; attempt < 30 && !apply_to_running(); ++attempt) ::usleep(100000);
        if (auto n = notify::Notifier::from_environment())
            n->send("READY=1\nSTATUS=attached to the running supervisor (pid " + std::to_string(running) + ")");
        std::fprintf(stderr, "berth: the project's supervisor (pid %d) runs already: waiting for it\n", running);
        return wait_running(running, ps);
    }
    // The supervisor pings the watchdog itself: systemd's WATCHDOG_PID names this process.
    ::unsetenv("WATCHDOG_PID");
    ::setenv("BERTH_KEPT", "1", 1);
    Pipe p = make_pipe();  // both ends owned: no path closes one twice or leaks it
    pid_t sup = spawn_supervisor(project, p.write.get(), true);
    p.write.reset();
    forward_signals(sup);
    std::string msg;
    char buf[256];
    for (;;) {
        ssize_t n = ::read(p.read.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        msg.append(buf, static_cast<size_t>(n));
    }
    p.read.reset();
    if (msg.rfind("EXIT\t", 0) == 0) return std::atoi(msg.c_str() + 5);
    std::fprintf(stderr,
                 "error: the supervisor (pid %d) died; its containers run on, held by the project's keeper: "
                 "the next `berth up` re-adopts them\n", sup);
    return 1;
}

[[noreturn]] void supervise_kept(compose::Project project, supervisor::UpOptions o, int report) {
    ::unsetenv("BERTH_KEPT");
    ::fcntl(report, F_SETFD, FD_CLOEXEC);  // containers and health checks do not inherit it
    bool failed = false;
    o.on_ready = [&](bool ok, const std::string& err) {
        if (!ok && err != "every container exited") {
            std::fprintf(stderr, "error: %s\n", err.c_str());
            failed = true;
        }
    };
    int code = 1;
    try {
        auto notifier = notify_systemd(o, notify::Notifier::from_environment());
        auto journal = journal_lines(o, project);
        supervisor::Supervisor sup(std::move(project), o);
        code = sup.run();
        if (failed && code == 0) code = 1;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (!e.hint().empty()) std::fprintf(stderr, "%s\n", e.hint().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
    }
    std::string line = "EXIT\t" + std::to_string(code) + "\n";
    ssize_t w = ::write(report, line.data(), line.size());
    (void)w;
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
}

}  // namespace berth::cli
