// `up -d`'s supervisor process (cli/detach.h).
#include "cli/detach.h"

#include "base/error.h"
#include "base/report_pipe.h"
#include "cli/cli.h"
#include "cli/systemd.h"
#include "keeper/client.h"
#include "state/state.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <unistd.h>

extern char** environ;

namespace berth::cli {

// The detached supervisor's stdio: /dev/null in, stdout and stderr (spdlog's)
// to its log, $BERTH_RUNTIME_DIR/PROJECT.supervisor.log (the runtime directory
// made if this is its first project); of the fds its caller had, only `keep`
// (the pipe to report on) stays open. Returns `keep`'s fd, above 2.
int detach_stdio(const std::string& project, int keep) {
    if (keep < 3) keep = ::fcntl(keep, F_DUPFD_CLOEXEC, 3);  // its caller had closed stdio
    std::error_code ec;
    std::filesystem::create_directories(state::runtime_dir(), ec);
    std::string logpath = state::runtime_dir() + "/" + project + ".supervisor.log";
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int logfd = ::open(logpath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int log_errno = errno;
    ::dup2(null, 0);
    ::dup2(logfd >= 0 ? logfd : null, 1);
    ::dup2(logfd >= 0 ? logfd : null, 2);
    for (int fd = 0; fd < 3; ++fd) ::fcntl(fd, F_SETFD, 0);  // had 0-2 been closed, the opens took them
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
    ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");  // a log read later: when it happened
    if (logfd < 0) spdlog::warn("cannot open {}: {}", logpath, std::strerror(log_errno));
    return keep;
}

// The detached supervisor's body, in the process the project's keeper spawned
// (`up -d` run again with BERTH_SUPERVISOR_FD: the pipe to report on).
[[noreturn]] void supervise_detached(compose::Project project, supervisor::UpOptions o, int report_fd) {
    setsid();
    // The report pipe is owned here, once: `up -d` reads it until on_ready
    // closes it; what comes after (an error once the stack runs) goes to the
    // log only, never to the fd number, which a file opened since may hold.
    auto report = std::make_shared<ReportPipe>(UniqueFd(detach_stdio(project.name, report_fd)));
    auto journal = journal_lines(o, project);  // logging: driver: journald
    o.on_progress = [report](const std::string& name, const std::string& action) {
        report->write("P\t" + name + "\t" + action + "\n");
    };
    o.on_ready = [report](bool ok, const std::string& err) { report->finish(ok ? std::string("OK\n") : "ERR\t" + err); };
    int code = 1;
    try {
        supervisor::Supervisor sup(std::move(project), o);
        code = sup.run();
    } catch (const std::exception& e) {
        // The hint (how to fix it) travels on the next line, as main prints it.
        std::string msg = std::string("ERR\t") + e.what();
        if (auto* be = dynamic_cast<const Error*>(&e); be && !be->hint().empty()) msg += "\n" + be->hint();
        if (!report->finish(msg)) spdlog::error("the supervisor failed: {}", e.what());
    }
    std::fflush(stderr);
    _exit(code);
}

// `up -d` with no supervisor: the project's keeper (started now unless it
// runs: after a supervisor's death it holds the containers) spawns one, which
// reports on the pipe `report`.
pid_t spawn_supervisor(const compose::Project& project, int report, bool attached,
                       const std::vector<std::string>& extra_env) {
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::error_code ec;
    std::filesystem::create_directories(ps.dir(), ec);
    if (ec) throw Error::sys(ec.value(), "create " + ps.dir());
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    char cwd[4096];
    std::string dir = getcwd(cwd, sizeof cwd) ? cwd : "/";
    for (int attempt = 1;; ++attempt) {  // a keeper that was just ending is replaced
        try {
            keeper::ensure_running(exe, ps.dir(), state::runtime_dir() + "/" + project.name + ".supervisor.log");
            auto k = keeper::Client::connect(ps.dir());
            if (!k) throw Error("the project's keeper does not answer", "run `berth down` and `berth up -d` again");
            return attached ? k->spawn(exe, dir, process_argv(), env, report, 1, 2)
                            : k->spawn(exe, dir, process_argv(), env, report);
        } catch (const Error&) {
            if (attempt == 3) throw;
        }
    }
}

}  // namespace berth::cli
