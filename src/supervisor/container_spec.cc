#include "supervisor/container_spec.h"

#include "base/error.h"
#include "base/strings.h"
#include "compose/units.h"
#include "netns/netns.h"
#include "plan/brief.h"
#include "runtime/user.h"
#include "state/state.h"
#include "volumes/volume.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sys/resource.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

int rlimit_resource(const std::string& name) {
    static const std::map<std::string, int> names = {
        {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
        {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
        {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
        {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
        {"as", RLIMIT_AS}};
    auto it = names.find(name);
    if (it == names.end()) throw Error("ulimits: unknown limit \"" + name + "\"", "see `man setrlimit` for the names (nofile, nproc, core, …)");
    return it->second;
}

// `tmpfs: ["/t:size=1m,mode=1770,uid=1000"]`: the target and the short syntax's options.
runtime::MountSpec tmpfs_mount(const compose::Service& s, const std::string& t) {
    runtime::MountSpec ms;
    ms.type = runtime::MountSpec::Type::Tmpfs;
    size_t colon = t.find(':');
    ms.target = t.substr(0, colon);
    if (colon == std::string::npos) return ms;
    for (const auto& opt : split(t.substr(colon + 1), ',')) {
        std::string where = "service \"" + s.name + "\": tmpfs " + t;
        if (opt.rfind("size=", 0) == 0) {
            try {
                ms.size = compose::parse_bytes(opt.substr(5));
            } catch (const compose::ValueError& e) {
                throw Error(where + ": " + e.what(), "write the size as 1m, 512k or 1g");
            }
        } else if (opt.rfind("mode=", 0) == 0) {
            char* end = nullptr;
            unsigned long mode = std::strtoul(opt.c_str() + 5, &end, 8);
            if (opt.size() == 5 || *end || mode > 07777) throw Error(where + ": mode must be octal, such as 1777");
            ms.mode = static_cast<uint32_t>(mode);
        } else if (!opt.empty()) {
            ms.tmpfs_options += (ms.tmpfs_options.empty() ? "" : ",") + opt;
        }
    }
    return ms;
}

// A config (`/<name>` or its target) or a secret (`/run/secrets/<name>`, a
// relative target under /run/secrets): a read-only bind of its file, or a file
// made from its environment variable or content, owned as asked.
void add_file_mounts(runtime::ContainerSpec& spec, const compose::Project& project, const compose::Service& s,
                     bool secrets) {
    const char* kind = secrets ? "secret" : "config";
    const auto& defined = secrets ? project.secrets : project.configs;
    for (const auto& ref : secrets ? s.secrets : s.configs) {
        auto it = defined.find(ref.source);
        if (it == defined.end())
            throw Error("service \"" + s.name + "\": " + kind + " \"" + ref.source + "\" is not defined",
                        std::string("declare it under the top-level `") + kind + "s:`");
        const compose::FileObject& f = it->second;
        if (f.external)
            throw Error("service \"" + s.name + "\": " + kind + " \"" + ref.source + "\" is external",
                        "external configs and secrets need a swarm; use `file`, `environment` or `content`");
        runtime::MountSpec ms;
        std::string target = ref.target.empty() ? ref.source : ref.target;
        if (target[0] != '/') target = (secrets ? "/run/secrets/" : "/") + target;
        ms.target = target;
        ms.read_only = true;
        bool owned = !ref.uid.empty() || !ref.gid.empty() || ref.mode;
        if (!f.file.empty() && !owned) {
            ms.source = f.file;  // a bind of the file itself, as docker compose does
        } else {
            ms.type = runtime::MountSpec::Type::File;
            if (!f.file.empty()) ms.source = f.file;
            else if (!f.environment.empty()) ms.content = f.env_value;
            else ms.content = f.content;
            ms.mode = ref.mode;
            auto id = [&](const std::string& v, const char* what) -> uint32_t {
                if (v.empty()) return 0;
                char* end = nullptr;
                unsigned long n = std::strtoul(v.c_str(), &end, 10);
                if (*end || n > 0xfffffffeUL)
                    throw Error("service \"" + s.name + "\": " + kind + " \"" + ref.source + "\": " + what + " \"" + v +
                                "\" is not a number");
                return static_cast<uint32_t>(n);
            };
            ms.file_uid = id(ref.uid, "uid");
            ms.file_gid = id(ref.gid, "gid");
        }
        spec.mounts.push_back(ms);
    }
}

}  // namespace

void require_env_files(const compose::Service& s) {
    if (!s.missing_env_file.empty())
        throw Error("service \"" + s.name + "\": env file " + s.missing_env_file + " not found",
                    "create it, or mark it optional with `required: false`");
}

std::optional<std::string> shared_network_of(const compose::Service& s) {
    for (const char* prefix : {"service:", "container:"})
        if (s.network_mode.rfind(prefix, 0) == 0) return s.network_mode.substr(std::strlen(prefix));
    return std::nullopt;
}

std::string user_of(const compose::Service& s, const images::ResolvedImage& image, const RunOverrides& o) {
    return o.user ? *o.user : !s.user.empty() ? s.user : image.config.user;
}

std::vector<std::string> container_env(const compose::Service& s, const images::ResolvedImage& image,
                                       const std::vector<std::string>& extra) {
    std::vector<std::string> env = image.config.env;
    for (const auto& [k, v] : s.environment) {
        if (v) {
            set_env(env, k + "=" + *v);
        } else {  // `environment: [NAME]` with NAME set nowhere: the image's NAME goes too (docker's rule)
            env.erase(std::remove_if(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(k + "=", 0) == 0; }),
                      env.end());
        }
    }
    for (const auto& kv : extra) {
        if (kv.find('=') != std::string::npos) set_env(env, kv);
        else if (const char* v = std::getenv(kv.c_str())) set_env(env, kv + "=" + v);
    }
    return env;
}

SecurityOpts security_opts(const compose::Service& s) {
    SecurityOpts o;
    for (const auto& opt : s.security_opt) {
        if (opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true")
            o.no_new_privileges = true;
        else if (opt == "seccomp=unconfined" || opt == "seccomp:unconfined")
            o.seccomp = false;
        else if (opt.rfind("label", 0) == 0 || opt.rfind("apparmor", 0) == 0)
            ;  // no LSM on this runtime: accepted and ignored, as Docker does without one
        else
            throw Error("service \"" + s.name + "\": security_opt \"" + opt + "\" is not supported",
                        "berth supports no-new-privileges and seccomp=unconfined");
    }
    return o;
}

runtime::ExecSpec exec_spec(const compose::Service& s, const images::ResolvedImage& image, std::vector<std::string> argv,
                            const std::vector<std::string>& extra_env, const std::optional<std::string>& user,
                            const std::string& workdir) {
    runtime::ExecSpec es;
    es.argv = std::move(argv);
    es.env = container_env(s, image, extra_env);
    if (user) {
        auto who = runtime::resolve_user_in_layers(*user, s.group_add, image.layer_dirs);
        es.uid = who.uid;
        es.gid = who.gid;
        es.groups = who.groups;
    }
    if (!workdir.empty()) es.cwd = workdir;
    return es;
}

runtime::ContainerSpec translate(const compose::Project& project, const compose::Service& s, const images::ResolvedImage& image,
                                 const std::string& name, const std::string& state_root, const runtime::ResolvedUser& who,
                                 const RunOverrides& o, const NetworkSetup& net) {
    require_env_files(s);
    runtime::ContainerSpec spec;
    spec.id = name;
    spec.state_dir = state_root + "/containers/" + name;
    spec.run_dir = state::container_run_dir(state::runtime_dir(), project.name, name);
    spec.init_layers_dir = state_root + "/init";
    spec.spare_dir = state_root + "/spare";
    spec.layers = image.layer_dirs;
    const auto& ic = image.config;

    // Entrypoint and command, as compose merges them with the image.
    std::vector<std::string> entrypoint, cmd;
    bool entry_overridden = false;
    if (o.entrypoint) {
        entrypoint = compose::shell_split(*o.entrypoint);
        entry_overridden = true;
    } else if (s.entrypoint) {
        entrypoint = *s.entrypoint;
        entry_overridden = true;
    } else if (ic.entrypoint) {
        entrypoint = *ic.entrypoint;
    }
    if (o.command) cmd = *o.command;
    else if (s.command) cmd = *s.command;
    else if (!entry_overridden && ic.cmd) cmd = *ic.cmd;
    spec.argv = entrypoint;
    spec.argv.insert(spec.argv.end(), cmd.begin(), cmd.end());
    if (spec.argv.empty())
        throw Error("service \"" + s.name + "\": nothing to run",
                    "the image " + image.record.name + " has no Entrypoint or Cmd: set `command:` for the service");

    spec.env = container_env(s, image, o.env);

    spec.uid = who.uid;
    spec.gid = who.gid;
    spec.groups = who.groups;
    bool has_home = false;
    for (const auto& e : spec.env) has_home |= e.rfind("HOME=", 0) == 0;
    if (!has_home) spec.env.push_back("HOME=" + who.home);
    spec.cwd = o.workdir ? *o.workdir : !s.working_dir.empty() ? s.working_dir : !ic.working_dir.empty() ? ic.working_dir : "/";

    spec.hostname = !s.hostname.empty() ? s.hostname : name.substr(0, 63);
    bool has_hostname = false;
    for (const auto& e : spec.env) has_hostname |= e.rfind("HOSTNAME=", 0) == 0;
    if (!has_hostname) spec.env.insert(spec.env.begin(), "HOSTNAME=" + spec.hostname);
    spec.domainname = s.domainname;
    spec.etc_hosts = netns::hosts_file(net.own, s.extra_hosts);
    if (net.embedded_dns) {
        // berth's DNS server answers for the project's names and forwards the
        // rest (to `dns:` when set, else to the host's resolvers).
        std::vector<std::string> opts = s.dns_opt;
        bool has_ndots = false;
        for (const auto& opt : opts) has_ndots |= opt.rfind("ndots:", 0) == 0;
        if (!has_ndots) opts.push_back("ndots:0");
        spec.etc_resolv_conf = netns::resolv_conf({netns::kDnsAddress}, s.dns_search, opts);
    } else {
        spec.etc_resolv_conf = netns::resolv_conf(s.dns, s.dns_search, s.dns_opt);
    }

    // Mounts in the order of `volumes:`, then `tmpfs:`. A named volume's source
    // is its name until prepare_mounts puts its directory there.
    for (const auto& m : s.volumes) {
        runtime::MountSpec ms;
        ms.target = m.target;
        ms.read_only = m.read_only;
        if (m.type == "bind") {
            ms.source = m.source;
            ms.propagation = m.bind_propagation;
        } else if (m.type == "volume") {
            ms.source = plan::volume_name(project, m, name);
        } else if (m.type == "tmpfs") {
            ms.type = runtime::MountSpec::Type::Tmpfs;
            ms.size = m.tmpfs_size;
            ms.mode = m.tmpfs_mode;
        } else {
            throw Error("service \"" + s.name + "\": volume type \"" + m.type + "\" is not supported on one node");
        }
        spec.mounts.push_back(ms);
    }
    for (const auto& t : s.tmpfs) spec.mounts.push_back(tmpfs_mount(s, t));
    add_file_mounts(spec, project, s, false);
    add_file_mounts(spec, project, s, true);
    spec.shm_size = s.shm_size;
    for (const auto& [k, u] : s.ulimits)
        spec.rlimits.push_back({rlimit_resource(k), static_cast<uint64_t>(u.soft), static_cast<uint64_t>(u.hard)});
    for (const auto& [k, v] : s.sysctls) spec.sysctls[k] = v;

    spec.capabilities = runtime::apply_cap_changes(runtime::default_capabilities(), s.cap_add, s.cap_drop);
    spec.privileged = s.privileged;
    for (const auto& d : s.devices) spec.devices.push_back({d.source, d.target, d.permissions});
    spec.device_cgroup_rules = s.device_cgroup_rules;
    spec.read_only = s.read_only;
    spec.init = s.init.value_or(false);
    spec.tty = s.tty;
    spec.stdin_open = s.stdin_open;
    SecurityOpts sec = security_opts(s);
    spec.no_new_privileges = sec.no_new_privileges;
    spec.seccomp = sec.seccomp;
    if (s.network_mode == "host") spec.host_network = true;
    else if (!net.net_ns_path.empty()) spec.net_ns_path = net.net_ns_path;

    auto& l = spec.limits;
    const compose::ResourceSpec* lim = s.deploy && s.deploy->has_resources ? &s.deploy->limits : nullptr;
    l.memory = s.mem_limit ? s.mem_limit : lim ? lim->memory : std::nullopt;
    l.memory_swap = s.memswap_limit;
    l.memory_reservation = s.mem_reservation;
    if (!l.memory_reservation && s.deploy && s.deploy->has_resources) l.memory_reservation = s.deploy->reservations.memory;
    l.cpus = s.cpus ? s.cpus : lim ? lim->cpus : std::nullopt;
    l.cpu_shares = s.cpu_shares;
    l.cpuset_cpus = s.cpuset;
    l.pids = s.pids_limit ? s.pids_limit : lim ? lim->pids : std::nullopt;
    spec.cgroup_parent = s.cgroup_parent.empty() ? "berth" : s.cgroup_parent;
    return spec;
}

void prepare_mounts(runtime::ContainerSpec& spec, const compose::Project& project, const compose::Service& s,
                    const std::string& state_root) {
    for (size_t i = 0; i < s.volumes.size(); ++i) {
        const compose::Mount& m = s.volumes[i];
        runtime::MountSpec& ms = spec.mounts.at(i);
        if (m.type == "bind") {
            std::error_code ec;
            if (fs::exists(ms.source, ec)) continue;
            if (!m.bind_create_host_path.value_or(true))
                throw Error("service \"" + s.name + "\": bind source " + ms.source + " does not exist");
            if (fs::create_directories(ms.source, ec); ec)
                throw Error::sys(ec.value(), "service \"" + s.name + "\": create bind source " + ms.source);
            continue;
        }
        if (m.type != "volume") continue;
        volumes::Store store(state_root);
        std::string real = ms.source;  // translate put the volume's name there
        auto it = project.volumes.find(m.source);
        volumes::VolumeInfo v;
        if (it != project.volumes.end() && it->second.external) {
            try {
                v = store.external(real);
            } catch (Error& e) {
                throw e.wrap("service \"" + s.name + "\"");
            }
        } else if (it != project.volumes.end()) {
            v = store.ensure({real, it->second.driver, it->second.driver_opts, it->second.labels, project.name});
        } else {
            v = store.ensure({real, "local", {}, {{"com.docker.volume.anonymous", ""}}, project.name});
        }
        auto plan = volumes::mount_plan(v);
        if (plan.kind == volumes::MountPlan::Kind::Tmpfs) {
            ms.type = runtime::MountSpec::Type::Tmpfs;
            ms.source.clear();
            ms.size = plan.size;
            ms.mode = plan.mode;
            continue;
        }
        ms.source = plan.source;
        if (plan.kind == volumes::MountPlan::Kind::Device) store.mount_device(v);
        // First use of an empty volume: the image's content at the mount point goes in (as Docker does).
        if (plan.kind == volumes::MountPlan::Kind::Directory || plan.kind == volumes::MountPlan::Kind::Device) {
            if (m.volume_nocopy) store.mark_initialized(v);
            else store.copy_up_from_layers(v, spec.layers, m.target);
        }
        if (!m.volume_subpath.empty()) {
            ms.source += "/" + m.volume_subpath;
            std::error_code ec;
            if (!fs::exists(ms.source, ec))
                throw Error("service \"" + s.name + "\": subpath " + m.volume_subpath + " does not exist in volume " + real);
        }
    }
}

runtime::ContainerSpec make_container_spec(const compose::Project& project, const compose::Service& s,
                                           const images::ResolvedImage& image, const std::string& name,
                                           const std::string& state_root, const RunOverrides& o, const NetworkSetup& net) {
    auto who = runtime::resolve_user_in_layers(user_of(s, image, o), s.group_add, image.layer_dirs);
    runtime::ContainerSpec spec = translate(project, s, image, name, state_root, who, o, net);
    prepare_mounts(spec, project, s, state_root);
    return spec;
}

}  // namespace berth::supervisor
