// berth run [--rm] [-d] [-e K=V] [--env-from-file F] [-u USER] [-w DIR] [--entrypoint CMD] [-T]
//           [--no-deps] [-v SRC:DST] [-p HOST:CONTAINER] [--service-ports] SERVICE [COMMAND…]
//
// One container of a service in the foreground, as `docker compose run`: the
// service's dependencies started first (`up -d` of them, their conditions
// waited for), stdio attached (a pty when stdin is a terminal), signals
// forwarded, the container's exit code becomes berth's.
#include "base/error.h"
#include "cli/build.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/pull.h"
#include "cli/run_deps.h"
#include "compose/depends.h"
#include "compose/dotenv.h"
#include "compose/short_syntax.h"
#include "images/store.h"
#include "plan/brief.h"
#include "state/state.h"
#include "supervisor/one_off.h"

#include <cstdio>
#include <filesystem>
#include <memory>
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

// -p/--publish, as integers (the one-off checks them free and fixed).
std::vector<plan::PublishedPort> publish_flags(const RunOptions& o) {
    std::vector<plan::PublishedPort> out;
    for (const auto& spec : o.publish) {
        std::string err;
        auto ports = compose::read_port_spec(spec, err);
        if (!err.empty()) throw Error("--publish " + spec + ": " + err, "write HOST_PORT:CONTAINER_PORT[/udp]");
        try {
            for (const auto& p : ports) out.push_back(plan::published_port(p));
        } catch (Error& e) {
            throw e.wrap("--publish " + spec);
        }
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
    if (!o.no_deps) start_dependencies(g, project, svc);  // run_deps.cc
    add_run_mounts(project, svc, o);
    svc.cap_add.insert(svc.cap_add.end(), o.cap_add.begin(), o.cap_add.end());
    svc.cap_drop.insert(svc.cap_drop.end(), o.cap_drop.begin(), o.cap_drop.end());
    ensure_built(project, {o.service}, BuildWhen::Missing);
    ensure_images(project, {o.service}, o.pull, false);
    images::Store store(state::state_root());
    images::ResolvedImage image = store.resolve(compose::image_name(project, o.service, svc));

    supervisor::OneOffRequest req;
    if (!o.command.empty()) req.overrides.command = o.command;
    if (!o.entrypoint.empty()) req.overrides.entrypoint = o.entrypoint;
    req.overrides.env = run_environment(project, o);
    if (!o.user.empty()) req.overrides.user = o.user;
    if (!o.workdir.empty()) req.overrides.workdir = o.workdir;
    req.name = o.name;
    req.publish = publish_flags(o);
    req.service_ports = o.service_ports;
    req.rm = o.rm;
    req.tty = !o.no_tty && !o.detach && isatty(0);
    req.stdin_open = o.interactive;
    supervisor::OneOff one_off(project, std::move(svc), image, std::move(req));
    if (!o.detach) return one_off.run_attached();
    one_off.run_detached();
    std::printf("%s\n", one_off.name().c_str());
    return 0;
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
