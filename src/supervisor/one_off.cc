#include "supervisor/one_off.h"

#include "base/error.h"
#include "base/fd.h"
#include "runtime/attach.h"
#include "runtime/container.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

std::string random_hex(int n) {
    std::random_device rd;
    std::string s;
    static const char* d = "0123456789abcdef";
    for (int i = 0; i < n; ++i) s += d[rd() % 16];
    return s;
}

std::string port_text(const plan::PublishedPort& p) {
    std::string host = p.first == 0 ? "" : std::to_string(p.first);
    if (p.last != p.first) host += "-" + std::to_string(p.last);
    return "port " + host + ":" + std::to_string(p.target);
}

// A one-off publishes fixed host ports only (no proxy picks one): each checked free now.
std::vector<netns::PublishedPort> fixed_ports(const std::vector<plan::PublishedPort>& wanted) {
    std::vector<netns::PublishedPort> out;
    for (const auto& p : wanted) {
        if (!p.fixed()) throw Error(port_text(p) + ": berth run publishes fixed host ports only", "name one: -p 8080:80");
        int e = netns::port_bind_error(p.host_ip, p.first, p.protocol);
        if (e != 0) throw Error::sys(e, "publish " + port_text(p));
        out.push_back({p.host_ip, p.first, p.target, p.protocol});
    }
    return out;
}

}  // namespace

OneOff::OneOff(const compose::Project& project, compose::Service svc, const images::ResolvedImage& image,
               OneOffRequest req)
    : project_(project),
      svc_(std::move(svc)),
      req_(std::move(req)),
      stack_(state::runtime_dir(), project.name),
      one_offs_(state::one_off_state(state::runtime_dir(), project.name)) {
    plan::ServicePlan brief = brief_of(project_, svc_.name, image);
    std::vector<plan::PublishedPort> wanted;
    if (req_.service_ports) wanted = brief.ports;  // without it a one-off publishes none of them, as docker compose's
    wanted.insert(wanted.end(), req_.publish.begin(), req_.publish.end());
    ports_ = fixed_ports(wanted);

    rec_.name = !req_.name.empty() ? req_.name : project_.name + "-" + svc_.name + "-run-" + random_hex(12);
    rec_.project = project_.name;
    rec_.service = svc_.name;
    rec_.state = "starting";
    rec_.pid = getpid();  // this process until the container exists
    rec_.pid_start_time = state::process_start_time(rec_.pid);
    try {
        NetworkSetup net = plan_network(brief);
        if (!ports_.empty() && addrs_.atts.empty())
            throw Error("--publish/--service-ports: the one-off has no network of the project's to publish from",
                        "give the service a network (network_mode host publishes nothing)");
        std::string root = state::state_root();
        fs::create_directories(root + "/containers");
        spec_ = make_container_spec(project_, svc_, image, rec_.name, root, req_.overrides, net);
        record_launch(rec_, spec_, project_, svc_, addrs_);
        one_offs_.write(rec_);
    } catch (...) {
        forget();
        throw;
    }
    spec_.tty = req_.tty;
    spec_.stdin_open = req_.stdin_open;
    if (spec_.tty && std::none_of(spec_.env.begin(), spec_.env.end(), [](const std::string& e) { return e.rfind("TERM=", 0) == 0; }))
        spec_.env.push_back("TERM=xterm");
}

OneOff::~OneOff() = default;

// The namespace of the container it shares (network_mode), or addresses on the project's networks with
// the stack's running containers in its /etc/hosts (the embedded DNS server is the supervisor's). The
// networks are joined when `up` made them; made here when the one-off publishes ports.
NetworkSetup OneOff::plan_network(const plan::ServicePlan& brief) {
    NetworkSetup net;
    if (auto shared = shared_network_of(svc_)) {
        const std::string& other = *shared;
        for (const auto& r : stack_.read_all())
            if ((r.service == other || r.name == other) && state::process_alive(r.pid, r.pid_start_time))
                net.net_ns_path = "/proc/" + std::to_string(r.pid) + "/ns/net";
        if (net.net_ns_path.empty())
            throw Error("network_mode " + svc_.network_mode + ": " + other + " is not running",
                        "start it with `berth up -d " + other + "`");
        return net;
    }
    if (svc_.networks.empty()) return net;
    if (ports_.empty() && !fs::exists(stack_.dir() + "/networks.json")) return net;
    nets_ = open_networks(stack_.dir());
    std::set<std::string> missing;  // only those: a running supervisor owns the others' state
    for (const auto& [key, _] : svc_.networks)
        if (auto it = project_.networks.find(key); it != project_.networks.end() && !nets_->has(it->second.name))
            missing.insert(key);
    if (!ports_.empty()) ensure_networks(*nets_, project_, missing);
    {
        netns::FileLock lock(state::runtime_dir() + "/networks.lock");
        std::vector<uint32_t> taken;
        for (const auto& r : one_offs_.read_all())
            if (state::process_alive(r.pid, r.pid_start_time))
                for (const auto& [n, ip] : r.networks) taken.push_back(netns::parse_ipv4(ip));
        addrs_ = address_networks(*nets_, brief.networks, transient_address(*nets_, rec_.name, taken));
        if (addrs_.atts.empty()) return net;
        rec_.networks = addrs_.v4;
        rec_.networks6 = addrs_.v6;
        one_offs_.write(rec_);  // under the lock: the next one-off sees this address taken
    }
    net.own = own_hosts(svc_, rec_.name, addrs_);
    for (const auto& r : stack_.read_all()) {
        if (!state::process_alive(r.pid, r.pid_start_time)) continue;
        for (const auto& [n, ip] : r.networks)
            if (addrs_.v4.count(n)) {
                net.own.push_back({ip, {r.name, r.service}});
                break;
            }
    }
    return net;
}

runtime::StartHooks OneOff::hooks() {
    runtime::StartHooks h;
    if (addrs_.atts.empty()) return h;
    h.before_continue = [this](pid_t pid) {
        started(pid);
        plug_networks(*nets_, rec_.name, pid, addrs_);
        if (ports_.empty()) return;
        const auto& first = addrs_.atts[0];
        if (!nets_->publish(rec_.name, first.network, first.address, ports_, first.address6))
            throw Error("--publish: nftables is not usable here, and berth run has no port proxy");
        publishing_ = true;
    };
    return h;
}

void OneOff::started(pid_t pid) {
    if (rec_.pid == pid) return;  // the network hook recorded it already
    rec_.pid = pid;
    rec_.pid_start_time = state::process_start_time(pid);
    rec_.state = "running";
    one_offs_.write(rec_);
}

void OneOff::unpublish() {
    if (!publishing_) return;
    publishing_ = false;
    try {
        nets_->unpublish(rec_.name, addrs_.atts[0].network);
    } catch (const std::exception& e) {
        spdlog::warn("{}: {}", rec_.name, e.what());
    }
}

void OneOff::forget() {
    unpublish();
    one_offs_.remove(rec_.name);
    state::prune_empty_project(state::runtime_dir(), project_.name);
}

// Gone with --rm; else kept as an exited container's files are.
void OneOff::ended() {
    if (req_.rm) {
        forget();
        return;
    }
    unpublish();
    rec_.state = "exited";
    rec_.pid = 0;
    one_offs_.write(rec_);
}

int OneOff::run_attached() {
    runtime::block_forwarded_signals();
    std::optional<runtime::Container> started_c;
    try {
        started_c.emplace(runtime::Container::start(spec_, runtime::Stdio{req_.stdin_open ? 0 : -1, 1, 2}, hooks()));
    } catch (...) {
        forget();
        throw;
    }
    runtime::Container& c = *started_c;
    started(c.pid());
    runtime::ExitStatus st = runtime::attach_until_exit(c.pidfd(), spec_.tty ? c.pty_master() : -1,
                                                        [&c](int sig) { c.kill(sig); }, [&c] { return c.wait(); });
    c.teardown(req_.rm);
    ended();
    if (!req_.rm) spdlog::debug("container {} kept in {}", rec_.name, spec_.state_dir);
    if (st.oom_killed) std::fprintf(stderr, "berth: container %s was killed: out of memory (OOMKilled)\n", rec_.name.c_str());
    return st.code;
}

// A small monitor process owns the container: it reaps it and writes its end. It says "ok" on a pipe once
// the container runs, or the start's error.
void OneOff::run_detached() {
    runtime::block_forwarded_signals();
    auto [rd, wr] = make_pipe(O_CLOEXEC);
    pid_t pid = fork();
    if (pid < 0) {
        forget();
        throw Error::sys(errno, "fork");
    }
    if (pid == 0) {
        rd.reset();
        setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        std::string msg;
        try {
            runtime::Container c = runtime::Container::start(spec_, runtime::Stdio{null, null, null}, hooks());
            started(c.pid());
            msg = "ok";
            ssize_t w = write(wr.get(), msg.data(), msg.size());
            (void)w;
            wr.reset();
            c.wait();
            c.teardown(req_.rm);
            ended();
        } catch (const std::exception& e) {
            forget();
            msg = e.what();
            ssize_t w = write(wr.get(), msg.data(), msg.size());
            (void)w;
        }
        _exit(0);
    }
    wr.reset();
    char buf[512];
    ssize_t n = read(rd.get(), buf, sizeof buf);
    std::string msg(buf, n > 0 ? static_cast<size_t>(n) : 0);
    if (msg != "ok") {
        waitpid(pid, nullptr, 0);
        throw Error(msg.empty() ? "the container did not start" : msg);
    }
}

}  // namespace berth::supervisor
