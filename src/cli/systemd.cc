#include "cli/systemd.h"

#include <cstdlib>
#include <set>

namespace berth::cli {

std::unique_ptr<notify::Notifier> notify_systemd(supervisor::UpOptions& o, std::unique_ptr<notify::Notifier> n) {
    if (!n) return n;
    notify::Notifier* raw = n.get();
    o.wait_healthy = true;  // ready means healthy, as `up --wait`
    o.on_ready = [raw, chained = std::move(o.on_ready)](bool ok, const std::string& err) {
        if (ok) raw->ready();
        else raw->failed(err);
        if (chained) chained(ok, err);
    };
    o.on_container = [raw](const std::string& name, const std::string& state, const std::string& health,
                           std::optional<int> exit_code) { raw->container(name, {state, health, exit_code}); };
    o.on_stopping = [raw] { raw->stopping(); };
    o.on_loop = [raw](uv_loop_s* loop) { raw->start(loop); };
    o.on_loop_end = [raw] { raw->stop(); };
    return n;
}

std::unique_ptr<notify::Journal> journal_lines(supervisor::UpOptions& o, const compose::Project& project) {
    bool all = o.attach && notify::is_journal_stream(1);
    std::set<std::string> services;  // logging: driver: journald
    for (const auto& [name, svc] : project.services)
        if (svc.logging && svc.logging->driver == "journald") services.insert(name);
    if (!all && services.empty()) return nullptr;
    const char* sock = std::getenv("BERTH_JOURNAL_SOCKET");
    auto j = std::make_unique<notify::Journal>(sock && *sock ? sock : notify::kJournalSocket);
    o.on_line = [j = j.get(), all, services, name = project.name](const std::string& service, const std::string& container,
                                                                  std::string_view line) {
        if (all) return j->send(name, service, container, line);  // taken: stdout is the journal too
        if (services.count(service)) j->send(name, service, container, line);
        return false;  // still printed when attached, as docker compose shows a journald service
    };
    return j;
}

}  // namespace berth::cli
