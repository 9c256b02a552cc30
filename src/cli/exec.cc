// berth exec [-d] [-e K=V] [-u USER] [-w DIR] [-T] [--index N] [--privileged] SERVICE COMMAND…
// Runs a command in a running container of a service, in its namespaces and
// cgroup, with its capabilities and seccomp filter.
#include "base/error.h"
#include "base/strings.h"
#include "runtime/attach.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "images/store.h"
#include "runtime/container.h"
#include "state/state.h"
#include "supervisor/container_spec.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <unistd.h>

namespace berth::cli {
namespace {

struct ExecOptions {
    std::string service, user, workdir;
    std::vector<std::string> env, command;
    bool detach = false, no_tty = false, privileged = false;
    int index = 1;
};

int exec_command(const GlobalOptions& g, const ExecOptions& o) {
    if (o.command.empty()) throw Error("exec: no command given", "berth exec SERVICE COMMAND [ARGS…]");
    compose::Project project = load_project(g);
    auto it = project.services.find(o.service);
    if (it == project.services.end()) throw Error("no such service: " + o.service);
    const compose::Service& svc = it->second;
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::optional<state::ContainerRecord> rec;
    for (const auto& r : ps.read_all())
        if (r.service == o.service && r.index == o.index) rec = r;
    if (!rec || rec->pid <= 0 || !state::process_alive(rec->pid, rec->pid_start_time))
        throw Error("service \"" + o.service + "\" is not running", "start it with `berth up -d " + o.service + "`");

    // The image as the container was made from it (kept in its bundle): its name may
    // have been removed (image rm -f) or moved on to another image since.
    std::optional<images::ResolvedImage> kept;
    if (!rec->bundle_dir.empty()) kept = images::kept_image(rec->bundle_dir);
    images::ResolvedImage image =
        kept ? std::move(*kept) : images::Store(state::state_root()).resolve(compose::image_name(project, svc.name, svc));
    // The container's environment and user, as the one launch path gives them (supervisor/container_spec.h).
    supervisor::RunOverrides who;
    if (!o.user.empty()) who.user = o.user;
    std::string user = supervisor::user_of(svc, image, who);
    std::string cwd = !o.workdir.empty() ? o.workdir : !svc.working_dir.empty() ? svc.working_dir
                                      : !image.config.working_dir.empty() ? image.config.working_dir : "/";
    runtime::ExecSpec es = supervisor::exec_spec(svc, image, o.command, o.env, user, cwd);
    bool privileged = svc.privileged || o.privileged;
    runtime::CapSet caps = privileged ? runtime::bounding_capabilities()
                                      : runtime::apply_cap_changes(runtime::default_capabilities(), svc.cap_add, svc.cap_drop);
    supervisor::SecurityOpts sec = supervisor::security_opts(svc);
    bool seccomp = sec.seccomp && !privileged;
    bool nnp = sec.no_new_privileges;
    bool tty = !o.no_tty && !o.detach && isatty(0);
    if (tty) set_env(es.env, "TERM=xterm");

    runtime::block_forwarded_signals();
    UniqueFd master, slave;
    if (tty) master = runtime::open_pty(slave);
    int null = o.detach ? ::open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
    runtime::Stdio stdio = o.detach ? runtime::Stdio{null, null, null} : runtime::Stdio{0, 1, 2};
    runtime::ExecProcess p = runtime::exec_in(rec->pid, rec->cgroup, caps, seccomp, nnp, es, stdio, slave.get());
    slave.reset();
    if (o.detach) return 0;
    runtime::ExitStatus st = runtime::attach_until_exit(p.pidfd(), master.get(), [&p](int sig) { p.kill(sig); },
                                               [&p] { return p.wait(); });
    return st.code;
}

}  // namespace

void add_exec_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("exec", "Run a command in a running container of a service");
    auto o = std::make_shared<ExecOptions>();
    cmd->add_option("SERVICE", o->service, "The service")->required();
    cmd->add_flag("-d,--detach", o->detach, "Run in the background");
    cmd->add_option("-e,--env", o->env, "Set an environment variable (K=V, or K to pass berth's own)");
    cmd->add_option("-u,--user", o->user, "Run as this user");
    cmd->add_option("-w,--workdir", o->workdir, "Working directory");
    cmd->add_option("--index", o->index, "Which replica (from 1)");
    cmd->add_flag("-T,--no-TTY,--no-tty", o->no_tty, "Do not allocate a pseudo-terminal");
    cmd->add_flag("--privileged", o->privileged, "Every capability, no seccomp");
    cmd->prefix_command(true);
    cmd->allow_extras(true);
    cmd->fallthrough(false);
    cmd->callback([&cli, o, cmd] {
        o->command = cmd->remaining();
        cli.action = [&cli, o] { return exec_command(cli.global, *o); };
    });
}

}  // namespace berth::cli
