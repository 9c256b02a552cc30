// berth logs [-f] [--tail N] [-t] [--no-log-prefix] [SERVICE…]
// Reads the containers' json-file logs; with -f, follows them (inotify) until
// every container of the selection has stopped.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "compose/units.h"
#include "logs/log_file.h"
#include "state/state.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <memory>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
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
    std::fprintf(stdout, "%s%s\n", prefix.c_str(), line.c_str());
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

int logs_command(const GlobalOptions& g, const LogsOptions& o) {
    compose::Project project = load_project(g);
    for (const auto& s : o.services)
        if (!project.services.count(s)) throw Error("no such service: " + s);
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::vector<Source> sources;
    size_t width = 0;
    for (const auto& r : ps.read_all()) {
        if (!o.services.empty() && std::find(o.services.begin(), o.services.end(), r.service) == o.services.end()) continue;
        if (r.bundle_dir.empty()) continue;
        if (o.index > 0 && r.index != o.index) continue;
        Source src;
        src.name = r.name;
        src.path = r.bundle_dir + "/" + r.name + "-json.log";
        src.service = r.service;
        sources.push_back(std::move(src));
        width = std::max(width, r.name.size());
    }
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

    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0) throw Error::sys(errno, "inotify");
    for (auto& s : sources) inotify_add_watch(in, s.path.c_str(), IN_MODIFY | IN_CREATE);
    for (;;) {
        pollfd p{in, POLLIN, 0};
        int r = ::poll(&p, 1, 1000);
        if (r > 0) {
            char buf[4096];
            while (::read(in, buf, sizeof buf) > 0) {
            }
        }
        for (auto& s : sources)
            for (auto& e : read_new(s))
                if (in_range(e)) print(s, e, o, width);
        std::fflush(stdout);
        if (r == 0) {  // quiet for a second: stop once nothing of the selection runs
            bool live = false;
            for (const auto& rec : ps.read_all())
                for (const auto& s : sources)
                    if (rec.name == s.name && rec.pid > 0 && state::process_alive(rec.pid, rec.pid_start_time)) live = true;
            if (!live) break;
        }
    }
    ::close(in);
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
}

}  // namespace berth::cli
