// berth run [--rm] [-d] [-e K=V] [--env-from-file F] [-u USER] [-w DIR] [--entrypoint CMD] [-T]
//           [--no-deps] [-v SRC:DST] [-p HOST:CONTAINER] [--service-ports] SERVICE [COMMAND…]
//
// One container of a service in the foreground, as `docker compose run`: the
// service's dependencies started first (`up -d` of them, their conditions
// waited for), stdio attached (a pty when stdin is a terminal), signals
// forwarded, the container's exit code becomes berth's.
#include "base/error.h"
#include "base/fd.h"
#include "cli/build.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/pull.h"
#include "compose/depends.h"
#include "compose/dotenv.h"
#include "compose/short_syntax.h"
#include "images/store.h"
#include "netns/link.h"
#include "netns/network.h"
#include "runtime/attach.h"
#include "runtime/container.h"
#include "state/state.h"
#include "plan/brief.h"
#include "supervisor/container_spec.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::cli {
namespace {

struct RunOptions {
    std::string service;
    std::vector<std::string> command;
    bool rm = false, detach = false, no_tty = false, interactive = true;
    std::vector<std::string> env;
    std::string user, workdir, entrypoint, name;
    std::string pull;  // --pull always|missing|never
    bool no_deps = false, service_ports = false;
    std::vector<std::string> volumes, publish, env_files, cap_add, cap_drop;
};

std::string random_hex(int n) {
    std::random_device rd;
    std::string s;
    static const char* d = "0123456789abcdef";
    for (int i = 0; i < n; ++i) s += d[rd() % 16];
    return s;
}

}  // namespace

namespace {

// The dependencies' conditions (started, healthy, completed successfully), as
// `up` waits for them before a dependent starts; a failed optional one warns.
void wait_for_dependencies(const compose::Project& project, const compose::Service& svc) {
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::set<std::string> warned;
    auto since = std::chrono::steady_clock::now();
    for (;;) {
        // A running dependency still without a health status after a while has no healthcheck.
        bool no_health_yet = std::chrono::steady_clock::now() - since > std::chrono::seconds(2);
        bool all = true;
        auto records = ps.read_all();
        for (const auto& [dep, d] : svc.depends_on) {
            if (!project.services.count(dep) || warned.count(dep)) continue;
            bool ready = false;
            std::string failure;
            for (const auto& r : records) {
                if (r.service != dep) continue;
                bool alive = (r.state == "running" || r.state == "starting") && state::process_alive(r.pid, r.pid_start_time);
                bool exited = !alive && r.state != "restarting" && r.state != "created" && r.state != "starting";
                std::string code = std::to_string(r.exit_code.value_or(-1));
                if (d.condition == "service_healthy") {
                    if (alive && r.health == "healthy") ready = true;
                    else if (alive && r.health.empty() && no_health_yet)
                        failure = "dependency " + dep + " (" + r.name + ") has no healthcheck, so it can never be service_healthy";
                    else if (r.health == "unhealthy") failure = "dependency " + dep + " (" + r.name + ") is unhealthy";
                    else if (exited) failure = "dependency " + dep + " (" + r.name + ") exited with code " + code + " before it was healthy";
                } else if (d.condition == "service_completed_successfully") {
                    if (exited && r.exit_code == 0) ready = true;
                    else if (exited) failure = "dependency " + dep + " (" + r.name + ") exited with code " + code;
                } else if (alive || exited) {
                    ready = true;
                }
            }
            if (!failure.empty()) {
                if (d.required) throw Error(failure, "`berth logs " + dep + "` shows its output");
                std::fprintf(stderr, "warning: %s; it is not required: going on\n", failure.c_str());
                warned.insert(dep);
                continue;
            }
            all &= ready;
        }
        if (all) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// What SERVICE depends on, brought up as `up -d` would (status lines on
// stderr, so the one-off's stdout stays its own), then waited for.
void start_dependencies(const GlobalOptions& g, const compose::Project& project, const compose::Service& svc) {
    std::vector<std::string> deps;
    for (const auto& [dep, _] : svc.depends_on)
        if (project.services.count(dep)) deps.push_back(dep);
    if (deps.empty()) return;
    std::fflush(stdout);
    UniqueFd saved(::fcntl(1, F_DUPFD_CLOEXEC, 3));
    ::dup2(2, 1);
    auto restore = [&] {
        std::fflush(stdout);
        if (saved.get() >= 0) ::dup2(saved.get(), 1);
    };
    try {
        up_services(g, deps);
    } catch (...) {
        restore();
        throw;
    }
    restore();
    wait_for_dependencies(project, svc);
}

// -v/--volume: more mounts, in the compose file's short syntax (a relative
// source is the project directory's, as in the file).
void add_run_mounts(const compose::Project& project, compose::Service& svc, const RunOptions& o) {
    for (const auto& spec : o.volumes) {
        std::string err;
        compose::Mount m = compose::read_volume_spec(spec, err);
        if (!err.empty()) throw Error("--volume " + spec + ": " + err, "write SOURCE:TARGET[:ro]");
        if (m.type == "bind" && !m.source.empty() && m.source[0] != '/')
            m.source = (fs::path(project.working_dir) / m.source).lexically_normal().string();
        svc.volumes.push_back(m);
    }
}

// -p/--publish, and with --service-ports the service's own `ports:` (without
// it a one-off publishes none of them, as docker compose's).
std::vector<netns::PublishedPort> run_ports(const compose::Service& svc, const RunOptions& o) {
    std::vector<compose::Port> ports;
    if (o.service_ports) ports = svc.ports;
    for (const auto& spec : o.publish) {
        std::string err;
        auto more = compose::read_port_spec(spec, err);
        if (!err.empty()) throw Error("--publish " + spec + ": " + err, "write HOST_PORT:CONTAINER_PORT[/udp]");
        ports.insert(ports.end(), more.begin(), more.end());
    }
    std::vector<netns::PublishedPort> out;
    for (const auto& p : ports) {
        std::string where = "port " + p.published + ":" + std::to_string(p.target);
        if (p.published.empty() || p.published.find('-') != std::string::npos)
            throw Error(where + ": berth run publishes fixed host ports only", "name one: -p 8080:80");
        uint16_t host = static_cast<uint16_t>(std::stoul(p.published));
        int e = netns::port_bind_error(p.host_ip, host, p.protocol);
        if (e != 0) throw Error::sys(e, "publish " + where);
        out.push_back({p.host_ip, host, static_cast<uint16_t>(p.target), p.protocol});
    }
    return out;
}

// The one-off's extra environment: --env-from-file's files, then -e. `-e NAME`
// takes NAME's value from berth's environment or else from --env-file/.env,
// and sets nothing when neither has it (as docker compose does).
std::vector<std::string> run_environment(const compose::Project& project, const RunOptions& o) {
    auto lookup = [&](const std::string& k) -> std::optional<std::string> {
        auto it = project.environment.find(k);
        return it == project.environment.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    std::vector<std::string> env;
    for (const auto& f : o.env_files) {
        std::string path = fs::absolute(f).string();
        if (!fs::exists(path)) throw Error("--env-from-file " + f + ": no such file");
        for (const auto& [k, v] : compose::read_dotenv_file(path, lookup)) env.push_back(k + "=" + v);
    }
    for (const auto& kv : o.env) {
        if (kv.find('=') != std::string::npos) env.push_back(kv);
        else if (const char* v = std::getenv(kv.c_str())) env.push_back(kv + "=" + v);
        else if (auto v2 = lookup(kv)) env.push_back(kv + "=" + *v2);
    }
    return env;
}

int run_service(const GlobalOptions& g, const RunOptions& o) {
    compose::Project project = load_project(g);
    compose::activate_services(project, {o.service});  // `run` may start a profile's service
    auto it = project.services.find(o.service);
    if (it == project.services.end())
        throw Error("no such service: " + o.service, "services in " + project.name + ": see `berth config --services`");
    compose::Service svc = it->second;
    if (!o.no_deps) start_dependencies(g, project, svc);
    add_run_mounts(project, svc, o);
    svc.cap_add.insert(svc.cap_add.end(), o.cap_add.begin(), o.cap_add.end());
    svc.cap_drop.insert(svc.cap_drop.end(), o.cap_drop.begin(), o.cap_drop.end());
    ensure_built(project, {o.service}, BuildWhen::Missing);
    ensure_images(project, {o.service}, o.pull, false);
    std::string root = state::state_root();
    images::Store store(root);
    images::ResolvedImage image = store.resolve(compose::image_name(project, o.service, svc));

    supervisor::RunOverrides ov;
    if (!o.command.empty()) ov.command = o.command;
    if (!o.entrypoint.empty()) ov.entrypoint = o.entrypoint;
    ov.env = run_environment(project, o);
    if (!o.user.empty()) ov.user = o.user;
    if (!o.workdir.empty()) ov.workdir = o.workdir;
    std::string name = !o.name.empty() ? o.name : project.name + "-" + o.service + "-run-" + random_hex(12);
    fs::create_directories(root + "/containers");
    // Networks: a one-off container joins the project's networks when the
    // stack has them (`up` made them), with an address of its own and the
    // stack's running containers in its /etc/hosts (the embedded DNS server
    // belongs to the supervisor).
    supervisor::NetworkSetup net;
    std::vector<netns::Attachment> atts;
    std::unique_ptr<netns::Networks> nets;
    state::ProjectState pstate(state::runtime_dir(), project.name);
    // One-off containers are recorded beside the stack's (runs/): their
    // addresses (two never share one; the stack resolves their names) and
    // their files (`down` removes them).
    state::ProjectState one_offs = state::one_off_state(state::runtime_dir(), project.name);
    state::ContainerRecord one_off;
    one_off.name = name;
    one_off.project = project.name;
    one_off.service = o.service;
    one_off.state = "starting";
    one_off.pid = getpid();  // this process until the container exists
    one_off.pid_start_time = state::process_start_time(one_off.pid);
    if (auto shared = supervisor::shared_network_of(svc)) {
        const std::string& other = *shared;
        for (const auto& r : pstate.read_all())
            if ((r.service == other || r.name == other) && state::process_alive(r.pid, r.pid_start_time))
                net.net_ns_path = "/proc/" + std::to_string(r.pid) + "/ns/net";
        if (net.net_ns_path.empty())
            throw Error("network_mode " + svc.network_mode + ": " + other + " is not running", "start it with `berth up -d " + other + "`");
    } else if (!svc.networks.empty() && fs::exists(pstate.dir() + "/networks.json")) {
        nets = std::make_unique<netns::Networks>(pstate.dir() + "/networks.json", state::runtime_dir() + "/networks.lock");
        netns::FileLock lock(state::runtime_dir() + "/networks.lock");
        std::vector<uint32_t> taken;
        for (const auto& r : one_offs.read_all())
            if (state::process_alive(r.pid, r.pid_start_time))
                for (const auto& [n, ip] : r.networks) taken.push_back(netns::parse_ipv4(ip));
        // The same order as the stack's containers: `priority` first (eth0, the default route), then by key.
        for (const auto& a : plan::network_attachments(project, svc)) {
            if (!nets->has(a.name)) continue;
            uint32_t ip = nets->transient_address(a.name, name, taken);
            auto ip6 = nets->address6_for(a.name, ip);
            atts.push_back({a.name, "eth" + std::to_string(atts.size()), ip, atts.empty(), ip6});
            one_off.networks[a.name] = netns::format_ipv4(ip);
            if (ip6) one_off.networks6[a.name] = netns::format_ipv6(*ip6);
        }
        if (!atts.empty()) one_offs.write(one_off);
        if (!atts.empty()) {
            net.own.push_back({netns::format_ipv4(atts[0].address), {svc.hostname.empty() ? name.substr(0, 63) : svc.hostname}});
            for (const auto& r : pstate.read_all()) {
                if (!state::process_alive(r.pid, r.pid_start_time)) continue;
                for (const auto& [n, ip] : r.networks)
                    if (std::any_of(atts.begin(), atts.end(), [&](const auto& a) { return a.network == n; })) {
                        net.own.push_back({ip, {r.name, r.service}});
                        break;
                    }
            }
        }
    }
    std::vector<netns::PublishedPort> published = run_ports(svc, o);
    if (!published.empty() && atts.empty())
        throw Error("--publish/--service-ports: the one-off has no network of the project's to publish from",
                    "start the project first (`berth up -d`), or give the service a network");
    bool publishing = false;
    runtime::StartHooks hooks;
    if (!atts.empty())
        hooks.before_continue = [&](pid_t pid) {
            one_off.pid = pid;
            one_off.pid_start_time = state::process_start_time(pid);
            one_off.state = "running";
            one_offs.write(one_off);
            UniqueFd fd(netns::open_netns(pid));
            nets->attach(name, fd.get(), atts);
            if (!published.empty()) {
                if (!nets->publish(name, atts[0].network, atts[0].address, published, atts[0].address6))
                    throw Error("--publish: nftables is not usable here, and berth run has no port proxy");
                publishing = true;
            }
        };
    runtime::ContainerSpec spec = supervisor::make_container_spec(project, svc, image, name, root, ov, net);
    one_off.bundle_dir = spec.state_dir;
    // So that `down` finds it by its cgroup when `run` was killed before it recorded the pid.
    one_off.cgroup = spec.cgroup_parent + "/" + spec.id;
    one_off.volumes = plan::volume_names(project, svc, name);  // so that `volume rm` refuses them while it runs
    one_offs.write(one_off);
    auto started = [&](pid_t pid) {
        if (one_off.pid == pid) return;  // the network hook recorded it already
        one_off.pid = pid;
        one_off.pid_start_time = state::process_start_time(pid);
        one_off.state = "running";
        one_offs.write(one_off);
    };
    // When it has ended: gone with --rm, else kept as an exited container's files are.
    // A one-off's record goes; so does the project's runtime dir when nothing else is in it.
    auto unpublish = [&] {
        if (publishing) {
            publishing = false;
            try {
                nets->unpublish(name, atts[0].network);
            } catch (const std::exception& e) {
                spdlog::warn("{}: {}", name, e.what());
            }
        }
    };
    auto forget = [&] {
        unpublish();
        one_offs.remove(name);
        state::prune_empty_project(state::runtime_dir(), project.name);
    };
    auto ended = [&] {
        if (o.rm) {
            forget();
            return;
        }
        unpublish();
        one_off.state = "exited";
        one_off.pid = 0;
        one_offs.write(one_off);
    };
    spec.tty = !o.no_tty && !o.detach && isatty(0);
    spec.stdin_open = o.interactive;
    if (spec.tty && std::none_of(spec.env.begin(), spec.env.end(), [](const std::string& e) { return e.rfind("TERM=", 0) == 0; }))
        spec.env.push_back("TERM=xterm");

    // Signals are read from a signalfd: block them before the child exists
    // (it resets its own mask).
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);

    if (o.detach) {
        // A small monitor process owns the container: it reaps and cleans up.
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) throw Error::sys(errno, "fork");
        if (pid == 0) {
            close(p[0]);
            setsid();
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            std::string msg;
            try {
                runtime::Container c = runtime::Container::start(spec, runtime::Stdio{null, null, null}, hooks);
                started(c.pid());
                msg = "ok";
                ssize_t w = write(p[1], msg.data(), msg.size());
                (void)w;
                close(p[1]);
                c.wait();
                c.teardown(o.rm);
                ended();
            } catch (const std::exception& e) {
                forget();
                msg = e.what();
                ssize_t w = write(p[1], msg.data(), msg.size());
                (void)w;
            }
            _exit(0);
        }
        close(p[1]);
        char buf[512];
        ssize_t n = read(p[0], buf, sizeof buf);
        close(p[0]);
        std::string msg(buf, n > 0 ? static_cast<size_t>(n) : 0);
        if (msg != "ok") {
            waitpid(pid, nullptr, 0);
            throw Error(msg.empty() ? "the container did not start" : msg);
        }
        std::printf("%s\n", name.c_str());
        return 0;
    }

    std::optional<runtime::Container> started_c;
    try {
        started_c.emplace(runtime::Container::start(spec, runtime::Stdio{o.interactive ? 0 : -1, 1, 2}, hooks));
    } catch (...) {
        forget();
        throw;
    }
    runtime::Container& c = *started_c;
    started(c.pid());
    runtime::ExitStatus st = runtime::attach_until_exit(c.pidfd(), spec.tty ? c.pty_master() : -1,
                                               [&c](int sig) { c.kill(sig); }, [&c] { return c.wait(); });
    c.teardown(o.rm);
    ended();
    if (!o.rm) {
        // Without --rm the container's files stay, as a stopped container's do.
        spdlog::debug("container {} kept in {}", name, spec.state_dir);
    }
    if (st.oom_killed) std::fprintf(stderr, "berth: container %s was killed: out of memory (OOMKilled)\n", name.c_str());
    return st.code;
}

}  // namespace

void add_run_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("run", "Run a one-off container of a service");
    auto o = std::make_shared<RunOptions>();
    cmd->add_option("SERVICE", o->service, "The service")->required();
    cmd->add_flag("--rm", o->rm, "Remove the container when it exits");
    cmd->add_flag("-d,--detach", o->detach, "Run in the background and print the container name");
    cmd->add_option("-e,--env", o->env, "Set an environment variable (K=V, or K to pass berth's own)");
    cmd->add_option("-u,--user", o->user, "Run as this user (name, uid, name:group, uid:gid)");
    cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
    cmd->add_option("--entrypoint", o->entrypoint, "Override the image's entrypoint");
    cmd->add_option("--name", o->name, "Name of the container");
    cmd->add_flag("-T,--no-TTY,--no-tty", o->no_tty, "Do not allocate a pseudo-terminal");
    cmd->add_flag("--no-deps", o->no_deps, "Don't start the service's dependencies");
    cmd->add_option("--cap-add", o->cap_add, "Add a Linux capability");
    cmd->add_option("--cap-drop", o->cap_drop, "Drop a Linux capability");
    auto keep_stdin = std::make_shared<bool>(true);
    cmd->add_flag("-i,--interactive", *keep_stdin, "Keep stdin open (the default)");
    cmd->add_option("-v,--volume", o->volumes, "Bind mount a volume (SOURCE:TARGET[:ro], as in `volumes:`)");
    cmd->add_option("-p,--publish", o->publish, "Publish a container's port on the host (HOST:CONTAINER[/udp])");
    cmd->add_flag("-P,--service-ports", o->service_ports, "Publish the service's own `ports:`");
    cmd->add_option("--env-from-file", o->env_files, "Set environment variables from a file (K=V lines)");
    cmd->add_option("--pull", o->pull, "Pull the image: always, missing or never (default: the service's pull_policy)")
        ->check(CLI::IsMember({"always", "missing", "never"}));
    auto no_stdin = std::make_shared<bool>(false);
    cmd->add_flag("--no-interactive", *no_stdin, "Keep stdin closed");
    // Everything after SERVICE is the container's command, options included.
    cmd->prefix_command(true);
    cmd->allow_extras(true);
    cmd->fallthrough(false);
    cmd->footer("Everything after SERVICE is the command: berth run web sh -c 'echo hi'");
    cmd->callback([&cli, o, cmd, no_stdin] {
        o->command = cmd->remaining();
        o->interactive = !*no_stdin;
        cli.action = [&cli, o] { return run_service(cli.global, *o); };
    });
}

}  // namespace berth::cli
