// Containers' output: read from their pipes into their log files, and whole
// lines to the terminal of an attached `up` (colored per service) and to the
// unit's tail, kept for error messages.
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

namespace berth::supervisor {
namespace {

template <int S>
void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* u = static_cast<Unit*>(s->data);
    auto* sup = static_cast<Supervisor::Impl*>(&u->host);
    std::unique_ptr<char[]> buf(b->base);  // freed however the chunk's handling ends
    sup->guarded(Callback::Output, u, [&] {
        if (n > 0) sup->on_output(*u, S, buf.get(), static_cast<size_t>(n));
        if (n < 0) {
            if (!u->inst.partial[S].empty()) {
                sup->emit_line(*u, S, u->inst.partial[S]);
                u->inst.partial[S].clear();
                if (sup->opts.attach) std::fflush(stdout);
            }
            u->inst.pipes[S].close();
        }
    });
}

}  // namespace

void Supervisor::Impl::open_output(Unit& u, int stream, UniqueFd fd) {
    uv_pipe_t* p = u.inst.pipes[stream].make([this](uv_pipe_t* h) { uv_pipe_init(&loop, h, 0); }, &u);
    uv_pipe_open(p, fd.release());
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(p),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
            constexpr size_t kRead = 256 * 1024;  // a large read drains a busy pipe in few calls
            b->base = new char[kRead];
            b->len = kRead;
        },
        stream == 0 ? on_read<0> : on_read<1>);
}

void Supervisor::Impl::on_output(Unit& u, int stream, const char* data, size_t n) {
    int64_t t = logs::now_ns();
    if (u.inst.log) {
        int was = u.inst.log->error();
        u.inst.log->write(stream ? logs::Stream::Stderr : logs::Stream::Stdout, std::string_view(data, n), t);
        u.inst.log->flush();  // one write per chunk read: `logs` sees it at once
        report_log_state(u, was);
    }
    // Whole lines go to the terminal (attached) and the tail kept for error messages.
    std::string& buf = u.inst.partial[stream];
    std::string_view chunk(data, n);
    size_t start = 0, nl;
    while ((nl = chunk.find('\n', start)) != std::string_view::npos) {
        if (buf.empty()) {
            emit_line(u, stream, chunk.substr(start, nl - start));
        } else {
            buf.append(chunk.substr(start, nl - start));
            emit_line(u, stream, buf);
            buf.clear();
        }
        start = nl + 1;
    }
    buf.append(chunk.substr(start));
    if (buf.size() > 16384) {
        emit_line(u, stream, buf);
        buf.clear();
    }
    if (opts.attach) std::fflush(stream ? stderr : stdout);
}

// A log that cannot be written (the disk full) stalls, the container runs on:
// said once when it stalls and once when it writes again, in the supervisor's
// log, as `events` (log_paused, log_resumed) and in its record (`ps`).
void Supervisor::Impl::report_log_state(Unit& u, int was) {
    int now = u.inst.log->error();
    if ((was == 0) == (now == 0)) return;
    u.rec.log_paused = now ? std::strerror(now) : "";
    u.save();
    nlohmann::json ev = {{"time", logs::format_time(logs::now_ns())}, {"type", "container"},
                         {"action", now ? "log_paused" : "log_resumed"}, {"id", u.name()}, {"service", u.cp.service},
                         {"project", project.name}};
    if (now) ev["error"] = std::strerror(now);
    std::erase_if(subscribers, [](const auto& p) { return p->closed(); });
    for (auto& p : subscribers) p->send(ev);
    if (now != 0)
        spdlog::warn("{}: logging paused: cannot write {}: {}; the container keeps running, its output is held "
                     "(up to {} KiB, then dropped) until the log can be written again",
                     u.name(), u.inst.log->path(), std::strerror(now), logs::LogWriter::kHoldBytes / 1024);
    else
        spdlog::warn("{}: logging resumed ({} lines of output lost while paused, in all)", u.name(),
                     u.inst.log->dropped_lines());
}

// An attached `up` prints the output of the services it attaches to (UpOptions::attach_services).
bool Supervisor::Impl::printed(const std::string& service) const {
    auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), service) != v.end(); };
    if (in(opts.no_attach)) return false;
    if (!opts.attach_services.empty()) return in(opts.attach_services);
    if (opts.services.empty() || opts.attach_dependencies) return true;
    return in(opts.services);
}

// What an attached `up` waits for: the services named, else those it prints; when they have
// all exited, `up` ends (and stops the rest, as this process supervises them).
bool Supervisor::Impl::watched(const std::string& service) const {
    if (!opts.services.empty())
        return std::find(opts.services.begin(), opts.services.end(), service) != opts.services.end();
    return printed(service);
}

// A line of the container's stdout to `up`'s stdout, of its stderr to its stderr, as docker compose does.
void Supervisor::Impl::emit_line(Unit& u, int stream, std::string_view line) {
    if (u.inst.tail.size() >= 10) u.inst.tail.pop_front();
    u.inst.tail.emplace_back(line);
    if (opts.on_line && opts.on_line(u.cp.service, u.name(), line)) return;  // notify hook: the journal
    if (!opts.attach || !printed(u.cp.service)) return;
    FILE* out = stream ? stderr : stdout;
    if (opts.color) {
        static const int palette[] = {36, 33, 32, 35, 34, 91, 96, 93, 92, 95};
        int c = palette[std::hash<std::string>{}(u.cp.service) % 10];
        std::fprintf(out, "\x1b[%dm%s  |\x1b[0m %.*s\n", c, u.name().c_str(), static_cast<int>(line.size()), line.data());
    } else {
        std::fprintf(out, "%s  | %.*s\n", u.name().c_str(), static_cast<int>(line.size()), line.data());
    }
}

}  // namespace berth::supervisor
