// berth run [--rm] [-d] [-e K=V] [-u USER] [-w DIR] [--entrypoint CMD] [-T] SERVICE [COMMAND…]
//
// One container of a service in the foreground, as `docker compose run`:
// stdio attached (a pty when stdin is a terminal), signals forwarded, the
// container's exit code becomes berth's.
#include "base/error.h"
#include "base/fd.h"
#include "cli/attach.h"
#include "cli/build.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/pull.h"
#include "images/store.h"
#include "netns/link.h"
#include "netns/network.h"
#include "runtime/container.h"
#include "state/state.h"
#include "plan/brief.h"
#include "supervisor/container_spec.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <poll.h>
#include <random>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
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
};

std::string random_hex(int n) {
    std::random_device rd;
    std::string s;
    static const char* d = "0123456789abcdef";
    for (int i = 0; i < n; ++i) s += d[rd() % 16];
    return s;
}

}  // namespace

// The terminal in raw mode for the life of a tty session.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (tcgetattr(fd, &saved_) == 0) {
            termios raw = saved_;
            cfmakeraw(&raw);
            active_ = tcsetattr(fd, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active_) tcsetattr(fd_, TCSANOW, &saved_);
    }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

namespace {

void copy_size(int from, int to) {
    winsize ws{};
    if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

}  // namespace

// Waits for a process (its pidfd), forwarding signals and (with a pty master) the terminal.
runtime::ExitStatus attach_until_exit(int pidfd, int master, const std::function<void(int)>& kill,
                                      const std::function<runtime::ExitStatus()>& wait) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    UniqueFd sig(sfd);
    std::unique_ptr<RawTerminal> raw;
    if (master >= 0) {
        if (isatty(0)) {
            raw = std::make_unique<RawTerminal>(0);
            copy_size(0, master);
        }
    }
    bool stdin_open = master >= 0;
    bool master_open = master >= 0;
    char buf[1 << 16];
    for (;;) {
        pollfd fds[4];
        int n = 0;
        fds[n++] = {pidfd, POLLIN, 0};
        fds[n++] = {sig.get(), POLLIN, 0};
        int master_at = -1, stdin_at = -1;
        if (master_open) master_at = n, fds[n++] = {master, POLLIN, 0};
        if (stdin_open) stdin_at = n, fds[n++] = {0, POLLIN, 0};
        if (poll(fds, static_cast<nfds_t>(n), -1) < 0) {
            if (errno == EINTR) continue;
            throw Error::sys(errno, "poll");
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si{};
            while (read(sig.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                    if (master >= 0) copy_size(0, master);
                } else {
                    kill(static_cast<int>(si.ssi_signo));
                }
            }
        }
        if (master_at >= 0 && (fds[master_at].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(master, buf, sizeof buf);
            if (r > 0) {
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(1, buf + off, static_cast<size_t>(r - off));
                    if (w <= 0) break;
                    off += w;
                }
            } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                master_open = false;
            }
        }
        if (stdin_at >= 0 && (fds[stdin_at].revents & (POLLIN | POLLHUP))) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r > 0) {
                ssize_t w = write(master, buf, static_cast<size_t>(r));
                (void)w;
            } else {
                stdin_open = false;
            }
        }
        if ((fds[0].revents & POLLIN) && !master_open) return wait();
        if ((fds[0].revents & POLLIN) && master_open) {
            // Drain what the pty still holds, then finish.
            for (;;) {
                pollfd p{master, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0) break;
                ssize_t r = read(master, buf, sizeof buf);
                if (r <= 0) break;
                ssize_t w = write(1, buf, static_cast<size_t>(r));
                (void)w;
            }
            return wait();
        }
    }
}

namespace {

int run_service(const GlobalOptions& g, const RunOptions& o) {
    compose::Project project = load_project(g);
    auto it = project.services.find(o.service);
    if (it == project.services.end()) {
        if (project.disabled_services.count(o.service))
            it = project.disabled_services.find(o.service);  // `run` may start a profile's service
        else
            throw Error("no such service: " + o.service, "services in " + project.name + ": see `berth config --services`");
    }
    const compose::Service& svc = it->second;
    ensure_built(project, {o.service}, BuildWhen::Missing);
    ensure_images(project, {o.service}, o.pull, false);
    std::string root = state::state_root();
    images::Store store(root);
    images::ResolvedImage image = store.resolve(compose::image_name(project, o.service, svc));

    supervisor::RunOverrides ov;
    if (!o.command.empty()) ov.command = o.command;
    if (!o.entrypoint.empty()) ov.entrypoint = o.entrypoint;
    ov.env = o.env;
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
    runtime::StartHooks hooks;
    if (!atts.empty())
        hooks.before_continue = [&](pid_t pid) {
            one_off.pid = pid;
            one_off.pid_start_time = state::process_start_time(pid);
            one_off.state = "running";
            one_offs.write(one_off);
            UniqueFd fd(netns::open_netns(pid));
            nets->attach(name, fd.get(), atts);
        };
    runtime::ContainerSpec spec = supervisor::make_container_spec(project, svc, image, name, root, ov, net);
    one_off.bundle_dir = spec.state_dir;
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
    auto forget = [&] {
        one_offs.remove(name);
        state::prune_empty_project(state::runtime_dir(), project.name);
    };
    auto ended = [&] {
        if (o.rm) {
            forget();
            return;
        }
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
    runtime::ExitStatus st = attach_until_exit(c.pidfd(), spec.tty ? c.pty_master() : -1,
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
    cmd->add_flag("-T,--no-TTY", o->no_tty, "Do not allocate a pseudo-terminal");
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
