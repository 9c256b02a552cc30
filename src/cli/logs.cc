// berth logs [-f] [--tail N] [-t] [--no-log-prefix] [SERVICE…]; berth attach [--index N] SERVICE
// Reads the containers' json-file logs; with -f, follows them (inotify) until
// every container of the selection has stopped.
#include "base/error.h"
#include "base/fd.h"
#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/project.h"
#include "compose/units.h"
#include "control/control.h"
#include "logs/log_file.h"
#include "state/state.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace berth::cli {
namespace {

struct LogsOptions {
    bool follow = false, timestamps = false, no_prefix = false, no_color = false;
    bool color = false;
    std::string tail = "all", since, until;
    int index = 0;
    std::vector<std::string> services;
};

struct Source {
    std::string name, path, service;
    off_t offset = 0;
    std::string partial;
    size_t width = 0;
};

// One stable color per service, as compose gives them.
std::string color_of(const std::string& service) {
    static const int palette[] = {36, 33, 32, 35, 34, 91, 96, 93, 92, 95};
    size_t h = std::hash<std::string>{}(service);
    return "\x1b[" + std::to_string(palette[h % 10]) + "m";
}

void print(const Source& s, const logs::LogEntry& e, const LogsOptions& o, size_t width) {
    std::string line = e.text;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    std::string prefix;
    if (!o.no_prefix) {
        std::string name = s.name;
        name.resize(std::max(width, s.name.size()), ' ');
        prefix = o.color ? color_of(s.service) + name + "  |\x1b[0m " : name + "  | ";
    }
    if (o.timestamps) prefix += logs::format_time(e.time_ns) + " ";
    // A container's stderr to stderr, its stdout to stdout, as docker compose logs does; stdout is
    // flushed before a line goes to stderr, so that both sent to one file keep their time order.
    FILE* out = e.stream == logs::Stream::Stderr ? stderr : stdout;
    if (out == stderr) std::fflush(stdout);
    std::fprintf(out, "%s%s\n", prefix.c_str(), line.c_str());
}

// New complete lines of a growing log file.
std::vector<logs::LogEntry> read_new(Source& s) {
    std::vector<logs::LogEntry> out;
    int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size < s.offset) s.offset = 0;  // rotated
    char buf[65536];
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, s.offset)) > 0) {
        s.offset += n;
        s.partial.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    size_t start = 0, nl;
    std::string joined;
    while ((nl = s.partial.find('\n', start)) != std::string::npos) {
        logs::LogEntry e;
        bool part = false;
        if (logs::parse_line(std::string_view(s.partial).substr(start, nl - start), e, part)) {
            if (part) {
                joined += e.text;
            } else {
                e.text = joined + e.text;
                joined.clear();
                out.push_back(std::move(e));
            }
        }
        start = nl + 1;
    }
    s.partial.erase(0, start);
    return out;
}

// The selection's containers not yet among `sources` (all of them the first time).
void add_sources(const state::ProjectState& ps, const LogsOptions& o, std::vector<Source>& sources, size_t& width) {
    for (const auto& r : ps.read_all()) {
        if (!o.services.empty() && std::find(o.services.begin(), o.services.end(), r.service) == o.services.end()) continue;
        if (r.bundle_dir.empty()) continue;
        if (o.index > 0 && r.index != o.index) continue;
        std::string path = r.bundle_dir + "/" + r.name + "-json.log";
        if (std::any_of(sources.begin(), sources.end(), [&](const Source& s) { return s.path == path; })) continue;
        Source src;
        src.name = r.name;
        src.path = path;
        src.service = r.service;
        sources.push_back(std::move(src));
        width = std::max(width, r.name.size());
    }
}

int logs_command(const GlobalOptions& g, const LogsOptions& o) {
    compose::Project project = load_project(g);
    for (const auto& s : o.services)
        if (!project.services.count(s)) throw Error("no such service: " + s);
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::vector<Source> sources;
    size_t width = 0;
    add_sources(ps, o, sources, width);
    // --since/--until: an RFC 3339 time or a duration before now ("10m").
    auto when = [](const std::string& text, const char* flag) -> int64_t {
        if (text.empty()) return -1;
        int64_t t = logs::parse_time(text);
        if (t >= 0) return t;
        try {
            return logs::now_ns() - compose::parse_duration(text);
        } catch (const std::exception&) {
            throw Error(std::string(flag) + " " + text + ": expected an RFC 3339 time (2026-11-24T10:00:00Z) or a duration (10m)");
        }
    };
    int64_t since = when(o.since, "--since"), until = when(o.until, "--until");
    auto in_range = [&](const logs::LogEntry& e) {
        return (since < 0 || e.time_ns >= since) && (until < 0 || e.time_ns <= until);
    };
    long tail = -1;
    if (o.tail != "all") {
        try {
            tail = std::stol(o.tail);
        } catch (const std::exception&) {
            throw Error("--tail " + o.tail + ": expected a number or \"all\"");
        }
    }
    // What is there: merged by time, the last `tail` lines of each container.
    std::vector<std::pair<const Source*, logs::LogEntry>> all;
    for (auto& s : sources) {
        auto read = read_new(s);
        std::vector<logs::LogEntry> entries;
        for (auto& e : read)
            if (in_range(e)) entries.push_back(std::move(e));
        size_t from = tail >= 0 && entries.size() > static_cast<size_t>(tail) ? entries.size() - static_cast<size_t>(tail) : 0;
        for (size_t i = from; i < entries.size(); ++i) all.emplace_back(&s, std::move(entries[i]));
    }
    std::stable_sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.second.time_ns < b.second.time_ns; });
    for (auto& [s, e] : all) print(*s, e, o, width);
    std::fflush(stdout);
    if (!o.follow || until >= 0) return 0;

    // Following: containers that appear later (a replica, a service started after) are followed
    // too, from their first line; it ends once the project's supervisor is gone and nothing of the
    // selection runs (a `restart: always` container between two runs keeps it going).
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0) throw Error::sys(errno, "inotify");
    for (auto& s : sources) inotify_add_watch(in, s.path.c_str(), IN_MODIFY | IN_CREATE);
    for (int quiet = 0;;) {
        pollfd p{in, POLLIN, 0};
        int r = ::poll(&p, 1, 250);
        if (r > 0) {
            char buf[4096];
            while (::read(in, buf, sizeof buf) > 0) {
            }
        }
        size_t known = sources.size();
        if (r == 0) add_sources(ps, o, sources, width);
        for (size_t i = known; i < sources.size(); ++i) inotify_add_watch(in, sources[i].path.c_str(), IN_MODIFY | IN_CREATE);
        for (auto& s : sources)
            for (auto& e : read_new(s))
                if (in_range(e)) print(s, e, o, width);
        std::fflush(stdout);
        std::fflush(stderr);
        if (r != 0 || ++quiet < 4) continue;  // quiet for a second: is anything left to follow?
        quiet = 0;
        if (ps.supervisor_pid() > 0) continue;
        bool live = false;
        for (const auto& rec : ps.read_all())
            for (const auto& s : sources)
                if (rec.name == s.name && rec.pid > 0 && state::process_alive(rec.pid, rec.pid_start_time)) live = true;
        if (!live) break;
    }
    ::close(in);
    return 0;
}

// ---- an attached `up` on a running project (cli/follow.h) ----

std::string log_path(const state::ContainerRecord& r) { return r.bundle_dir + "/" + r.name + "-json.log"; }

// Running, or between two runs of its restart policy.
bool alive(const state::ContainerRecord& r) {
    if (r.state == "restarting") return true;
    bool live = r.state == "running" || r.state == "starting" || r.state == "stopping" || r.state == "paused";
    return live && r.pid > 0 && state::process_alive(r.pid, r.pid_start_time);
}

}  // namespace

std::map<std::string, long long> log_sizes(const state::ProjectState& ps) {
    std::map<std::string, long long> sizes;
    for (const auto& r : ps.read_all()) {
        struct stat st {};
        if (!r.bundle_dir.empty() && ::stat(log_path(r).c_str(), &st) == 0) sizes[log_path(r)] = st.st_size;
    }
    return sizes;
}

int follow_attached(const state::ProjectState& ps, const FollowSpec& spec, const std::map<std::string, long long>& from) {
    LogsOptions o;
    o.color = spec.color;
    for (const auto& s : spec.printed) o.services.push_back(s);
    std::vector<Source> sources;
    size_t width = 0;
    static volatile sig_atomic_t interrupts = 0;
    struct sigaction sa {};
    sa.sa_handler = [](int) { interrupts = interrupts + 1; };
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    int handled = 0;
    std::optional<control::Client> stopper;
    std::map<std::string, std::string> last_state;  // container → state seen: its exit line printed once
    for (int idle = 0;;) {
        size_t known = sources.size();
        add_sources(ps, o, sources, width);
        for (size_t i = known; i < sources.size(); ++i)
            if (auto it = from.find(sources[i].path); it != from.end()) sources[i].offset = static_cast<off_t>(it->second);
        for (auto& s : sources)
            for (auto& e : read_new(s)) print(s, e, o, width);
        bool watched_live = false;
        for (const auto& r : ps.read_all()) {
            if (spec.watched.count(r.service) && alive(r)) watched_live = true;
            std::string& was = last_state[r.name];
            // Its exit line once: seen exiting, or exited already when first seen but after `up` began
            // (a container that ended before this process looked, as `up` handed it over).
            bool ended_now = was.empty() ? logs::parse_time(r.finished_at) >= spec.since_ns : was != "exited";
            if (spec.printed.count(r.service) && r.state == "exited" && ended_now && r.exit_code)
                std::printf("%s exited with code %d\n", r.name.c_str(), *r.exit_code);
            was = r.state;
        }
        std::fflush(stdout);
        std::fflush(stderr);
        if (interrupts > handled) {
            handled = interrupts;
            stopper = control::Client::connect(ps.control_socket());  // kept open: the supervisor answers on it
            auto& c = stopper;
            if (handled == 1) std::fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
            if (c) c->send(handled == 1 ? nlohmann::json{{"op", "stop"}, {"services", spec.stop_on_ctrl_c}}
                                        : nlohmann::json{{"op", "kill"}, {"services", spec.stop_on_ctrl_c}, {"signal", SIGKILL}});
        }
        // Ended: nothing watched runs (twice in a row: a restart between two runs is not an end).
        idle = watched_live || ps.supervisor_pid() <= 0 ? 0 : idle + 1;
        if (!watched_live && (idle >= 3 || ps.supervisor_pid() <= 0)) break;
        ::poll(nullptr, 0, 100);
    }
    return 0;
}

namespace {

// `attach SERVICE`: the output of one running container (--index, default 1), from now on,
// stdout to stdout and stderr to stderr, until it exits; `attach` ends with its exit code.
// With --sig-proxy (the default) Ctrl-C and SIGTERM go to the container. berth never
// forwards a terminal's input to it: stdin stays as the service's stdin_open made it.
volatile sig_atomic_t g_signal = 0;

int attach_command(const GlobalOptions& g, const std::string& service, int index, bool sig_proxy) {
    compose::Project project = load_project(g);
    if (!project.services.count(service)) throw Error("no such service: " + service);
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::optional<state::ContainerRecord> rec;
    for (const auto& r : ps.read_all())
        if (r.service == service && r.index == std::max(index, 1)) rec = r;
    if (!rec || rec->pid <= 0 || !state::process_alive(rec->pid, rec->pid_start_time))
        throw Error("service \"" + service + "\" has no running container" + (index > 1 ? " of index " + std::to_string(index) : ""),
                    "`berth ps -a` shows its containers; `berth start " + service + "` starts it");
    Source src;
    src.name = rec->name;
    src.path = rec->bundle_dir + "/" + rec->name + "-json.log";
    struct stat st {};
    if (::stat(src.path.c_str(), &st) == 0) src.offset = st.st_size;  // from now on, as docker attach
    LogsOptions o;
    o.no_prefix = true;
    if (sig_proxy) {
        struct sigaction sa {};
        sa.sa_handler = [](int sig) { g_signal = sig; };
        ::sigaction(SIGINT, &sa, nullptr);  // no SA_RESTART: poll returns at once
        ::sigaction(SIGTERM, &sa, nullptr);
    }
    auto alive = [&] {
        auto r = ps.read(src.name);
        return r && r->pid == rec->pid && state::process_alive(r->pid, r->pid_start_time);
    };
    auto show_new = [&] {
        for (auto& e : read_new(src)) print(src, e, o, 0);
        std::fflush(stdout);
        std::fflush(stderr);
    };
    // Woken by the log's directory (a line written, or the file rotated) and by the container's
    // pidfd (its exit); a signal interrupts the wait. The timeout is only a safety net, but
    // without inotify (out of watches) it is what shows new lines: then every 100 ms.
    UniqueFd in(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (in) inotify_add_watch(in.get(), rec->bundle_dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, rec->pid, 0)));
    for (;;) {
        pollfd p[2] = {{in.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
        ::poll(p, 2, in ? 1000 : 100);  // a negative fd (no inotify, no pidfd) is skipped
        if (in) {
            char buf[4096];
            while (::read(in.get(), buf, sizeof buf) > 0) {
            }
        }
        if (int sig = g_signal) {
            g_signal = 0;
            if (auto c = control::Client::connect(ps.control_socket()))
                c->call({{"op", "kill"}, {"containers", {src.name}}, {"signal", sig}});
        }
        // Its pidfd says when it exits; only without one is the record read at each wake.
        bool running = pidfd ? !(p[1].revents & POLLIN) : alive();
        show_new();
        if (!running) break;
    }
    // Its exit code, once the supervisor has written it; by then it has also written the last
    // lines it read from the container's pipes, which may have come after the exit was seen.
    for (int i = 0; i < 50; ++i) {
        auto r = ps.read(src.name);
        if (!r || r->state != "running") {
            show_new();
            return r && r->exit_code ? *r->exit_code : 0;
        }
        ::poll(nullptr, 0, 100);
    }
    show_new();
    return 0;
}

}  // namespace

void add_logs_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("logs", "Show the containers' output");
    auto o = std::make_shared<LogsOptions>();
    cmd->add_flag("-f,--follow", o->follow, "Follow the output");
    cmd->add_flag("-t,--timestamps", o->timestamps, "Show timestamps");
    cmd->add_flag("--no-log-prefix", o->no_prefix, "Don't print the container name");
    cmd->add_option("-n,--tail", o->tail, "Lines from the end of each container's log, or \"all\"");
    cmd->add_option("--since", o->since, "Only lines since a time (RFC 3339) or a duration ago (10m)");
    cmd->add_option("--until", o->until, "Only lines until a time (RFC 3339) or a duration ago");
    cmd->add_flag("--no-color", o->no_color, "Plain output");
    cmd->add_option("--index", o->index, "Only this replica (from 1)");
    cmd->add_option("SERVICE", o->services, "Services (default: all)");
    cmd->callback([&cli, o] {
        cli.action = [&cli, o] {
            o->color = !o->no_color && use_color(cli.global, 1);
            return logs_command(cli.global, *o);
        };
    });

    auto* att = cli.app.add_subcommand("attach", "Follow a running service container's output until it exits");
    auto service = std::make_shared<std::string>();
    auto index = std::make_shared<int>(1);
    auto sig_proxy = std::make_shared<bool>(true);
    att->add_option("SERVICE", *service, "The service")->required();
    att->add_option("--index", *index, "Which replica (from 1)");
    att->add_flag("--sig-proxy,!--no-sig-proxy", *sig_proxy, "Send Ctrl-C and SIGTERM to the container (default: true)");
    att->add_flag_function("--no-stdin", [](int64_t) {}, "Don't attach stdin (berth never does)");
    att->callback([&cli, service, index, sig_proxy] {
        cli.action = [&cli, service, index, sig_proxy] { return attach_command(cli.global, *service, *index, *sig_proxy); };
    });
}

}  // namespace berth::cli

