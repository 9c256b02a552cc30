#include "supervisor/supervisor.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/fdlimit.h"
#include "base/uv_handle.h"
#include "cgroups/cgroups.h"
#include "compose/loader.h"
#include "compose/units.h"
#include "control/control.h"
#include "images/store.h"
#include "logs/log_file.h"
#include "netns/dns.h"
#include "netns/link.h"
#include "netns/network.h"
#include "netns/nft_queue.h"
#include "netns/proxy.h"
#include "plan/plan.h"
#include "runtime/container.h"
#include "state/state.h"
#include "supervisor/container_spec.h"
#include "volumes/volume.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <set>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

constexpr int64_t kSecond = 1000000000;


std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int driver_opt_int(const compose::Network& n, const std::string& key) {
    auto it = n.driver_opts.find(key);
    if (it == n.driver_opts.end()) return 0;
    try {
        return std::stoi(it->second);
    } catch (...) {
        throw Error("network " + n.name + ": driver_opts " + key + " must be a number, not \"" + it->second + "\"");
    }
}

// What the network layer needs of a compose network.
netns::NetworkConfig network_config(const compose::Network& n) {
    if (!n.driver.empty() && n.driver != "bridge")
        throw Error("network " + n.name + ": driver \"" + n.driver + "\" is not supported on one node", "use the bridge driver");
    netns::NetworkConfig c;
    c.name = n.name;
    c.external = n.external;
    c.internal = n.internal;
    if (auto it = n.driver_opts.find("com.docker.network.bridge.name"); it != n.driver_opts.end()) c.bridge = it->second;
    c.mtu = driver_opt_int(n, "com.docker.network.driver.mtu");
    c.ipv6 = n.enable_ipv6.value_or(false);
    bool have4 = false, have6 = false;
    for (const auto& ipam : n.ipam_config) {
        if (ipam.subnet.find(':') != std::string::npos) {
            if (have6) continue;
            have6 = true;
            if (!c.ipv6)
                throw Error("IPv6 subnet " + ipam.subnet + " given, but IPv6 is not enabled",
                            "add `enable_ipv6: true` to the network");
            c.subnet6 = netns::Subnet6::parse(ipam.subnet);
            if (!ipam.gateway.empty()) c.gateway6 = netns::parse_ipv6(ipam.gateway);
            continue;
        }
        if (have4) continue;
        have4 = true;
        if (!ipam.subnet.empty()) c.subnet = netns::Subnet::parse(ipam.subnet);
        if (!ipam.gateway.empty()) c.gateway = netns::parse_ipv4(ipam.gateway);
        if (!ipam.ip_range.empty()) c.ip_range = netns::Subnet::parse(ipam.ip_range);
    }
    return c;
}

// A published port's host side for replica `index`: a fixed port, one of a range, or 0 (any).
struct HostPort {
    uint16_t first = 0, last = 0;
};
HostPort host_ports(const compose::Port& p) {
    HostPort h;
    if (p.published.empty()) return h;
    auto dash = p.published.find('-');
    try {
        h.first = static_cast<uint16_t>(std::stoul(p.published.substr(0, dash)));
        h.last = dash == std::string::npos ? h.first : static_cast<uint16_t>(std::stoul(p.published.substr(dash + 1)));
    } catch (...) {
        throw Error("invalid published port \"" + p.published + "\"");
    }
    return h;
}

std::string port_text(const std::string& host_ip, uint16_t host_port, const compose::Port& p) {
    return (host_ip.empty() ? "0.0.0.0" : host_ip) + ":" + std::to_string(host_port) + "->" + std::to_string(p.target) +
           "/" + p.protocol;
}

int signal_number(const std::string& name, int fallback) {
    if (name.empty()) return fallback;
    std::string n = name;
    if (n.rfind("SIG", 0) == 0) n = n.substr(3);
    for (int s = 1; s < NSIG; ++s)
        if (const char* a = sigabbrev_np(s); a && n == a) return s;
    try {
        return std::stoi(name);
    } catch (...) {
        return fallback;
    }
}

// A pipe whose ends close themselves.
struct Pipe {
    UniqueFd read, write;
};
Pipe make_pipe(int flags) {
    int fds[2];
    if (pipe2(fds, flags) < 0) throw Error::sys(errno, "pipe");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int stop_signal_of(const compose::Service& svc, const std::string& image_stop_signal) {
    return signal_number(svc.stop_signal.empty() ? image_stop_signal : svc.stop_signal, SIGTERM);
}

// Seconds a container has to exit after its stop signal: -t, stop_grace_period, or 10.
int stop_grace(const compose::Service& svc, const UpOptions& o) {
    if (o.stop_timeout) return *o.stop_timeout;
    if (svc.stop_grace_period) return static_cast<int>((*svc.stop_grace_period + kSecond - 1) / kSecond);
    return 10;
}

std::vector<std::string> cleanup(const std::string& project, bool remove_volumes, const compose::Project* model,
                                 bool remove_orphans, bool only_orphans);

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

}  // namespace

struct Unit;

struct Supervisor::Impl {
    compose::Project project;
    UpOptions opts;
    uv_loop_t loop{};
    std::string root = state::state_root();
    state::ProjectState pstate{state::runtime_dir(), project.name};
    images::Store store{root};
    std::vector<std::unique_ptr<Unit>> units;
    std::unique_ptr<control::Server> server;
    uv_signal_t* sigint = nullptr;
    uv_signal_t* sigterm = nullptr;
    int lock_fd = -1;
    bool stopping_all = false;
    bool remove_on_exit = false;
    bool ready_sent = false;
    int interrupts = 0;
    int exit_code = 0;
    std::vector<std::shared_ptr<control::Peer>> waiting_peers;
    struct Waiter {
        std::shared_ptr<control::Peer> peer;
        std::vector<std::string> names;  // answered once none of these runs or restarts
        bool until_running = false;      // restart: answered once all run again
    };
    std::vector<Waiter> waiters;
    std::map<const control::Peer*, nlohmann::json> peer_notes;  // extra fields for a waiter's reply
    std::deque<compose::Project> retired;  // earlier models: units may still point into them
    std::map<std::string, images::ResolvedImage> images_by_service;
    std::vector<std::shared_ptr<control::Peer>> subscribers;  // `events`
    std::vector<std::unique_ptr<Unit>> retired_units;          // removed by `rm`, freed with the loop
    std::unique_ptr<netns::Networks> nets;
    std::unique_ptr<netns::DnsServer> dns;
    std::unique_ptr<netns::NftQueue> nft;  // DNAT rules of published ports, installed beside the loop

    // Bridges, addresses and firewall tables of the networks these services use.
    void ensure_networks(const std::set<std::string>& services) {
        std::set<std::string> keys;
        for (const auto& n : services)
            for (const auto& [key, _] : project.services.at(n).networks) keys.insert(key);
        if (keys.empty()) return;
        if (!nets) {
            nets = std::make_unique<netns::Networks>(pstate.dir() + "/networks.json", state::runtime_dir() + "/networks.lock");
            if (const char* pools = std::getenv("BERTH_ADDRESS_POOLS"); pools && *pools) {
                try {
                    nets->set_pools(netns::parse_pools(pools));
                } catch (Error& e) {
                    throw e.wrap("BERTH_ADDRESS_POOLS");
                }
            }
        }
        if (!nft) nft = std::make_unique<netns::NftQueue>(&loop);
        if (!dns) {
            dns = std::make_unique<netns::DnsServer>(
                &loop, [this](const std::string& asker, const std::string& name) { return dns_lookup(asker, name); },
                netns::host_nameservers());
        }
        for (const auto& key : keys) {
            auto it = project.networks.find(key);
            if (it == project.networks.end()) throw Error("undefined network " + key);
            try {
                nets->ensure(network_config(it->second));
            } catch (Error& e) {
                throw e.wrap("network " + it->second.name);
            }
        }
    }
    // Fixed published ports: taken twice in the file, or already taken on the host, fail `up` now.
    void check_ports(const std::vector<plan::ContainerPlan>& plans, const std::set<std::string>& wanted);
    std::optional<netns::DnsAnswer> dns_lookup(const std::string& asker, const std::string& name);
    void lookup_one_off(const Unit& asker, const std::string& qname, netns::DnsAnswer& out);

    std::map<std::string, std::string> last_event;           // name → state+health last sent
    void emit_event(const state::ContainerRecord& r) {
        std::string key = r.state + "/" + r.health;
        if (last_event[r.name] == key) return;
        last_event[r.name] = key;
        if (opts.on_container) opts.on_container(r.name, r.state, r.health, r.exit_code);  // notify hook
        std::string action = r.health.empty() || r.state != "running" ? r.state : "health_status: " + r.health;
        if (opts.on_progress && !ready_sent) opts.on_progress(r.name, action);
        if (subscribers.empty()) return;
        nlohmann::json ev = {{"time", logs::format_time(logs::now_ns())}, {"type", "container"},
                             {"action", action},
                             {"id", r.name}, {"service", r.service}, {"project", r.project}};
        if (r.exit_code && r.state == "exited") ev["exit_code"] = *r.exit_code;
        if (!r.exit_reason.empty() && r.state == "exited") ev["exit_reason"] = r.exit_reason;
        for (auto it = subscribers.begin(); it != subscribers.end();) {
            if ((*it)->closed()) {
                it = subscribers.erase(it);
                continue;
            }
            (*it)->send(ev);
            ++it;
        }
    }
    void answer_waiters();
    void advance_stop();
    void restart_dependents(const std::string& service);
    Unit* add_unit(const plan::ContainerPlan& cp);
    void apply(compose::Project next, const std::vector<std::string>& services, bool force,
               const std::shared_ptr<control::Peer>& peer);
    void handle(const control::Json& req, const std::shared_ptr<control::Peer>& peer);

    Impl(compose::Project p, UpOptions o) : project(std::move(p)), opts(std::move(o)) {}

    void ready(bool ok, const std::string& err) {
        if (ready_sent) return;
        ready_sent = true;
        if (opts.on_ready) opts.on_ready(ok, err);
    }
    void fail_up(const std::string& err);
    void start_failed(Unit& u);
    void stop_survivors();
    void schedule();
    void stop_all(bool kill_now);
    void check_done();
    Unit* unit_of(const std::string& service);
    bool condition_met(const std::string& service, const std::string& condition, std::string& failure);
};

struct Unit {
    Supervisor::Impl* sup;
    plan::ContainerPlan cp;
    const compose::Service* svc;
    images::ResolvedImage image;
    state::ContainerRecord rec;
    std::optional<runtime::Container> c;
    std::unique_ptr<logs::LogWriter> log;
    std::string partial[2];
    std::deque<std::string> tail;  // last lines, for error messages
    uv_poll_t* exit_poll = nullptr;
    uv_pipe_t* pipes[2] = {nullptr, nullptr};
    uv_timer_t* timer = nullptr;         // restart backoff or stop grace
    uv_timer_t* health_timer = nullptr;
    uv_poll_t* health_poll = nullptr;
    std::optional<runtime::ExecProcess> health_proc;
    int health_out = -1;
    int health_failures = 0;
    int64_t started_ns = 0;
    bool started_once = false;
    bool pending = true;      // waiting for dependencies
    bool done = false;        // exited for good (no restart coming)
    int64_t backoff_ms = 100;
    bool restart_after_stop = false;
    bool recreate = false;  // start from a fresh container filesystem
    std::vector<std::unique_ptr<netns::PortProxy>> proxies;  // published ports, for the life of the unit
    // The same ports on [::] for those published on every address (null where
    // the host has no IPv6): forwarded by the kernel to a container with an
    // IPv6 address, else proxied to its IPv4 address.
    std::vector<std::unique_ptr<netns::PortProxy>> proxies6;
    std::string proxies_key;  // the ports configuration they were made for
    uint32_t primary_ip = 0;  // address on the first network: where published ports forward to
    std::string primary_net;  // … and that network's name
    bool published = false;   // kernel forwarding (DNAT) rules are in place

    const std::string& name() const { return cp.name; }
    bool running() const { return c && !c->exited(); }

    void save() {
        sup->emit_event(rec);
        try {
            sup->pstate.write(rec);
        } catch (const std::exception& e) {
            spdlog::warn("{}: cannot write state: {}", name(), e.what());
        }
    }
    void set_state(const std::string& s) {
        rec.state = s;
        save();
    }

    // ---- output ----
    void on_output(int stream, const char* data, size_t n) {
        int64_t t = logs::now_ns();
        if (log) {
            log->write(stream ? logs::Stream::Stderr : logs::Stream::Stdout, std::string_view(data, n), t);
            log->flush();  // one write per chunk read: `logs` sees it at once
        }
        // Whole lines go to the terminal (attached) and the tail kept for error messages.
        std::string& buf = partial[stream];
        std::string_view chunk(data, n);
        size_t start = 0, nl;
        while ((nl = chunk.find('\n', start)) != std::string_view::npos) {
            if (buf.empty()) {
                emit(chunk.substr(start, nl - start));
            } else {
                buf.append(chunk.substr(start, nl - start));
                emit(buf);
                buf.clear();
            }
            start = nl + 1;
        }
        buf.append(chunk.substr(start));
        if (buf.size() > 16384) {
            emit(buf);
            buf.clear();
        }
        if (sup->opts.attach) std::fflush(stdout);
    }
    void emit(std::string_view line) {
        if (tail.size() >= 10) tail.pop_front();
        tail.emplace_back(line);
        if (sup->opts.on_line && sup->opts.on_line(cp.service, name(), line)) return;  // notify hook: the journal
        if (!sup->opts.attach) return;
        if (sup->opts.color) {
            static const int palette[] = {36, 33, 32, 35, 34, 91, 96, 93, 92, 95};
            int c = palette[std::hash<std::string>{}(cp.service) % 10];
            std::fprintf(stdout, "\x1b[%dm%s  |\x1b[0m %.*s\n", c, name().c_str(), static_cast<int>(line.size()), line.data());
        } else {
            std::fprintf(stdout, "%s  | %.*s\n", name().c_str(), static_cast<int>(line.size()), line.data());
        }
    }
    void open_pipe(int stream, int fd) {
        auto* p = new_handle<uv_pipe_t>();
        uv_pipe_init(&sup->loop, p, 0);
        uv_pipe_open(p, fd);
        p->data = this;
        pipes[stream] = p;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(p),
            [](uv_handle_t*, size_t, uv_buf_t* b) {
                constexpr size_t kRead = 256 * 1024;  // a large read drains a busy pipe in few calls
                b->base = new char[kRead];
                b->len = kRead;
            },
            stream == 0 ? on_read<0> : on_read<1>);
    }
    template <int S>
    static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
        auto* u = static_cast<Unit*>(s->data);
        if (n > 0) u->on_output(S, b->base, static_cast<size_t>(n));
        delete[] b->base;
        if (n < 0) {
            if (!u->partial[S].empty()) {
                u->emit(u->partial[S]);
                u->partial[S].clear();
                if (u->sup->opts.attach) std::fflush(stdout);
            }
            close_handle(u->pipes[S]);
        }
    }

    // ---- start / exit ----
    // False when it cannot start: then it is exited (127) with the error as its exit reason.
    bool start() {
        pending = false;
        std::string hash = plan::config_hash(sup->project, cp.service);
        runtime::ContainerSpec spec;
        runtime::StartHooks hooks;
        try {
            NetworkSetup net;
            std::vector<netns::Attachment> atts = plan_network(net);
            spec = make_container_spec(sup->project, *svc, image, name(), sup->root, {}, net);
            rec.volumes.clear();
            for (const auto& m : svc->volumes)
                if (m.type == "volume") rec.volumes.push_back(volume_name(sup->project, m, name()));
            open_ports();
            if (!atts.empty())
                hooks.before_continue = [this, atts](pid_t pid) {
                    UniqueFd fd(netns::open_netns(pid));
                    sup->nets->attach(name(), fd.get(), atts);
                    sup->dns->serve(name(), fd.get(), svc->dns);
                };
            bool changed = rec.config_hash != hash && !sup->opts.no_recreate;
            if (fs::exists(spec.state_dir) && (changed || recreate)) {
                fs::remove_all(spec.state_dir);  // configuration changed: a new container
                log.reset();
            }
            recreate = false;
            rec.config_hash = hash;
            rec.bundle_dir = spec.state_dir;
            rec.cgroup = spec.cgroup_parent + "/" + name();
            Pipe out = make_pipe(O_CLOEXEC), err = make_pipe(O_CLOEXEC);
            // Bigger pipes: fewer wake-ups when a container writes a lot (best effort).
            fcntl(out.read.get(), F_SETPIPE_SZ, 1 << 20);
            fcntl(err.read.get(), F_SETPIPE_SZ, 1 << 18);
            fs::create_directories(spec.state_dir);
            if (!svc->logging || svc->logging->driver.empty() || svc->logging->driver == "json-file" ||
                svc->logging->driver == "local") {
                logs::LogOptions lo;
                if (svc->logging) {
                    auto& o = svc->logging->options;
                    if (auto it = o.find("max-size"); it != o.end()) lo.max_size = compose::parse_bytes(it->second);
                    if (auto it = o.find("max-file"); it != o.end()) lo.max_file = std::max(1, std::stoi(it->second));
                }
                if (!log) log = std::make_unique<logs::LogWriter>(spec.state_dir + "/" + name() + "-json.log", lo);
            }
            rec.state = "starting";
            save();
            c.emplace(runtime::Container::start(spec, runtime::Stdio{-1, out.write.get(), err.write.get()}, hooks));
            out.write.reset();
            err.write.reset();
            open_pipe(0, out.read.release());
            open_pipe(1, err.read.release());
        } catch (const std::exception& e) {
            rec.state = "exited";
            rec.exit_code = 127;  // as docker reports a container that could not start
            rec.exit_reason = e.what();
            rec.pid = 0;
            rec.finished_at = logs::format_time(logs::now_ns());
            done = true;
            save();
            sup->start_failed(*this);
            return false;
        }
        started_once = true;
        started_ns = logs::now_ns();
        rec.pid = c->pid();
        rec.pid_start_time = state::process_start_time(c->pid());
        rec.started_at = logs::format_time(started_ns);
        rec.exit_code.reset();
        rec.exit_reason.clear();
        rec.state = "running";
        rec.health = has_healthcheck() ? "starting" : "";
        save();
        point_proxies(primary_ip);
        publish_ports();
        exit_poll = new_handle<uv_poll_t>();
        uv_poll_init(&sup->loop, exit_poll, c->pidfd());
        exit_poll->data = this;
        uv_poll_start(exit_poll, UV_READABLE, [](uv_poll_t* p, int, int) { static_cast<Unit*>(p->data)->on_exit(); });
        if (has_healthcheck()) schedule_health(first_health_delay());
        if (sup->opts.attach) std::fprintf(stderr, "Container %s  Started\n", name().c_str());
        return true;
    }

    // The addresses of this container on its networks (stable across restarts),
    // its /etc/hosts entries, or the namespace it shares (network_mode).
    std::vector<netns::Attachment> plan_network(NetworkSetup& net) {
        std::vector<netns::Attachment> atts;
        rec.networks.clear();
        rec.networks6.clear();
        primary_ip = 0;
        primary_net.clear();
        const auto& mode = svc->network_mode;
        if (auto shared = shared_network_of(*svc)) {
            const std::string& other = *shared;
            Unit* peer = nullptr;
            for (auto& u : sup->units)
                if ((u->cp.service == other || u->name() == other) && u->running()) peer = u.get();
            if (!peer) throw Error("network_mode " + mode + ": no running container of " + other + " to share a network with");
            net.net_ns_path = "/proc/" + std::to_string(peer->c->pid()) + "/ns/net";
            net.embedded_dns = !peer->rec.networks.empty();
            rec.networks = peer->rec.networks;
            rec.networks6 = peer->rec.networks6;
            primary_ip = peer->primary_ip;
            return atts;
        }
        if (svc->networks.empty() || !sup->nets) return atts;
        // Highest priority first (it gets eth0 and the default route), then by name.
        std::vector<std::pair<std::string, const compose::ServiceNetwork*>> order;
        for (const auto& [key, sn] : svc->networks) order.emplace_back(key, &sn);
        std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
            return a.second->priority.value_or(0) > b.second->priority.value_or(0);
        });
        for (const auto& [key, sn] : order) {
            const auto& real = sup->project.networks.at(key).name;
            std::optional<uint32_t> want;
            if (!sn->ipv4_address.empty()) want = netns::parse_ipv4(sn->ipv4_address);
            uint32_t ip;
            try {
                ip = sup->nets->assign(real, name(), want);
            } catch (Error& e) {
                throw e.wrap("network " + real);
            }
            std::optional<netns::Ip6> ip6;
            try {
                std::optional<netns::Ip6> want6;
                if (!sn->ipv6_address.empty()) want6 = netns::parse_ipv6(sn->ipv6_address);
                ip6 = sup->nets->address6_for(real, ip, want6);
            } catch (Error& e) {
                throw e.wrap("service \"" + cp.service + "\": network " + real);
            }
            atts.push_back({real, "eth" + std::to_string(atts.size()), ip, atts.empty(), ip6});
            rec.networks[real] = netns::format_ipv4(ip);
            if (ip6) rec.networks6[real] = netns::format_ipv6(*ip6);
            if (!primary_ip) primary_ip = ip, primary_net = real;
        }
        std::vector<std::string> names{svc->hostname.empty() ? name().substr(0, 63) : svc->hostname};
        if (!svc->hostname.empty() && !svc->domainname.empty()) names.insert(names.begin(), svc->hostname + "." + svc->domainname);
        net.own.push_back({netns::format_ipv4(primary_ip), names});
        if (auto it = rec.networks6.find(primary_net); it != rec.networks6.end()) net.own.push_back({it->second, names});
        net.embedded_dns = true;
        return atts;
    }

    // Listeners for the published ports, made once and kept while the
    // configuration stays the same (a restart keeps its host ports).
    void open_ports() {
        if (svc->network_mode == "host" || svc->network_mode == "none") {
            proxies.clear();
            proxies6.clear();
            rec.ports.clear();
            return;
        }
        std::string key;
        for (const auto& p : svc->ports) key += p.host_ip + "|" + p.published + "|" + std::to_string(p.target) + "|" + p.protocol + ";";
        if (key == proxies_key && proxies.size() == svc->ports.size()) return;
        proxies.clear();
        proxies6.clear();
        rec.ports.clear();
        proxies_key.clear();
        for (const auto& p : svc->ports) {
            HostPort hp = host_ports(p);
            std::unique_ptr<netns::PortProxy> proxy;
            if (hp.first != hp.last) {  // a range: the first port of it that binds
                for (uint32_t port = hp.first; port <= hp.last && !proxy; ++port) {
                    try {
                        proxy = std::make_unique<netns::PortProxy>(&sup->loop, p.host_ip, static_cast<uint16_t>(port), p.protocol);
                    } catch (const Error&) {
                    }
                }
                if (!proxy)
                    throw Error("service \"" + cp.service + "\": every port of " + p.published + "/" + p.protocol + " is in use on the host");
            } else {
                try {
                    proxy = std::make_unique<netns::PortProxy>(&sup->loop, p.host_ip, hp.first, p.protocol);
                } catch (Error& e) {
                    throw e.wrap("service \"" + cp.service + "\"");
                }
            }
            rec.ports.push_back(port_text(p.host_ip, proxy->port(), p));
            std::unique_ptr<netns::PortProxy> proxy6;
            if ((p.host_ip.empty() || p.host_ip == "0.0.0.0") && netns::ipv6_enabled()) {
                try {
                    proxy6 = std::make_unique<netns::PortProxy>(&sup->loop, "::", proxy->port(), p.protocol);
                } catch (const Error& e) {
                    spdlog::warn("service \"{}\": published on IPv4 only: {}", cp.service, e.what());
                }
            }
            if (proxy6)  // shown as docker shows it: "[::]:8080->80/tcp" after the IPv4 one
                rec.ports.push_back("[::]:" + std::to_string(proxy6->port()) + "->" + std::to_string(p.target) + "/" +
                                    p.protocol);
            proxies.push_back(std::move(proxy));
            proxies6.push_back(std::move(proxy6));
        }
        proxies_key = key;
    }

    // The kernel forwards published ports while the container runs (DNAT): far
    // faster than the proxy, which stays as the fallback and holds the port.
    // nft runs beside the loop (NftQueue, in order); until the rules are in,
    // the proxy forwards.
    void publish_ports() {
        if (proxies.empty() || primary_net.empty()) return;  // no network of its own (network_mode): the proxy forwards
        std::vector<netns::PublishedPort> pp;
        for (size_t i = 0; i < proxies.size(); ++i)
            pp.push_back({svc->ports[i].host_ip, proxies[i]->port(), static_cast<uint16_t>(svc->ports[i].target),
                          svc->ports[i].protocol});
        std::optional<netns::Ip6> ip6;
        if (auto it = rec.networks6.find(primary_net); it != rec.networks6.end()) ip6 = netns::parse_ipv6(it->second);
        std::string script = sup->nets->publish_script(name(), primary_net, primary_ip, pp, ip6);
        if (script.empty()) return;
        published = true;
        sup->nft->apply(std::move(script), [n = name()](const std::string& err) {
            if (!err.empty()) spdlog::warn("{}: published ports go through the proxy only: {}", n, err);
        });
    }
    // Where the proxies forward: the container's address, or 0 (refuse) while it does not run.
    void point_proxies(uint32_t ip) {
        for (size_t i = 0; i < proxies.size(); ++i)
            for (auto* p : {proxies[i].get(), proxies6[i].get()})
                if (p) p->set_target(ip, static_cast<uint16_t>(svc->ports[i].target));
    }
    void unpublish_ports() {
        if (!published) return;
        published = false;
        sup->nft->apply(sup->nets->unpublish_script(name(), primary_net), [n = name()](const std::string& err) {
            if (!err.empty()) spdlog::warn("{}: {}", n, err);
        });
    }

    void on_exit() {
        uv_poll_stop(exit_poll);
        close_handle(exit_poll);
        cancel_health();
        runtime::ExitStatus st = c->wait();
        point_proxies(0);
        unpublish_ports();
        if (sup->dns) sup->dns->stop(name());
        try {
            c->teardown(false);
        } catch (const std::exception& e) {
            spdlog::warn("{}: teardown: {}", name(), e.what());
        }
        if (log) log->flush_partial(logs::now_ns());
        rec.exit_code = st.code;
        rec.exit_reason = st.oom_killed ? "OOMKilled" : st.signal ? st.reason() : "";
        rec.finished_at = logs::format_time(logs::now_ns());
        rec.pid = 0;
        rec.health = "";
        if (timer) {
            uv_timer_stop(timer);
            close_handle(timer);
        }
        if (sup->opts.attach)
            std::fprintf(stderr, "%s exited with code %d%s\n", name().c_str(), st.code,
                         st.oom_killed ? " (OOMKilled)" : "");
        if (restart_after_stop && !sup->stopping_all) {
            restart_after_stop = false;
            rec.stopped_by_user = false;
            rec.state = "exited";
            save();
            start();
            sup->answer_waiters();
            return;
        }
        bool ran_long = logs::now_ns() - started_ns > 10 * kSecond;
        if (ran_long) backoff_ms = 100;
        if (!sup->stopping_all && !rec.stopped_by_user && should_restart(st.code)) {
            rec.state = "restarting";
            rec.restarts++;
            save();
            sup->restart_dependents(cp.service);
            timer = new_handle<uv_timer_t>();
            uv_timer_init(&sup->loop, timer);
            timer->data = this;
            uv_timer_start(timer, [](uv_timer_t* t) {
                auto* u = static_cast<Unit*>(t->data);
                close_handle(u->timer);
                if (!u->sup->stopping_all) u->start();
            }, static_cast<uint64_t>(backoff_ms), 0);
            backoff_ms = std::min<int64_t>(backoff_ms * 2, 60000);
        } else {
            rec.state = "exited";
            done = true;
            save();
        }
        if (sup->opts.abort_on_container_exit && !sup->stopping_all) {
            sup->exit_code = st.code;
            sup->stop_all(false);
        }
        if (sup->opts.exit_code_from && *sup->opts.exit_code_from == cp.service) sup->exit_code = st.code;
        sup->answer_waiters();
        sup->advance_stop();
        sup->schedule();
        sup->check_done();
    }

    bool should_restart(int code) const {
        std::string r = svc->restart;
        if (svc->deploy && !svc->deploy->restart_condition.empty()) {
            const std::string& c = svc->deploy->restart_condition;
            if (c == "none") return false;
            if (c == "any") return true;
            if (c == "on-failure") return code != 0 && (!svc->deploy->restart_max_attempts ||
                                                        rec.restarts < static_cast<int>(*svc->deploy->restart_max_attempts));
        }
        if (r == "always" || r == "unless-stopped") return true;
        if (r.rfind("on-failure", 0) == 0) {
            if (code == 0) return false;
            auto colon = r.find(':');
            if (colon == std::string::npos) return true;
            return rec.restarts < std::stoi(r.substr(colon + 1));
        }
        return false;
    }

    void stop(int grace_s, bool by_user) {
        rec.stopped_by_user = by_user || rec.stopped_by_user;
        if (timer && rec.state == "restarting") {  // a restart was due: cancel it
            uv_timer_stop(timer);
            close_handle(timer);
            rec.state = "exited";
            done = true;
            save();
            return;
        }
        pending = false;
        if (!running()) return;
        if (rec.state == "paused") {
            try {
                c->thaw();  // a frozen process cannot take its stop signal
            } catch (const std::exception&) {
            }
        }
        rec.state = "stopping";
        save();
        c->kill(stop_signal_of(*svc, image.config.stop_signal));
        if (grace_s <= 0) {
            c->kill(SIGKILL);
            return;
        }
        timer = new_handle<uv_timer_t>();
        uv_timer_init(&sup->loop, timer);
        timer->data = this;
        uv_timer_start(timer, [](uv_timer_t* t) {
            auto* u = static_cast<Unit*>(t->data);
            close_handle(u->timer);
            if (u->running()) u->c->kill(SIGKILL);
        }, static_cast<uint64_t>(grace_s) * 1000, 0);
    }

    int grace() const { return stop_grace(*svc, sup->opts); }

    // ---- health ----
    bool has_healthcheck() const {
        if (svc->healthcheck) return !svc->healthcheck->disable && !svc->healthcheck->test.empty();
        return image.config.healthcheck && !image.config.healthcheck->test.empty() &&
               image.config.healthcheck->test[0] != "NONE";
    }
    int64_t interval() const {
        auto* h = svc->healthcheck ? &*svc->healthcheck : nullptr;
        return (h && h->interval) ? *h->interval : image.config.healthcheck && image.config.healthcheck->interval ? image.config.healthcheck->interval : 30 * kSecond;
    }
    int64_t timeout() const {
        auto* h = svc->healthcheck ? &*svc->healthcheck : nullptr;
        return (h && h->timeout) ? *h->timeout : image.config.healthcheck && image.config.healthcheck->timeout ? image.config.healthcheck->timeout : 30 * kSecond;
    }
    int64_t start_period() const {
        auto* h = svc->healthcheck ? &*svc->healthcheck : nullptr;
        return (h && h->start_period) ? *h->start_period : image.config.healthcheck ? image.config.healthcheck->start_period : 0;
    }
    int64_t start_interval() const {
        auto* h = svc->healthcheck ? &*svc->healthcheck : nullptr;
        return (h && h->start_interval) ? *h->start_interval : image.config.healthcheck && image.config.healthcheck->start_interval ? image.config.healthcheck->start_interval : 5 * kSecond;
    }
    int retries() const {
        auto* h = svc->healthcheck ? &*svc->healthcheck : nullptr;
        if (h && h->retries) return static_cast<int>(*h->retries);
        if (image.config.healthcheck && image.config.healthcheck->retries) return image.config.healthcheck->retries;
        return 3;
    }
    std::vector<std::string> test() const {
        std::vector<std::string> t = svc->healthcheck && !svc->healthcheck->test.empty() ? svc->healthcheck->test
                                                                                          : image.config.healthcheck->test;
        if (t.empty()) return t;
        if (t[0] == "CMD") return {t.begin() + 1, t.end()};
        if (t[0] == "CMD-SHELL") return {"/bin/sh", "-c", t.size() > 1 ? t[1] : ""};
        return t;
    }
    bool in_start_period() const { return logs::now_ns() - started_ns < start_period(); }
    int64_t first_health_delay() const { return start_period() > 0 ? std::min(start_interval(), interval()) : interval(); }

    void schedule_health(int64_t delay_ns) {
        if (!health_timer) {
            health_timer = new_handle<uv_timer_t>();
            uv_timer_init(&sup->loop, health_timer);
            health_timer->data = this;
        }
        uv_timer_start(health_timer, [](uv_timer_t* t) { static_cast<Unit*>(t->data)->run_health(); },
                       static_cast<uint64_t>(std::max<int64_t>(delay_ns / 1000000, 1)), 0);
    }
    void cancel_health() {
        if (health_timer) uv_timer_stop(health_timer), close_handle(health_timer);
        if (health_poll) uv_poll_stop(health_poll), close_handle(health_poll);
        if (health_proc) {
            health_proc->kill(SIGKILL);
            health_proc->wait();
            health_proc.reset();
        }
        if (health_out >= 0) ::close(health_out), health_out = -1;
    }
    void run_health() {
        if (!running()) return;
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return schedule_health(interval());
        runtime::ExecSpec es;
        es.argv = test();
        es.env = image.config.env;
        for (const auto& [k, v] : svc->environment)
            if (v) es.env.push_back(k + "=" + *v);
        health_check_started = logs::now_ns();
        try {
            health_proc.emplace(c->exec(es, runtime::Stdio{-1, p[1], p[1]}));
        } catch (const std::exception& e) {
            ::close(p[0]), ::close(p[1]);
            record_health(1, e.what());
            return;
        }
        ::close(p[1]);
        health_out = p[0];
        health_poll = new_handle<uv_poll_t>();
        uv_poll_init(&sup->loop, health_poll, health_proc->pidfd());
        health_poll->data = this;
        uv_poll_start(health_poll, UV_READABLE, [](uv_poll_t* h, int, int) { static_cast<Unit*>(h->data)->health_done(false); });
        uv_timer_start(health_timer, [](uv_timer_t* t) { static_cast<Unit*>(t->data)->health_done(true); },
                       static_cast<uint64_t>(std::max<int64_t>(timeout() / 1000000, 1)), 0);
    }
    int64_t health_check_started = 0;
    void health_done(bool timed_out) {
        uv_timer_stop(health_timer);
        uv_poll_stop(health_poll);
        close_handle(health_poll);
        if (timed_out) health_proc->kill(SIGKILL);
        runtime::ExitStatus st = health_proc->wait();
        health_proc.reset();
        std::string output;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(health_out, buf, sizeof buf)) > 0 && output.size() < 4096) output.append(buf, static_cast<size_t>(n));
        ::close(health_out);
        health_out = -1;
        if (timed_out) output = "Health check exceeded timeout (" + compose::format_duration(timeout()) + ")";
        record_health(timed_out ? -1 : st.code, output);
    }
    void record_health(int code, const std::string& output) {
        state::HealthResult r;
        r.start = logs::format_time(health_check_started);
        r.end = logs::format_time(logs::now_ns());
        r.exit_code = code;
        r.output = output;
        rec.health_log.push_back(r);
        if (rec.health_log.size() > 5) rec.health_log.erase(rec.health_log.begin());
        if (code == 0) {
            health_failures = 0;
            rec.health = "healthy";
        } else if (!in_start_period()) {
            if (++health_failures >= retries()) rec.health = "unhealthy";
        }
        save();
        if (running()) schedule_health(rec.health == "starting" && in_start_period() ? start_interval() : interval());
        sup->schedule();
    }

    void close_all() {
        cancel_health();
        if (timer) uv_timer_stop(timer), close_handle(timer);
        if (exit_poll) uv_poll_stop(exit_poll), close_handle(exit_poll);
        for (auto*& p : pipes) close_handle(p);
    }
};

// `r`'s addresses on `net` (a network the asker is on), each once; IPv6 only
// where the asker has IPv6 on that network too.
static void add_addresses(const state::ContainerRecord& r, const std::string& net, const state::ContainerRecord& asker,
                          netns::DnsAnswer& out) {
    uint32_t v4 = netns::parse_ipv4(r.networks.at(net));
    if (std::find(out.v4.begin(), out.v4.end(), v4) == out.v4.end()) out.v4.push_back(v4);
    auto six = r.networks6.find(net);
    if (six == r.networks6.end() || !asker.networks6.count(net)) return;
    netns::Ip6 v6 = netns::parse_ipv6(six->second);
    if (std::find(out.v6.begin(), out.v6.end(), v6) == out.v6.end()) out.v6.push_back(v6);
}

std::optional<netns::DnsAnswer> Supervisor::Impl::dns_lookup(const std::string& asker, const std::string& qname) {
    Unit* a = nullptr;
    for (auto& u : units)
        if (u->name() == asker) a = u.get();
    if (!a) return std::nullopt;
    // `links: [db:database]`: "database" is db's name for this container only.
    std::string linked;
    for (const auto& l : a->svc->links) {
        auto colon = l.find(':');
        std::string alias = colon == std::string::npos ? l : l.substr(colon + 1);
        if (lower(alias) == qname) linked = l.substr(0, colon);
    }
    netns::DnsAnswer out;
    for (auto& u : units) {
        if (!u->running()) continue;
        for (const auto& [net, ip] : u->rec.networks) {
            if (!a->rec.networks.count(net)) continue;  // only the networks the asker shares
            bool match = lower(u->cp.service) == qname || lower(u->name()) == qname ||
                         (!u->svc->hostname.empty() && lower(u->svc->hostname) == qname) || u->cp.service == linked;
            if (!match)
                for (const auto& [key, sn] : u->svc->networks) {
                    auto pn = project.networks.find(key);
                    if (pn == project.networks.end() || pn->second.name != net) continue;
                    for (const auto& al : sn.aliases) match |= lower(al) == qname;
                }
            if (match) add_addresses(u->rec, net, a->rec, out);
        }
    }
    if (out.empty()) lookup_one_off(*a, qname, out);
    if (out.empty()) return std::nullopt;
    return out;
}

// One-off containers (`berth run`) record themselves under runs/: their
// container names ("<project>-<service>-run-…" or `--name`) resolve too. With
// none running, a forwarded lookup costs one stat here.
void Supervisor::Impl::lookup_one_off(const Unit& asker, const std::string& qname, netns::DnsAnswer& out) {
    auto runs = state::one_off_state(state::runtime_dir(), project.name);
    std::error_code ec;
    if (fs::is_empty(runs.dir() + "/containers", ec) || ec) return;
    for (const auto& r : runs.read_all()) {
        if (lower(r.name) != qname || !state::process_alive(r.pid, r.pid_start_time)) continue;
        for (const auto& [net, _] : r.networks)
            if (asker.rec.networks.count(net)) add_addresses(r, net, asker.rec, out);
    }
}

// What a killed supervisor left running (its project lock was free, so nothing
// supervises it) is stopped as `stop` stops it (stop signal, grace period,
// SIGKILL, the cgroup removed) before anything starts: a container never runs
// twice. Their files and records stay, as after a stop; orphans kept without
// --remove-orphans are left as they are, as docker compose leaves them.
void Supervisor::Impl::stop_survivors() {
    std::vector<state::ContainerRecord> records = pstate.read_all();
    std::vector<Leftover> list;
    for (const auto& r : records) {
        const compose::Service* svc = nullptr;
        if (auto a = project.services.find(r.service); a != project.services.end()) svc = &a->second;
        else if (auto d = project.disabled_services.find(r.service); d != project.disabled_services.end()) svc = &d->second;
        if (!svc) continue;  // an orphan
        auto img = images_by_service.find(r.service);
        list.push_back({&r, stop_signal_of(*svc, img == images_by_service.end() ? "" : img->second.config.stop_signal),
                        stop_grace(*svc, opts)});
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

void Supervisor::Impl::check_ports(const std::vector<plan::ContainerPlan>& plans, const std::set<std::string>& wanted) {
    std::map<std::string, std::string> owner;  // "ip:port/proto" → container
    for (const auto& cp : plans) {
        if (!wanted.count(cp.service)) continue;
        const auto& svc = project.services.at(cp.service);
        if (svc.network_mode == "host" || svc.network_mode == "none") continue;
        for (const auto& p : svc.ports) {
            HostPort hp = host_ports(p);
            if (hp.first == 0 || hp.first != hp.last) continue;  // any port, or a range: chosen at start
            std::string key = (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" + std::to_string(hp.first) + "/" + p.protocol;
            auto [it, fresh] = owner.emplace(key, cp.name);
            if (!fresh)
                throw Error("port " + key + " is published by both " + it->second + " and " + cp.name,
                            "a fixed host port serves one container: use a range (\"8000-8010:80\") or drop the host port");
            int err = netns::port_bind_error(p.host_ip, hp.first, p.protocol);
            if (err == EADDRINUSE)
                throw Error("service \"" + cp.service + "\": port " + key + " is already in use on the host",
                            "stop what listens there, or publish another host port in `ports:`");
            if (err == EADDRNOTAVAIL)
                throw Error("service \"" + cp.service + "\": cannot publish port " + key + ": " + p.host_ip +
                                " is not an address of this host (or its interface is down)",
                            "publish on an address the host has, or leave the address out to publish on all");
            if (err != 0)
                throw Error("service \"" + cp.service + "\": cannot publish port " + key + ": " + std::strerror(err));
        }
    }
}

Unit* Supervisor::Impl::unit_of(const std::string& service) {
    for (auto& u : units)
        if (u->cp.service == service) return u.get();
    return nullptr;
}

bool Supervisor::Impl::condition_met(const std::string& service, const std::string& cond, std::string& failure) {
    bool any = false;
    for (auto& u : units) {
        if (u->cp.service != service) continue;
        any = true;
        if (cond == "service_completed_successfully") {
            if (u->done && u->rec.exit_code && *u->rec.exit_code != 0) {
                failure = "service \"" + service + "\" didn't complete successfully: exit " + std::to_string(*u->rec.exit_code);
                return false;
            }
            if (!(u->done && u->rec.exit_code == 0)) return false;
        } else if (cond == "service_healthy") {
            if (u->rec.health == "unhealthy" || (u->done && u->started_once)) {
                failure = "dependency service \"" + service + "\" is " +
                          (u->rec.health == "unhealthy" ? "unhealthy" : "not running (exited)");
                return false;
            }
            if (!u->has_healthcheck()) {
                failure = "dependency service \"" + service + "\" has no healthcheck, so it can never be service_healthy";
                return false;
            }
            if (u->rec.health != "healthy") return false;
        } else {
            if (!u->started_once) return false;
        }
    }
    return any;
}

void Supervisor::Impl::schedule() {
    if (stopping_all) return;
    // Passes until nothing more starts: a start can satisfy a unit earlier in the list.
    for (bool progress = true; progress;) {
    progress = false;
    for (auto& u : units) {
        if (!u->pending) continue;
        bool go = true;
        for (const auto& [dep, d] : u->svc->depends_on) {
            if (!unit_of(dep)) {
                if (d.required && !opts.no_deps && project.services.count(dep)) go = false;
                continue;
            }
            std::string failure;
            if (!condition_met(dep, d.condition, failure)) {
                go = false;
                if (!failure.empty()) {
                    Unit* du = unit_of(dep);
                    std::string logs;
                    for (const auto& l : du->tail) logs += "\n  " + du->name() + "  | " + l;
                    u->pending = false;  // not started: `up` or `start` tries again
                    u->rec.exit_reason = failure;
                    u->save();
                    fail_up(failure + (logs.empty() ? "" : "; its last output:" + logs));
                    if (stopping_all) return;
                    break;
                }
            }
        }
        if (go) {
            u->start();
            progress = true;
        }
        if (stopping_all) return;
    }
    }
    answer_waiters();  // a start above may settle a waiting `up`/`restart`
    bool all_started = std::all_of(units.begin(), units.end(), [&](auto& u) {
        if (!u->started_once) return false;
        if (!opts.wait_healthy) return true;
        if (u->done) return u->rec.exit_code == 0;  // a one-shot job that completed
        return u->running() && (!u->has_healthcheck() || u->rec.health == "healthy");
    });
    if (all_started) ready(true, "");
    if (opts.wait_healthy && !ready_sent)
        for (auto& u : units)
            if (u->rec.health == "unhealthy" || (u->done && u->rec.exit_code != 0)) {
                fail_up("container " + u->name() + " is " +
                        (u->rec.health == "unhealthy" ? "unhealthy" : "exited with code " + std::to_string(u->rec.exit_code.value_or(-1))));
                return;
            }
}

// `up` fails: it reports the error. Attached, this process is the stack's
// supervisor and `up` ends, so the stack stops; detached, the containers that
// run keep running, as docker compose leaves them, and `up -d`, `start` or
// `down` act on them later. After `up` has reported, a failure is the failing
// unit's alone (start_failed): nothing else stops.
void Supervisor::Impl::fail_up(const std::string& err) {
    if (ready_sent) {
        spdlog::error("{}", err);
        return;
    }
    ready(false, err);
    exit_code = 1;
    if (opts.attach) stop_all(false);
}

// A container that could not start (its first start, a restart, `start`, `up`
// again) is exited with the error in its record, which `ps` and `events` show.
void Supervisor::Impl::start_failed(Unit& u) {
    std::string err = "service \"" + u.cp.service + "\" failed to start: " + u.rec.exit_reason;
    if (!ready_sent) return fail_up(err);
    spdlog::error("{}", err);  // the supervisor's stderr: its log, or the terminal of an attached `up`
    answer_waiters();
    check_done();
}

void Supervisor::Impl::stop_all(bool kill_now) {
    if (!stopping_all && opts.on_stopping) opts.on_stopping();  // notify hook
    stopping_all = true;
    for (auto& u : units) u->pending = false;
    if (kill_now) {
        for (auto& u : units) u->stop(0, false);
    } else {
        advance_stop();
    }
    check_done();
}

// Reverse dependency order: a service is asked to stop once no container of a
// service that depends on it still runs.
void Supervisor::Impl::advance_stop() {
    if (!stopping_all) return;
    for (auto& u : units) {
        if (!u->running() || u->rec.state == "stopping") {
            if (u->timer && u->rec.state == "restarting") u->stop(0, false);  // cancel a pending restart
            continue;
        }
        bool dependents_running = false;
        for (auto& other : units)
            if (other->running() && other->svc->depends_on.count(u->cp.service)) dependents_running = true;
        if (!dependents_running) u->stop(u->grace(), false);
    }
}

void Supervisor::Impl::check_done() {
    bool any_live = std::any_of(units.begin(), units.end(), [](auto& u) {
        return u->running() || u->timer != nullptr || u->pending;
    });
    if (any_live) return;
    if (!stopping_all && !opts.attach) return;  // detached: stays up for control commands
    for (auto& u : units) {
        u->close_all();
        if (remove_on_exit) {
            if (u->c) u->c->teardown(true);
            std::error_code ec;
            fs::remove_all(u->rec.bundle_dir, ec);
        }
    }
    if (remove_on_exit) {
        for (auto& u : units) pstate.remove(u->name());
    }
    for (auto& p : waiting_peers) p->send({{"ok", true}});
    waiting_peers.clear();
    if (server) server->stop();
    close_handle(sigint);
    close_handle(sigterm);
    ready(exit_code == 0, "every container exited");
}

Unit* Supervisor::Impl::add_unit(const plan::ContainerPlan& cp) {
    auto u = std::make_unique<Unit>();
    u->sup = this;
    u->cp = cp;
    u->svc = &project.services.at(cp.service);
    u->image = images_by_service.at(cp.service);
    if (auto old = pstate.read(cp.name)) u->rec = *old;
    u->rec.name = cp.name;
    u->rec.project = project.name;
    u->rec.service = cp.service;
    u->rec.index = cp.index;
    u->rec.image = u->svc->image;
    u->rec.state = "created";
    u->rec.stopped_by_user = false;
    u->rec.created_at = logs::format_time(logs::now_ns());
    u->recreate = opts.force_recreate;
    u->save();
    units.push_back(std::move(u));
    return units.back().get();
}

// `up` while up: services whose configuration changed are recreated, new ones
// started, the rest keep running untouched.
void Supervisor::Impl::apply(compose::Project next, const std::vector<std::string>& services, bool force,
                             const std::shared_ptr<control::Peer>& peer) {
    plan::start_order(next);
    std::set<std::string> wanted;
    if (services.empty()) {
        for (auto& [n, _] : next.services) wanted.insert(n);
    } else {
        wanted = plan::with_dependencies(next, services);
    }
    std::map<std::string, images::ResolvedImage> imgs;
    for (const auto& n : wanted) {
        const auto& svc = next.services.at(n);
        if (svc.image.empty()) throw Error("service \"" + n + "\" has no image");
        imgs[n] = store.resolve(svc.image);
    }
    retired.push_back(std::move(project));
    project = std::move(next);
    for (auto& [n, img] : imgs) images_by_service[n] = img;
    ensure_networks(wanted);
    nlohmann::json changed = nlohmann::json::array(), started = nlohmann::json::array(),
                   kept = nlohmann::json::array();
    std::vector<std::string> waiting;
    for (auto& u : units) {
        auto it = project.services.find(u->cp.service);
        if (it == project.services.end()) continue;  // an orphan: left as it is
        u->svc = &it->second;
        if (!wanted.count(u->cp.service)) continue;
        std::string hash = plan::config_hash(project, u->cp.service);
        bool differs = hash != u->rec.config_hash || force;
        if (!differs && (u->running() || u->timer)) {
            kept.push_back(u->name());
            continue;
        }
        u->image = imgs.at(u->cp.service);
        u->recreate = differs;
        waiting.push_back(u->name());
        (differs ? changed : started).push_back(u->name());
        if (u->running()) {
            u->restart_after_stop = true;
            u->stop(u->grace(), true);
        } else {
            u->rec.stopped_by_user = false;
            u->done = false;
            u->pending = true;
        }
    }
    for (const auto& cp : plan::containers(project, opts.scale)) {
        if (!wanted.count(cp.service)) continue;
        bool exists = std::any_of(units.begin(), units.end(), [&](auto& u) { return u->name() == cp.name; });
        if (exists) continue;
        add_unit(cp);
        started.push_back(cp.name);
        waiting.push_back(cp.name);
    }
    pstate.write_project(nlohmann::json{{"name", project.name}, {"working_dir", project.working_dir},
                                        {"files", project.compose_files}, {"supervisor", ::getpid()}});
    (void)peer;
    schedule();
    waiters.push_back({peer, waiting, true});
    peer_notes[peer.get()] = {{"recreated", changed}, {"started", started}, {"running", kept}};
    answer_waiters();
}

// depends_on with `restart: true`: dependents restart when their dependency does.
void Supervisor::Impl::restart_dependents(const std::string& service) {
    for (auto& u : units) {
        auto it = u->svc->depends_on.find(service);
        if (it == u->svc->depends_on.end() || !it->second.restart || !u->running()) continue;
        u->restart_after_stop = true;
        u->stop(u->grace(), true);
    }
}

void Supervisor::Impl::answer_waiters() {
    for (auto it = waiters.begin(); it != waiters.end();) {
        bool settled = true;
        for (const auto& n : it->names)
            for (auto& u : units)
                if (u->name() == n) {
                    // until_running: settled once started again (or already done, like a one-shot job).
                    bool busy = it->until_running ? u->pending || u->restart_after_stop || (!u->running() && !u->done)
                                                  : u->running() || u->timer != nullptr;
                    if (busy) settled = false;
                }
        if (settled) {
            nlohmann::json reply = {{"ok", true}, {"containers", it->names}};
            nlohmann::json codes = nlohmann::json::object();
            for (const auto& n : it->names)
                for (auto& u : units)
                    if (u->name() == n && u->rec.exit_code) codes[n] = *u->rec.exit_code;
            reply["exit_codes"] = codes;
            if (auto n = peer_notes.find(it->peer.get()); n != peer_notes.end()) {
                reply.update(n->second);
                peer_notes.erase(n);
            }
            it->peer->send(reply);
            it = waiters.erase(it);
        } else {
            ++it;
        }
    }
}

void Supervisor::Impl::handle(const control::Json& req, const std::shared_ptr<control::Peer>& peer) {
    std::string op = req.value("op", "");
    if (op == "down") {
        if (req.contains("timeout") && req["timeout"].is_number()) opts.stop_timeout = req["timeout"].get<int>();
        remove_on_exit = true;
        waiting_peers.push_back(peer);
        stop_all(false);
        return;
    }
    if (op == "ping") {
        peer->send({{"ok", true}, {"pid", ::getpid()}});
        return;
    }
    if (op == "events") {
        subscribers.push_back(peer);
        return;
    }
    if (op == "up") {
        try {
            compose::LoadOptions lo;
            lo.files = req.value("files", std::vector<std::string>{});
            lo.project_name = project.name;
            lo.project_directory = req.value("project_directory", std::string());
            lo.env_files = req.value("env_files", std::vector<std::string>{});
            lo.profiles = req.value("profiles", std::vector<std::string>{});
            lo.working_dir = req.value("working_dir", std::string());
            lo.environment = req.value("environment", std::map<std::string, std::string>{});
            apply(compose::load_project(lo), req.value("services", std::vector<std::string>{}),
                  req.value("force_recreate", false), peer);
        } catch (const std::exception& e) {
            peer->send({{"ok", false}, {"error", e.what()}});
        }
        return;
    }
    std::set<std::string> wanted;
    for (const auto& s : req.value("services", nlohmann::json::array())) wanted.insert(s.get<std::string>());
    for (const auto& s : wanted)
        if (!unit_of(s)) {
            peer->send({{"ok", false}, {"error", "no such service in the running project: " + s}});
            return;
        }
    std::vector<Unit*> targets;
    for (auto& u : units)
        if (wanted.empty() || wanted.count(u->cp.service)) targets.push_back(u.get());
    std::vector<std::string> names;
    for (auto* u : targets) names.push_back(u->name());
    int timeout = req.contains("timeout") && req["timeout"].is_number() ? req["timeout"].get<int>() : -1;
    try {
        if (op == "stop") {
            for (auto* u : targets) u->stop(timeout >= 0 ? timeout : u->grace(), true);
            waiters.push_back({peer, names, false});
        } else if (op == "start") {
            std::string errors;
            for (auto* u : targets)
                if (!u->running() && !u->timer) {
                    u->rec.stopped_by_user = false;
                    u->done = false;
                    u->backoff_ms = 100;
                    if (!u->start()) errors += (errors.empty() ? "" : "; ") + u->name() + ": " + u->rec.exit_reason;
                }
            if (!errors.empty()) peer->send({{"ok", false}, {"error", errors}});
            else peer->send({{"ok", true}, {"containers", names}});
            return;
        } else if (op == "restart") {
            for (auto* u : targets) {
                if (u->running()) {
                    u->restart_after_stop = true;
                    u->stop(timeout >= 0 ? timeout : u->grace(), true);
                    restart_dependents(u->cp.service);
                } else if (!u->timer) {
                    u->rec.stopped_by_user = false;
                    u->done = false;
                    u->start();
                }
            }
            waiters.push_back({peer, names, true});
        } else if (op == "wait") {
            waiters.push_back({peer, names, false});
            peer_notes[peer.get()] = nlohmann::json::object();
        } else if (op == "rm") {
            nlohmann::json removed = nlohmann::json::array();
            for (auto it = units.begin(); it != units.end();) {
                Unit* u = it->get();
                bool target = std::find(targets.begin(), targets.end(), u) != targets.end();
                if (!target || u->running() || u->timer) {
                    ++it;
                    continue;
                }
                u->close_all();
                if (u->c) u->c->teardown(true);
                std::error_code ec;
                fs::remove_all(u->rec.bundle_dir, ec);
                pstate.remove(u->name());
                if (nets) nets->release(u->name());  // its addresses go back to the networks
                removed.push_back(u->name());
                retired_units.push_back(std::move(*it));  // handles close asynchronously
                it = units.erase(it);
            }
            peer->send({{"ok", true}, {"containers", removed}});
            return;
        } else if (op == "kill") {
            int sig = req.value("signal", SIGKILL);
            for (auto* u : targets)
                if (u->running()) u->c->kill(sig);
            peer->send({{"ok", true}, {"containers", names}});
            return;
        } else if (op == "pause" || op == "unpause") {
            for (auto* u : targets)
                if (u->running()) {
                    if (op == "pause") u->c->freeze(), u->set_state("paused");
                    else u->c->thaw(), u->set_state("running");
                }
            peer->send({{"ok", true}, {"containers", names}});
            return;
        } else {
            peer->send({{"ok", false}, {"error", "unknown op \"" + op + "\""}});
            return;
        }
    } catch (const std::exception& e) {
        peer->send({{"ok", false}, {"error", e.what()}});
        return;
    }
    answer_waiters();
}

Supervisor::Supervisor(compose::Project project, UpOptions options)
    : impl_(std::make_unique<Impl>(std::move(project), std::move(options))) {}

Supervisor::~Supervisor() {
    if (impl_->lock_fd >= 0) ::close(impl_->lock_fd);
}

int Supervisor::run() {
    Impl& s = *impl_;
    raise_fd_limit();  // containers still get the limit we had (base/fdlimit.h)
    uv_loop_init(&s.loop);
    plan::start_order(s.project);  // a cycle fails here, before anything starts
    std::set<std::string> wanted;
    if (s.opts.services.empty()) {
        for (auto& [n, _] : s.project.services) wanted.insert(n);
    } else {
        for (const auto& n : s.opts.services)
            if (!s.project.services.count(n)) throw Error("no such service: " + n);
        wanted = s.opts.no_deps ? std::set<std::string>(s.opts.services.begin(), s.opts.services.end())
                                : plan::with_dependencies(s.project, s.opts.services);
    }
    // Images resolve before anything starts: a missing one is a clear error now.
    std::map<std::string, images::ResolvedImage> imgs;
    for (const auto& n : wanted) {
        const auto& svc = s.project.services.at(n);
        if (svc.image.empty())
            throw Error("service \"" + n + "\" has no image", "berth does not build images: set `image:` and import it");
        imgs[n] = s.store.resolve(svc.image);
    }
    s.lock_fd = s.pstate.lock_as_supervisor();
    if (auto orph = orphans(s.project); !orph.empty()) {
        if (s.opts.remove_orphans) {
            cleanup(s.project.name, false, &s.project, true, true);
        } else {
            std::string names;
            for (const auto& n : orph) names += (names.empty() ? "" : ", ") + n;
            std::fprintf(stderr, "warning: found orphan containers (%s) for this project; if you removed or renamed "
                                 "their service, run this command with --remove-orphans to clean them up\n", names.c_str());
        }
    }
    s.pstate.write_project(nlohmann::json{{"name", s.project.name},
                                          {"working_dir", s.project.working_dir},
                                          {"files", s.project.compose_files},
                                          {"supervisor", ::getpid()}});
    fs::create_directories(s.root + "/containers");
    s.images_by_service = imgs;
    s.stop_survivors();
    auto plans = plan::containers(s.project, s.opts.scale);
    s.check_ports(plans, wanted);
    for (const auto& n : wanted)  // external volumes must exist before anything starts
        for (const auto& m : s.project.services.at(n).volumes) {
            auto it = s.project.volumes.find(m.source);
            if (m.type != "volume" || it == s.project.volumes.end() || !it->second.external) continue;
            try {
                volumes::Store(s.root).external(it->second.name);
            } catch (Error& e) {
                throw e.wrap("service \"" + n + "\"");
            }
        }
    s.ensure_networks(wanted);
    for (const auto& cp : plans)
        if (wanted.count(cp.service)) s.add_unit(cp);
    s.server = std::make_unique<control::Server>(&s.loop, s.pstate.control_socket(),
        [&s](const control::Json& req, const std::shared_ptr<control::Peer>& peer) { s.handle(req, peer); });
    s.server->start();
    auto on_signal = [](uv_signal_t* h, int) {
        auto* impl = static_cast<Impl*>(h->data);
        if (++impl->interrupts == 1) {
            if (impl->opts.attach) std::fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
            impl->stop_all(false);
        } else {
            impl->stop_all(true);
        }
    };
    s.sigint = new_handle<uv_signal_t>();
    uv_signal_init(&s.loop, s.sigint);
    s.sigint->data = &s;
    uv_signal_start(s.sigint, on_signal, SIGINT);
    s.sigterm = new_handle<uv_signal_t>();
    uv_signal_init(&s.loop, s.sigterm);
    s.sigterm->data = &s;
    uv_signal_start(s.sigterm, on_signal, SIGTERM);
    ::signal(SIGPIPE, SIG_IGN);

    if (s.opts.on_loop) s.opts.on_loop(&s.loop);  // notify hook
    s.schedule();
    uv_run(&s.loop, UV_RUN_DEFAULT);
    if (s.opts.on_loop_end) s.opts.on_loop_end();  // notify hook
    s.units.clear();
    s.retired_units.clear();
    s.dns.reset();
    s.nft.reset();  // idle: the loop ran until every nft it started had ended
    uv_run(&s.loop, UV_RUN_NOWAIT);  // the close callbacks of the handles just released
    uv_loop_close(&s.loop);
    return s.exit_code;
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
    std::vector<std::string> out;
    for (const auto& r : state::ProjectState(state::runtime_dir(), model.name).read_all())
        if (!model.services.count(r.service) && !model.disabled_services.count(r.service)) out.push_back(r.name);
    return out;
}

namespace {
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
        if (!r.bundle_dir.empty()) {
            std::error_code ec;
            fs::remove_all(r.bundle_dir, ec);
        }
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
        if (remove_volumes)
            for (const auto& name : anonymous)
                if (!used.count(name)) store.remove(name);
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

std::vector<std::string> cleanup_project(const std::string& project, bool remove_volumes, const compose::Project* model,
                                         bool remove_orphans) {
    return cleanup(project, remove_volumes, model, remove_orphans, false);
}

}  // namespace berth::supervisor
