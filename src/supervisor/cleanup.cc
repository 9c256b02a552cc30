// What a supervisor that is gone left: `down` without (or after) a supervisor,
// `--remove-orphans`, the survivors a new `up` stops before it starts
// anything, and which named volumes running containers use.
#include "base/error.h"
#include "cgroups/cgroups.h"
#include "logs/log_file.h"
#include "netns/netns.h"
#include "supervisor/impl.h"
#include "volumes/volume.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

constexpr int64_t kSecond = 1000000000;

// A container whose supervisor is gone, to stop: its record and how.
struct Leftover {
    const state::ContainerRecord* rec;
    int signal = SIGKILL;
    int grace_s = 0;
};

// Stops what a supervisor that is gone left running of these containers: each
// gets its stop signal and up to its grace period to exit, then its whole
// cgroup is killed and removed (that also ends a container killed mid-start,
// before its pid was recorded). A pid is signalled only while its start time
// is the recorded one: a recycled pid is another process.
void stop_leftovers(const std::vector<Leftover>& list) {
    using Clock = std::chrono::steady_clock;
    std::unique_ptr<cgroups::Manager> cg;
    std::vector<std::unique_ptr<cgroups::Group>> groups;
    struct Waiting {
        UniqueFd pidfd;
        Clock::time_point until;
    };
    std::vector<Waiting> waiting;
    for (const auto& l : list) {
        const auto& r = *l.rec;
        if (!r.cgroup.empty()) {
            std::unique_ptr<cgroups::Group> g;
            try {
                if (!cg) cg = cgroups::detect();
                g = cg->create(r.cgroup, {});
                g->thaw();  // a frozen (paused) process takes no signal
            } catch (const std::exception& e) {
                if (!g) spdlog::warn("{}: cgroup {}: {}", r.name, r.cgroup, e.what());
            }
            if (g) groups.push_back(std::move(g));
        }
        if (r.pid <= 0 || r.pid_start_time == 0) continue;
        UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, r.pid, 0)));
        // Checked after the open: the pidfd then holds the process that started at that time.
        if (!pidfd || !state::process_alive(r.pid, r.pid_start_time)) continue;
        spdlog::info("{}: stopping what a gone supervisor left running (pid {})", r.name, r.pid);
        if (syscall(SYS_pidfd_send_signal, pidfd.get(), l.signal, nullptr, 0) == 0 && l.signal != SIGKILL && l.grace_s > 0)
            waiting.push_back({std::move(pidfd), Clock::now() + std::chrono::seconds(l.grace_s)});
    }
    while (!waiting.empty()) {
        auto now = Clock::now();
        std::erase_if(waiting, [&](const Waiting& w) { return w.until <= now; });
        if (waiting.empty()) break;
        auto first = std::min_element(waiting.begin(), waiting.end(), [](auto& a, auto& b) { return a.until < b.until; })->until;
        std::vector<pollfd> fds;
        for (const auto& w : waiting) fds.push_back({w.pidfd.get(), POLLIN, 0});
        int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(first - now).count()) + 1;
        if (::poll(fds.data(), fds.size(), ms) < 0 && errno != EINTR) break;
        for (size_t i = fds.size(); i-- > 0;)
            if (fds[i].revents) waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));  // it exited
    }
    for (auto& g : groups) {
        try {
            g->destroy();  // kills anything left, then removes
        } catch (const std::exception& e) {
            spdlog::warn("cgroup {}: {}", g->path(), e.what());
        }
    }
}


// cleanup_project; with only_orphans (`up --remove-orphans`, under the
// supervisor's lock) the other containers and the project's state stay.
std::vector<std::string> cleanup(const std::string& project, bool remove_volumes, const compose::Project* model,
                                 bool remove_orphans, bool only_orphans) {
    state::ProjectState ps(state::runtime_dir(), project);
    std::vector<std::string> removed, anonymous;
    bool kept = false;
    // One-off containers (`berth run`) go too: they are the project's.
    state::ProjectState runs = state::one_off_state(state::runtime_dir(), project);
    std::vector<std::pair<state::ContainerRecord, const state::ProjectState*>> records;
    for (const auto* from : {&ps, &runs})
        for (auto& r : from->read_all()) records.emplace_back(std::move(r), from);
    std::erase_if(records, [&](const auto& rf) {
        const auto& r = rf.first;
        bool orphan = model && !model->services.count(r.service) && !model->disabled_services.count(r.service);
        bool keep = orphan ? !remove_orphans : only_orphans;
        if (keep) kept = true;
        return keep;
    });
    std::vector<Leftover> leftovers;
    for (const auto& [r, _] : records) leftovers.push_back({&r});
    stop_leftovers(leftovers);  // SIGKILL: `down` of a project whose supervisor is gone
    for (const auto& [r, from] : records) {
        // A supervisor killed between making a container's directory and recording it left it
        // where make_container_spec puts it.
        std::error_code ec;
        fs::remove_all(r.bundle_dir.empty() ? state::state_root() + "/containers/" + r.name : r.bundle_dir, ec);
        fs::remove_all(state::container_run_dir(state::runtime_dir(), project, r.name), ec);
        for (const auto& v : r.volumes)
            if (v.rfind(r.name + "-anon-", 0) == 0) anonymous.push_back(v);
        from->remove(r.name);
        removed.push_back(r.name);
    }
    if (model) {
        // The project's named volumes: `down -v` removes them (never external
        // ones, never bind sources), `down` unmounts device volumes; either
        // leaves alone a volume a container of another project still runs with.
        volumes::Store store(state::state_root());
        auto used = volumes_in_use();
        for (const auto& [_, v] : model->volumes) {
            bool remove = remove_volumes && !v.external;
            if (auto u = used.find(v.name); u != used.end()) {
                if (remove) std::fprintf(stderr, "warning: volume %s kept: %s still uses it\n", v.name.c_str(), u->second.c_str());
                continue;
            }
            try {
                if (remove) store.remove(v.name);
                else if (!kept) store.unmount(v.name);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "warning: volume %s kept: %s\n", v.name.c_str(), e.what());
            }
        }
        if (remove_volumes) {
            // The project's anonymous volumes, also those whose containers a
            // supervisor's `down` removed before this ran.
            for (const auto& v : store.list())
                if (v.project == project && v.labels.count("com.docker.volume.anonymous") &&
                    std::find(anonymous.begin(), anonymous.end(), v.name) == anonymous.end())
                    anonymous.push_back(v.name);
            for (const auto& name : anonymous)
                if (!used.count(name)) store.remove(name);
        }
    }
    if (!kept) {
        try {
            netns::remove_networks(ps.dir() + "/networks.json");
        } catch (const std::exception& e) {
            spdlog::warn("project {}: networks: {}", project, e.what());
        }
        ps.remove_all();
        std::error_code ec;
        fs::remove(state::runtime_dir() + "/" + project + ".supervisor.log", ec);
    }
    return removed;
}
}  // namespace

// What a killed supervisor left running (its project lock was free, so nothing
// supervises it) and the keeper does not hold (restore.cc re-adopts that) is stopped as `stop` stops it (stop signal, grace period,
// SIGKILL, the cgroup removed) before anything starts: a container never runs
// twice. Their files and records stay, as after a stop; orphans kept without
// --remove-orphans are left as they are, as docker compose leaves them.
void Supervisor::Impl::stop_survivors(const std::set<std::string>& adopted) {
    std::vector<state::ContainerRecord> records = pstate.read_all();
    std::vector<Leftover> list;
    for (const auto& r : records) {
        if (adopted.count(r.name)) continue;  // re-adopted (restore.cc): it keeps running
        const compose::Service* svc = nullptr;
        if (auto a = project.services.find(r.service); a != project.services.end()) svc = &a->second;
        else if (auto d = project.disabled_services.find(r.service); d != project.disabled_services.end()) svc = &d->second;
        if (!svc) continue;  // an orphan
        auto img = images_by_service.find(r.service);
        plan::ImageDefaults defaults;
        if (img != images_by_service.end()) defaults = image_defaults(img->second.config);
        int sig = SIGTERM;
        try {
            sig = plan::stop_signal(*svc, defaults);
        } catch (const Error& e) {
            spdlog::warn("{}: {}", r.name, e.what());
        }
        std::optional<int> grace;
        if (svc->stop_grace_period) grace = static_cast<int>((*svc->stop_grace_period + kSecond - 1) / kSecond);
        list.push_back({&r, sig, stop_grace(grace, opts)});
    }
    stop_leftovers(list);
    for (const auto& l : list) {
        state::ContainerRecord r = *l.rec;
        if (r.pid == 0 && (r.state == "exited" || r.state == "created")) continue;
        r.state = "exited";
        r.pid = 0;
        r.pid_start_time = 0;
        r.health.clear();
        r.exit_code.reset();
        r.exit_reason = "stopped by the next up: its supervisor was gone";
        r.finished_at = logs::format_time(logs::now_ns());
        pstate.write(r);
    }
}

std::map<std::string, std::string> volumes_in_use() {
    std::map<std::string, std::string> used;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state::runtime_dir(), ec)) {
        if (!e.is_directory()) continue;
        std::string project = e.path().filename().string();
        for (const auto& ps : {state::ProjectState(state::runtime_dir(), project),
                               state::one_off_state(state::runtime_dir(), project)})
            for (const auto& r : ps.read_all())
                if (r.pid > 0 && state::process_alive(r.pid, r.pid_start_time))
                    for (const auto& v : r.volumes) used.emplace(v, r.name);
    }
    return used;
}

std::vector<std::string> orphans(const compose::Project& model) {
    std::vector<plan::Current> current;
    for (const auto& r : state::ProjectState(state::runtime_dir(), model.name).read_all())
        current.push_back({r.name, r.service, r.config_hash, r.config_keys, false});
    plan::DiffOptions d;  // no service acted on: only the orphans to remove
    d.remove_orphans = true;
    std::vector<std::string> out;
    for (const auto& ch : plan::diff(current, model, d)) out.push_back(ch.container);
    return out;
}

void remove_orphans(const compose::Project& model) { cleanup(model.name, false, &model, true, true); }

std::vector<std::string> cleanup_project(const std::string& project, bool remove_volumes, const compose::Project* model,
                                         bool remove_orphans) {
    return cleanup(project, remove_volumes, model, remove_orphans, false);
}

}  // namespace berth::supervisor
