// One service: the dispatch over service_fields.h's table, and the readers of
// its sub-objects (build, ports, volumes, networks, depends_on, healthcheck, …).
#include "base/strings.h"
#include "compose/load_error.h"
#include "compose/normalizer.h"
#include "compose/service_fields.h"
#include "compose/short_syntax.h"
#include "compose/units.h"

#include <algorithm>
#include <stdexcept>

namespace berth::compose::detail {

using namespace nodes;

// `devices:` entries: "SOURCE[:TARGET[:PERMISSIONS]]" or a mapping.
std::vector<Device> Normalizer::devices(const Node& n, const std::string& path) {
    std::vector<Device> out;
    if (n.is_null()) return out;
    if (!n.is_seq()) fail(n, path, std::string("expected a list of devices, got ") + kind_name(n));
    for (size_t i = 0; i < n.items.size(); ++i) {
        const Node& it = n.items[i];
        std::string ip = path + "[" + std::to_string(i) + "]";
        Device d;
        if (it.is_map()) {
            for (const auto& e : it.entries)
                if (e.key != "source" && e.key != "target" && e.key != "permissions")
                    fail(e.value, ip + "." + e.key, "unknown key \"" + e.key + "\"", "use source, target and permissions");
            if (const Node* x = it.find("source")) d.source = text(*x, ip + ".source");
            if (const Node* x = it.find("target")) d.target = text(*x, ip + ".target");
            if (const Node* x = it.find("permissions")) d.permissions = text(*x, ip + ".permissions");
        } else {
            auto parts = split(text(it, ip), ':');
            if (parts.empty() || parts.size() > 3)
                fail(it, ip, "invalid device \"" + it.text + "\"", "write /dev/SOURCE[:/dev/TARGET[:rwm]]");
            d.source = parts[0];
            if (parts.size() > 1) d.target = parts[1];
            if (parts.size() > 2) d.permissions = parts[2];
        }
        if (d.target.empty()) d.target = d.source;
        if (d.source.empty() || d.source[0] != '/')
            fail(it, ip, "device \"" + d.source + "\" must be an absolute host path",
                 "CDI device names are not supported; write /dev/SOURCE[:/dev/TARGET[:rwm]]");
        if (d.target[0] != '/') fail(it, ip, "device target \"" + d.target + "\" must be an absolute path");
        if (d.permissions.empty() || d.permissions.find_first_not_of("rwm") != std::string::npos)
            fail(it, ip, "device permissions \"" + d.permissions + "\" are not some of r, w and m",
                 "e.g. /dev/ttyUSB0:/dev/ttyUSB0:rw");
        out.push_back(std::move(d));
    }
    return out;
}

Service Normalizer::service(const std::string& name, const Node& n, const std::string& path, Project& p) {
    Service s;
    s.name = name;
    if (n.is_null()) return s;
    if (!n.is_map()) fail(n, path, std::string("expected a mapping describing the service, got ") + kind_name(n));
    ServiceRead read{*this, s, p};
    for (const auto& e : n.entries) {
        const std::string& k = e.key;
        std::string kp = path_join(path, k);
        if (k.rfind("x-", 0) == 0) {
            s.extensions_json[k] = to_json(e.value).dump();
            continue;
        }
        const ServiceField* field = service_field(k);
        if (!field) fail(n, kp, "unknown key \"" + k + "\"");
        if (field->read) field->read(read, e.value, kp);
    }
    if (const Node* ef = n.find("env_file")) env_files(*ef, path + ".env_file", s);
    for (auto& [k, v] : s.environment)
        if (!v) {
            auto it = ctx_.env.find(k);
            if (it != ctx_.env.end()) v = it->second;
        }
    if (s.network_mode.empty() && s.networks.empty()) {
        s.networks["default"] = ServiceNetwork{};
        net_locs_[{name, "default"}] = n.loc;
    }
    if (!s.network_mode.empty() && n.find("networks") && !s.networks.empty())
        fail(*n.find("networks"), path + ".networks",
             "`network_mode` and `networks` cannot both be set", "remove one of them");
    return s;
}

std::optional<std::vector<std::string>> Normalizer::command(const Node& v, const std::string& path) {
    if (v.is_null()) return std::nullopt;
    if (v.is_seq()) return string_list(v, path);
    try {
        return shell_split(text(v, path));
    } catch (const ValueError& e) {
        fail(v, path, e.what());
    }
}

namespace {

// build.network is RUN's network mode, as `docker build --network` with BuildKit (docker compose's
// builder): default, none or host. BuildKit refuses a network's name ("network mode … not supported
// by buildkit"), and compose neither resolves a project network's key for it nor creates it first.
// Like docker compose, the file loads (down, ps, logs work); the build is refused, saying why.
void refuse_build_network(Build& b, const Node& v, const std::string& path, const std::map<std::string, Network>& networks) {
    std::string why = "unknown build network mode \"" + b.network + "\": berth builds on default, none or host, as docker compose";
    for (const auto& [key, n] : networks)
        if (b.network == key || b.network == n.name)
            why = "RUN steps cannot join the project network \"" + key +
                  "\": build.network is a network mode (default, none or host), not a compose network, as with docker compose";
    LoadError e(v.loc, path, why,
                "write network: default (the build's own bridge, with outbound access), none, or host; "
                "to reach a service while building, use network: host and the port it publishes");
    b.network_refused = e.what();
    b.network_refused_hint = e.hint();
}

}  // namespace

Build Normalizer::build(const Node& v, const std::string& path, const std::map<std::string, FileObject>& secrets,
                        const std::map<std::string, Network>& networks) {
    Build b;
    if (v.is_scalar()) {
        b.context = absolute(v.text);
    } else if (v.is_map()) {
        b.context = absolute(".");
        for (const auto& e : v.entries) {
            std::string kp = path_join(path, e.key);
            if (e.key == "context") {
                std::string c = text(e.value, kp);
                bool remote = c.find("://") != std::string::npos || c.rfind("git@", 0) == 0;
                b.context = remote ? c : absolute(c);
            } else if (e.key == "dockerfile") b.dockerfile = text(e.value, kp);
            else if (e.key == "args") b.args = dict(e.value, kp);
            else if (e.key == "target") b.target = text(e.value, kp);
            else if (e.key == "labels") b.labels = string_dict(e.value, kp);
            else if (e.key == "dockerfile_inline") b.dockerfile_inline = text(e.value, kp);
            else if (e.key == "tags") b.tags = string_list(e.value, kp);
            else if (e.key == "no_cache") b.no_cache = boolean(e.value, kp);
            else if (e.key == "pull") b.pull = boolean(e.value, kp);
            else if (e.key == "platforms") {
                for (const auto& pl : string_list(e.value, kp))
                    if (pl != "linux/amd64" && pl != "linux/arm64" && pl.rfind("linux/", 0) != 0)
                        fail(e.value, kp, "berth builds for this host's platform only, not " + pl);
                b.ignored.push_back(e.key);
            } else if (e.key == "network") {
                b.network = text(e.value, kp);
                if (b.network != "default" && b.network != "none" && b.network != "host")
                    refuse_build_network(b, e.value, kp, networks);
            } else if (e.key == "entitlements") {
                b.entitlements = string_list(e.value, kp);
                for (const auto& en : b.entitlements)
                    if (en != "network.host" && en != "security.insecure")
                        fail(e.value, kp, "unknown entitlement " + en, "berth knows network.host (and security.insecure, refused at RUN)");
            } else if (e.key == "extra_hosts") b.extra_hosts = extra_hosts(e.value, kp);
            else if (e.key == "shm_size") b.shm_size = bytes(e.value, kp);
            else if (e.key == "additional_contexts") {
                for (const auto& [name, dir] : string_dict(e.value, kp)) {
                    bool remote = dir.find("://") != std::string::npos || dir.rfind("git@", 0) == 0;
                    if (remote && dir.rfind("docker-image://", 0) != 0)
                        fail(e.value, kp + "." + name, "berth takes additional contexts from a local directory or docker-image://, not " + dir);
                    b.additional_contexts[name] = remote ? dir : absolute(dir);
                }
            } else if (e.key == "secrets") b.secrets = file_refs(e.value, kp, secrets, "secret");
            else if (e.key == "ssh") {
                if (e.value.is_map())
                    for (const auto& [id, p] : string_dict(e.value, kp)) b.ssh.push_back(id + "=" + p);
                else
                    b.ssh = string_list(e.value, kp);
            } else b.ignored.push_back(e.key);
        }
    } else {
        fail(v, path, std::string("expected a path or a mapping with `context`, got ") + kind_name(v));
    }
    if (b.dockerfile.empty()) b.dockerfile = "Dockerfile";
    return b;
}

std::vector<FileRef> Normalizer::file_refs(const Node& v, const std::string& path,
                               const std::map<std::string, FileObject>& defined,
                                           const std::string& what) {
    std::vector<FileRef> out;
    if (v.is_null()) return out;
    if (!v.is_seq()) fail(v, path, std::string("expected a list, got ") + kind_name(v));
    for (size_t i = 0; i < v.items.size(); ++i) {
        const Node& it = v.items[i];
        std::string ip = path_index(path, i);
        FileRef r;
        if (it.is_scalar()) {
            r.source = it.text;
        } else if (it.is_map()) {
            if (const Node* x = it.find("source")) r.source = text(*x, ip + ".source");
            if (const Node* x = it.find("target")) r.target = text(*x, ip + ".target");
            if (const Node* x = it.find("uid")) r.uid = text(*x, ip + ".uid");
            if (const Node* x = it.find("gid")) r.gid = text(*x, ip + ".gid");
            if (const Node* x = it.find("mode")) r.mode = static_cast<uint32_t>(integer(*x, ip + ".mode"));
        } else {
            fail(it, ip, std::string("expected a name or a mapping with `source`, got ") + kind_name(it));
        }
        if (r.source.empty()) fail(it, ip, "the " + what + " needs a `source`");
        if (!defined.count(r.source))
            fail(it, ip, "service refers to undefined " + what + " \"" + r.source + "\"",
                 "declare it under the top-level `" + what + "s:` key");
        out.push_back(r);
    }
    // Unique by target (or source when no target), the later entry wins.
    std::vector<FileRef> uniq;
    for (auto& r : out) {
        auto key = [](const FileRef& f) { return f.target.empty() ? f.source : f.target; };
        auto it = std::find_if(uniq.begin(), uniq.end(), [&](const FileRef& u) { return key(u) == key(r); });
        if (it != uniq.end()) *it = r;
        else uniq.push_back(r);
    }
    return uniq;
}

void Normalizer::depends_on(const std::string& svc, const Node& v, const std::string& path, Service& s) {
    each_named(v, path, "a list of services or a mapping", [&](const std::string& dep, const Node* value,
                                                              const Location& loc, const std::string& dp) {
        Dependency d;
        if (value && value->is_map()) {
            if (const Node* x = value->find("condition")) {
                d.condition = text(*x, dp + ".condition");
                if (d.condition != "service_started" && d.condition != "service_healthy" &&
                    d.condition != "service_completed_successfully")
                    fail(*x, dp + ".condition", "unknown condition \"" + d.condition +
                                                    "\": use service_started, service_healthy or "
                                                    "service_completed_successfully");
            }
            if (const Node* x = value->find("required")) d.required = boolean(*x, dp + ".required");
            if (const Node* x = value->find("restart")) d.restart = boolean(*x, dp + ".restart");
        } else if (value && !value->is_null()) {
            fail(*value, dp, std::string("expected a mapping with `condition`, got ") + kind_name(*value));
        }
        s.depends_on[dep] = d;
        dep_locs_[{svc, dep}] = loc;
    });
}

Deploy Normalizer::deploy(const Node& v, const std::string& path) {
    Deploy d;
    if (v.is_null()) return d;
    if (!v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
    if (const Node* x = v.find("replicas")) d.replicas = static_cast<uint64_t>(non_negative(*x, path + ".replicas"));
    if (const Node* r = v.find("resources"); r && r->is_map()) {
        d.has_resources = true;
        auto spec = [&](const Node* n, const std::string& sp, ResourceSpec& out) {
            if (!n || !n->is_map()) return;
            if (const Node* x = n->find("cpus")) out.cpus = cpu_count(*x, sp + ".cpus");
            if (const Node* x = n->find("memory")) out.memory = bytes(*x, sp + ".memory");
            if (const Node* x = n->find("pids")) out.pids = integer(*x, sp + ".pids");
        };
        spec(r->find("limits"), path + ".resources.limits", d.limits);
        spec(r->find("reservations"), path + ".resources.reservations", d.reservations);
    }
    if (const Node* rp = v.find("restart_policy"); rp && rp->is_map()) {
        if (const Node* x = rp->find("condition")) d.restart_condition = text(*x, path + ".restart_policy.condition");
        if (const Node* x = rp->find("max_attempts"))
            d.restart_max_attempts = static_cast<uint64_t>(non_negative(*x, path + ".restart_policy.max_attempts"));
        if (const Node* x = rp->find("delay")) d.restart_delay = non_negative_duration(*x, path + ".restart_policy.delay");
    }
    return d;
}

std::vector<std::string> Normalizer::extra_hosts(const Node& v, const std::string& path) {
    std::vector<std::string> out;
    if (v.is_map()) {
        for (const auto& e : v.entries) {
            if (e.value.is_seq())
                for (size_t i = 0; i < e.value.items.size(); ++i)
                    out.push_back(e.key + "=" + text(e.value.items[i], path_index(path_join(path, e.key), i)));
            else
                out.push_back(e.key + "=" + text(e.value, path_join(path, e.key)));
        }
        return out;
    }
    for (const auto& h : string_list(v, path)) {
        // "host:ip" and "host=ip" are both accepted; an IPv6 address holds colons.
        size_t eq = h.find('=');
        size_t sep = eq != std::string::npos ? eq : h.find(':');
        if (sep == std::string::npos || sep == 0)
            fail(v, path, "invalid extra host \"" + h + "\": expected HOST:IP or HOST=IP");
        out.push_back(h.substr(0, sep) + "=" + h.substr(sep + 1));
    }
    return out;
}

Healthcheck Normalizer::healthcheck(const Node& v, const std::string& path) {
    Healthcheck h;
    if (!v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
    for (const auto& e : v.entries) {
        std::string kp = path_join(path, e.key);
        if (e.key == "test") {
            if (e.value.is_scalar()) {
                h.test = {"CMD-SHELL", e.value.text};
            } else {
                h.test = string_list(e.value, kp);
                if (!h.test.empty() && h.test[0] != "CMD" && h.test[0] != "CMD-SHELL" && h.test[0] != "NONE")
                    fail(e.value, kp, "a test list starts with CMD, CMD-SHELL or NONE, not \"" + h.test[0] + "\"",
                         "write [\"CMD\", \"curl\", \"-f\", \"http://localhost\"] or a plain string for a shell command");
            }
            if (!h.test.empty() && h.test[0] == "NONE") h.disable = true;
        } else if (e.key == "interval") h.interval = non_negative_duration(e.value, kp);
        else if (e.key == "timeout") h.timeout = non_negative_duration(e.value, kp);
        else if (e.key == "start_period") h.start_period = non_negative_duration(e.value, kp);
        else if (e.key == "start_interval") h.start_interval = non_negative_duration(e.value, kp);
        else if (e.key == "retries") h.retries = static_cast<uint64_t>(non_negative(e.value, kp));
        else if (e.key == "disable") h.disable = boolean(e.value, kp);
    }
    return h;
}

Logging Normalizer::logging(const Node& v, const std::string& path) {
    Logging l;
    if (!v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
    if (const Node* x = v.find("driver")) l.driver = text(*x, path + ".driver");
    if (const Node* x = v.find("options")) l.options = string_dict(*x, path + ".options");
    return l;
}

void Normalizer::service_networks(const std::string& svc, const Node& v, const std::string& path, Service& s) {
    each_named(v, path, "a list or a mapping of networks", [&](const std::string& net, const Node* value,
                                                              const Location& loc, const std::string& np) {
        ServiceNetwork sn;
        if (value && value->is_map()) {
            sn.is_null = false;
            if (const Node* x = value->find("aliases")) sn.aliases = string_list(*x, np + ".aliases");
            if (const Node* x = value->find("ipv4_address")) sn.ipv4_address = text(*x, np + ".ipv4_address");
            if (const Node* x = value->find("ipv6_address")) sn.ipv6_address = text(*x, np + ".ipv6_address");
            if (const Node* x = value->find("priority")) sn.priority = static_cast<int>(integer(*x, np + ".priority"));
            if (const Node* x = value->find("mac_address")) sn.mac_address = text(*x, np + ".mac_address");
        } else if (value && !value->is_null()) {
            fail(*value, np, std::string("expected a mapping, got ") + kind_name(*value));
        }
        s.networks[net] = sn;
        net_locs_[{svc, net}] = loc;
    });
}

std::vector<Port> Normalizer::ports(const Node& v, const std::string& path) {
    std::vector<Port> out;
    if (v.is_null()) return out;
    if (!v.is_seq()) fail(v, path, std::string("expected a list of ports, got ") + kind_name(v));
    for (size_t i = 0; i < v.items.size(); ++i) {
        const Node& it = v.items[i];
        std::string ip = path_index(path, i);
        if (it.is_scalar()) {
            std::string error;
            for (auto& port : read_port_spec(it.text, error)) out.push_back(port);
            if (!error.empty()) fail(it, ip, error);
        } else if (it.is_map()) {
            Port port;
            if (const Node* x = it.find("target")) {
                int64_t t = integer(*x, ip + ".target");
                if (!is_valid_port(t)) fail(*x, ip + ".target", "port " + std::to_string(t) + " is out of range 1-65535");
                port.target = static_cast<uint32_t>(t);
            } else {
                fail(it, ip, "a port in long syntax needs a `target`");
            }
            if (const Node* x = it.find("published")) {
                port.published = text(*x, ip + ".published");
                if (std::string error = check_published(port.published); !error.empty())
                    fail(*x, ip + ".published", error);
            }
            if (const Node* x = it.find("host_ip")) port.host_ip = text(*x, ip + ".host_ip");
            if (const Node* x = it.find("protocol")) port.protocol = lower(text(*x, ip + ".protocol"));
            if (const Node* x = it.find("mode")) port.mode = text(*x, ip + ".mode");
            if (const Node* x = it.find("name")) port.name = text(*x, ip + ".name");
            if (const Node* x = it.find("app_protocol")) port.app_protocol = text(*x, ip + ".app_protocol");
            out.push_back(port);
        } else {
            fail(it, ip, std::string("expected a port like \"8080:80\" or a mapping with `target`, got ") + kind_name(it));
        }
    }
    // Unique by {host_ip, target, published, protocol}.
    std::vector<Port> uniq;
    for (auto& p : out) {
        bool dup = std::any_of(uniq.begin(), uniq.end(), [&](const Port& u) {
            return u.host_ip == p.host_ip && u.target == p.target && u.published == p.published &&
                   u.protocol == p.protocol;
        });
        if (!dup) uniq.push_back(p);
    }
    return uniq;
}

std::string Normalizer::restart(const Node& v, const std::string& path) {
    std::string r = text(v, path);
    if (r == "no" || r == "always" || r == "unless-stopped" || r == "on-failure") return r;
    if (r.rfind("on-failure:", 0) == 0) {
        std::string n = r.substr(11);
        if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) return r;
    }
    fail(v, path, "invalid restart policy \"" + r + "\": use no, always, on-failure[:N] or unless-stopped");
}

// As docker: a name with or without SIG, any case (SIGINT, int, RTMIN+3), or a number.
std::string Normalizer::stop_signal(const Node& v, const std::string& path) {
    std::string s = text(v, path);
    if (!signal_number(s))
        fail(v, path, "unknown signal \"" + s + "\"", "use a name such as SIGTERM, SIGINT or SIGQUIT, or a number from 1 to 64");
    return s;
}

std::map<std::string, Ulimit> Normalizer::ulimits(const Node& v, const std::string& path) {
    std::map<std::string, Ulimit> out;
    if (!v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
    for (const auto& e : v.entries) {
        std::string up = path_join(path, e.key);
        Ulimit u;
        if (e.value.is_map()) {
            const Node* soft = e.value.find("soft");
            const Node* hard = e.value.find("hard");
            if (!soft || !hard) fail(e.value, up, "set both `soft` and `hard`");
            u.soft = integer(*soft, up + ".soft");
            u.hard = integer(*hard, up + ".hard");
            if (u.soft > u.hard && u.hard >= 0)
                fail(e.value, up, "the soft limit " + std::to_string(u.soft) + " is above the hard limit " + std::to_string(u.hard));
        } else {
            u.soft = u.hard = integer(e.value, up);
        }
        out[e.key] = u;
    }
    return out;
}

std::vector<Mount> Normalizer::mounts(const std::string& svc, const Node& v, const std::string& path) {
    std::vector<Mount> out;
    if (v.is_null()) return out;
    if (!v.is_seq()) fail(v, path, std::string("expected a list of volumes, got ") + kind_name(v));
    for (size_t i = 0; i < v.items.size(); ++i) {
        const Node& it = v.items[i];
        std::string ip = path_index(path, i);
        Mount m;
        if (it.is_scalar()) {
            std::string error;
            m = read_volume_spec(it.text, error);
            if (!error.empty()) fail(it, ip, error);
        } else if (it.is_map()) {
            m = long_mount(it, ip);
        } else {
            fail(it, ip, std::string("expected a volume like \"data:/data\" or a mapping with `type`, got ") + kind_name(it));
        }
        if (m.type == "bind") m.source = absolute(m.source);
        if (m.type == "volume" && !m.source.empty()) vol_locs_[{svc, m.source}] = it.loc;
        // Unique by target: a later entry (an override file's) replaces the earlier one.
        auto same = std::find_if(out.begin(), out.end(), [&](const Mount& o) { return o.target == m.target; });
        if (same != out.end()) *same = m;
        else out.push_back(m);
    }
    return out;
}

Mount Normalizer::long_mount(const Node& it, const std::string& ip) {
    Mount m;
    const Node* type = it.find("type");
    if (!type) fail(it, ip, "a volume in long syntax needs a `type` (bind, volume or tmpfs)");
    m.type = text(*type, ip + ".type");
    if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs" && m.type != "npipe" && m.type != "cluster")
        fail(*type, ip + ".type", "unknown volume type \"" + m.type + "\": use bind, volume or tmpfs");
    if (const Node* x = it.find("source")) m.source = text(*x, ip + ".source");
    const Node* target = it.find("target");
    if (!target) fail(it, ip, "a volume needs a `target` path inside the container");
    m.target = text(*target, ip + ".target");
    if (m.target.empty() || m.target[0] != '/')
        fail(*target, ip + ".target", "the container path \"" + m.target + "\" must be absolute");
    if (const Node* x = it.find("read_only")) m.read_only = boolean(*x, ip + ".read_only");
    if (const Node* x = it.find("consistency")) m.consistency = text(*x, ip + ".consistency");
    if (const Node* b = it.find("bind"); b && b->is_map()) {
        m.has_bind = true;
        if (const Node* x = b->find("propagation")) m.bind_propagation = text(*x, ip + ".bind.propagation");
        if (const Node* x = b->find("create_host_path")) m.bind_create_host_path = boolean(*x, ip + ".bind.create_host_path");
        if (const Node* x = b->find("selinux")) m.bind_selinux = text(*x, ip + ".bind.selinux");
    }
    if (const Node* vo = it.find("volume"); vo && vo->is_map()) {
        m.has_volume = true;
        if (const Node* x = vo->find("nocopy")) m.volume_nocopy = boolean(*x, ip + ".volume.nocopy");
        if (const Node* x = vo->find("subpath")) m.volume_subpath = text(*x, ip + ".volume.subpath");
    }
    if (const Node* t = it.find("tmpfs"); t && t->is_map()) {
        m.has_tmpfs = true;
        if (const Node* x = t->find("size")) m.tmpfs_size = bytes(*x, ip + ".tmpfs.size");
        if (const Node* x = t->find("mode")) m.tmpfs_mode = static_cast<uint32_t>(integer(*x, ip + ".tmpfs.mode"));
    }
    if (m.type == "bind" && m.source.empty()) fail(it, ip, "a bind mount needs a `source` path on the host");
    if (m.type == "tmpfs" && !m.source.empty()) fail(it, ip, "a tmpfs mount takes no `source`");
    if (m.type == "volume" && m.has_volume == false) m.has_volume = false;
    return m;
}

void Normalizer::env_files(const Node& v, const std::string& path, Service& s) {
    struct Ref {
        std::string path;
        bool required = true;
        const Node* node;
        bool raw = false;
    };
    std::vector<Ref> refs;
    if (v.is_scalar()) refs.push_back({v.text, true, &v});
    else if (v.is_seq()) {
        for (size_t i = 0; i < v.items.size(); ++i) {
            const Node& it = v.items[i];
            std::string ip = path_index(path, i);
            if (it.is_map()) {
                Ref r{"", true, &it};
                if (const Node* x = it.find("path")) r.path = text(*x, ip + ".path");
                if (const Node* x = it.find("required")) r.required = boolean(*x, ip + ".required");
                if (const Node* x = it.find("format")) {
                    std::string f = text(*x, ip + ".format");
                    if (f != "raw") fail(*x, ip + ".format", "unknown env_file format \"" + f + "\"", "the one format is `raw`");
                    r.raw = true;
                }
                if (r.path.empty()) fail(it, ip, "an env_file entry needs a `path`");
                refs.push_back(r);
            } else {
                refs.push_back({text(it, ip), true, &it});
            }
        }
    } else if (!v.is_null()) {
        fail(v, path, std::string("expected a path or a list of paths, got ") + kind_name(v));
    }
    std::map<std::string, std::string> from_files;
    for (const auto& r : refs) {
        std::string abs = absolute(r.path);
        if (!ctx_.read_env_file)
            fail(*r.node, path, "env files are not read here", "load the project through compose::load");
        Lookup lookup = [this, &from_files](const std::string& name) -> std::optional<std::string> {
            auto it = ctx_.env.find(name);
            if (it != ctx_.env.end()) return it->second;
            auto f = from_files.find(name);
            if (f != from_files.end()) return f->second;
            return std::nullopt;
        };
        std::optional<EnvList> vars;
        try {
            vars = ctx_.read_env_file(abs, r.raw ? Lookup() : lookup);
        } catch (const LoadError&) {
            throw;
        } catch (const std::exception& e) {
            fail(*r.node, path, e.what());
        }
        if (!vars) {
            // Not an error yet: commands that do not make this service's
            // containers (ps, logs, exec of others) still work; making one fails.
            if (r.required && s.missing_env_file.empty()) s.missing_env_file = abs;
            continue;
        }
        s.env_file.push_back(abs);
        for (auto& [k, val] : *vars) from_files[k] = val;
    }
    for (auto& [k, val] : from_files)
        if (!s.environment.count(k)) s.environment[k] = val;
}

}  // namespace berth::compose::detail
