#include "compose/service_fields.h"

#include "compose/normalizer.h"
#include "compose/units.h"

#include <algorithm>

namespace berth::compose {
namespace {

using namespace nodes;
using J = nlohmann::ordered_json;
using Read = ServiceRead;
using Path = std::string;

J opt_map(const std::map<std::string, std::optional<std::string>>& m) {
    J out = J::object();
    for (auto& [k, v] : m) out[k] = v ? J(*v) : J(nullptr);
    return out;
}

J str_map(const std::map<std::string, std::string>& m) {
    J out = J::object();
    for (auto& [k, v] : m) out[k] = v;
    return out;
}

J port_json(const Port& p) {
    J j = J::object();
    if (!p.name.empty()) j["name"] = p.name;
    j["mode"] = p.mode;
    if (!p.host_ip.empty()) j["host_ip"] = p.host_ip;
    j["target"] = p.target;
    if (!p.published.empty()) j["published"] = p.published;
    j["protocol"] = p.protocol;
    if (!p.app_protocol.empty()) j["app_protocol"] = p.app_protocol;
    return j;
}

J mount_json(const Mount& m) {
    J j = J::object();
    j["type"] = m.type;
    if (!m.source.empty()) j["source"] = m.source;
    j["target"] = m.target;
    if (m.read_only) j["read_only"] = true;
    if (!m.consistency.empty()) j["consistency"] = m.consistency;
    if (m.type == "bind" || m.has_bind) {
        J b = J::object();
        if (!m.bind_propagation.empty()) b["propagation"] = m.bind_propagation;
        if (m.bind_create_host_path) b["create_host_path"] = *m.bind_create_host_path;
        if (!m.bind_selinux.empty()) b["selinux"] = m.bind_selinux;
        if (m.has_bind || !b.empty()) j["bind"] = b;
    }
    if (m.type == "volume" && (m.has_volume || m.volume_nocopy)) {
        J v = J::object();
        if (m.volume_nocopy) v["nocopy"] = true;
        if (!m.volume_subpath.empty()) v["subpath"] = m.volume_subpath;
        j["volume"] = v;
    }
    if (m.has_tmpfs) {
        J t = J::object();
        if (m.tmpfs_size) t["size"] = *m.tmpfs_size;
        if (m.tmpfs_mode) t["mode"] = *m.tmpfs_mode;
        j["tmpfs"] = t;
    }
    return j;
}

J file_refs_json(const std::vector<FileRef>& refs) {
    J a = J::array();
    for (auto& r : refs) {
        J j = J::object();
        j["source"] = r.source;
        if (!r.target.empty()) j["target"] = r.target;
        if (!r.uid.empty()) j["uid"] = r.uid;
        if (!r.gid.empty()) j["gid"] = r.gid;
        if (r.mode) j["mode"] = *r.mode;
        a.push_back(j);
    }
    return a;
}

J resources_json(const ResourceSpec& r) {
    J j = J::object();
    if (r.cpus) j["cpus"] = *r.cpus;
    if (r.memory) j["memory"] = *r.memory;
    if (r.pids) j["pids"] = *r.pids;
    return j;
}

J build_json(const Build& b) {
    J j = J::object();
    j["context"] = b.context;
    j["dockerfile"] = b.dockerfile;
    if (!b.args.empty()) j["args"] = opt_map(b.args);
    if (!b.labels.empty()) j["labels"] = str_map(b.labels);
    if (!b.target.empty()) j["target"] = b.target;
    if (!b.dockerfile_inline.empty()) j["dockerfile_inline"] = b.dockerfile_inline;
    if (!b.tags.empty()) j["tags"] = b.tags;
    if (b.no_cache) j["no_cache"] = true;
    if (b.pull) j["pull"] = true;
    if (!b.network.empty()) j["network"] = b.network;
    if (!b.extra_hosts.empty()) j["extra_hosts"] = b.extra_hosts;
    if (b.shm_size) j["shm_size"] = *b.shm_size;
    if (!b.additional_contexts.empty()) j["additional_contexts"] = str_map(b.additional_contexts);
    if (!b.secrets.empty()) j["secrets"] = file_refs_json(b.secrets);
    if (!b.ssh.empty()) j["ssh"] = b.ssh;
    if (!b.entitlements.empty()) j["entitlements"] = b.entitlements;
    return j;
}

J depends_on_json(const std::map<std::string, Dependency>& deps) {
    J d = J::object();
    for (auto& [name, dep] : deps) {
        J x = J::object();
        x["condition"] = dep.condition;
        if (dep.restart) x["restart"] = true;
        x["required"] = dep.required;
        d[name] = x;
    }
    return d;
}

J deploy_json(const Deploy& dep) {
    J d = J::object();
    if (dep.replicas) d["replicas"] = *dep.replicas;
    if (dep.has_resources) {
        J r = J::object();
        J lim = resources_json(dep.limits), res = resources_json(dep.reservations);
        if (!lim.empty()) r["limits"] = lim;
        if (!res.empty()) r["reservations"] = res;
        d["resources"] = r;
    }
    if (!dep.restart_condition.empty() || dep.restart_max_attempts || dep.restart_delay) {
        J rp = J::object();
        if (dep.restart_delay) rp["delay"] = format_duration(*dep.restart_delay);
        if (!dep.restart_condition.empty()) rp["condition"] = dep.restart_condition;
        if (dep.restart_max_attempts) rp["max_attempts"] = *dep.restart_max_attempts;
        d["restart_policy"] = rp;
    }
    return d;
}

J healthcheck_json(const Healthcheck& h) {
    J x = J::object();
    if (!h.test.empty()) x["test"] = h.test;
    if (h.timeout) x["timeout"] = format_duration(*h.timeout);
    if (h.interval) x["interval"] = format_duration(*h.interval);
    if (h.retries) x["retries"] = *h.retries;
    if (h.start_period) x["start_period"] = format_duration(*h.start_period);
    if (h.start_interval) x["start_interval"] = format_duration(*h.start_interval);
    if (h.disable) x["disable"] = true;
    return x;
}

J networks_json(const std::map<std::string, ServiceNetwork>& nets) {
    J n = J::object();
    for (auto& [name, sn] : nets) {
        if (sn.is_null) {
            n[name] = nullptr;
            continue;
        }
        J x = J::object();
        if (!sn.aliases.empty()) x["aliases"] = sn.aliases;
        if (!sn.ipv4_address.empty()) x["ipv4_address"] = sn.ipv4_address;
        if (!sn.ipv6_address.empty()) x["ipv6_address"] = sn.ipv6_address;
        if (sn.priority) x["priority"] = *sn.priority;
        if (!sn.mac_address.empty()) x["mac_address"] = sn.mac_address;
        n[name] = x.empty() ? J(nullptr) : x;
    }
    return n;
}

J ulimits_json(const std::map<std::string, Ulimit>& ulimits) {
    J u = J::object();
    for (auto& [name, l] : ulimits) {
        if (l.soft == l.hard) u[name] = l.soft;
        else u[name] = J{{"soft", l.soft}, {"hard", l.hard}};
    }
    return u;
}

template <typename T>
J array_of(const std::vector<T>& items, J (*one)(const T&)) {
    J a = J::array();
    for (auto& i : items) a.push_back(one(i));
    return a;
}

J device_json(const Device& d) { return {{"source", d.source}, {"target", d.target}, {"permissions", d.permissions}}; }

// The uniform kinds of field, one line each in the table.
#define TEXT(k)                                                                         \
    {#k, [](Read& r, const Node& v, const Path& p) { r.service.k = text(v, p); },       \
     [](const Service& s, J& j) { if (!s.k.empty()) j[#k] = s.k; }}
#define LIST(k)                                                                         \
    {#k, [](Read& r, const Node& v, const Path& p) { r.service.k = string_list(v, p); }, \
     [](const Service& s, J& j) { if (!s.k.empty()) j[#k] = s.k; }}
#define FLAG(k)                                                                         \
    {#k, [](Read& r, const Node& v, const Path& p) { r.service.k = boolean(v, p); },    \
     [](const Service& s, J& j) { if (s.k) j[#k] = true; }}
#define DICT(k)                                                                         \
    {#k, [](Read& r, const Node& v, const Path& p) { r.service.k = string_dict(v, p); }, \
     [](const Service& s, J& j) { if (!s.k.empty()) j[#k] = str_map(s.k); }}
#define OPTIONAL(k, reader)                                                             \
    {#k, [](Read& r, const Node& v, const Path& p) { r.service.k = reader(v, p); },     \
     [](const Service& s, J& j) { if (s.k) j[#k] = *s.k; }}

const std::vector<ServiceField> kFields = {
    LIST(profiles),
    {"build", [](Read& r, const Node& v, const Path& p) { r.service.build = r.norm.build(v, p, r.project.secrets, r.project.networks); },
     [](const Service& s, J& j) { if (s.build) j["build"] = build_json(*s.build); }},
    LIST(cap_add),
    LIST(cap_drop),
    TEXT(cgroup_parent),
    {"command", [](Read& r, const Node& v, const Path& p) { r.service.command = r.norm.command(v, p); },
     [](const Service& s, J& j) { if (s.command) j["command"] = *s.command; }},
    {"configs",
     [](Read& r, const Node& v, const Path& p) { r.service.configs = r.norm.file_refs(v, p, r.project.configs, "config"); },
     [](const Service& s, J& j) { if (!s.configs.empty()) j["configs"] = file_refs_json(s.configs); }},
    TEXT(container_name),
    OPTIONAL(cpus, cpu_count),
    TEXT(cpuset),
    OPTIONAL(cpu_shares, integer),
    {"depends_on", [](Read& r, const Node& v, const Path& p) { r.norm.depends_on(r.service.name, v, p, r.service); },
     [](const Service& s, J& j) { if (!s.depends_on.empty()) j["depends_on"] = depends_on_json(s.depends_on); }},
    {"deploy", [](Read& r, const Node& v, const Path& p) { r.service.deploy = r.norm.deploy(v, p); },
     [](const Service& s, J& j) { if (s.deploy) j["deploy"] = deploy_json(*s.deploy); }},
    LIST(device_cgroup_rules),
    {"devices", [](Read& r, const Node& v, const Path& p) { r.service.devices = r.norm.devices(v, p); },
     [](const Service& s, J& j) { if (!s.devices.empty()) j["devices"] = array_of(s.devices, device_json); }},
    LIST(dns),
    LIST(dns_opt),
    LIST(dns_search),
    TEXT(domainname),
    {"entrypoint", [](Read& r, const Node& v, const Path& p) { r.service.entrypoint = r.norm.command(v, p); },
     [](const Service& s, J& j) { if (s.entrypoint) j["entrypoint"] = *s.entrypoint; }},
    {"environment",
     [](Read& r, const Node& v, const Path& p) {
         for (auto& [k, val] : dict(v, p)) r.service.environment[k] = val;
     },
     [](const Service& s, J& j) { if (!s.environment.empty()) j["environment"] = opt_map(s.environment); }},
    {"env_file", nullptr,  // read after the other keys: `environment` wins over it
     [](const Service& s, J& j) {
         if (s.env_file.empty()) return;
         J a = J::array();
         for (auto& f : s.env_file) a.push_back(J{{"path", f}, {"required", true}});
         j["env_file"] = a;
     }},
    {"expose",
     [](Read& r, const Node& v, const Path& p) {
         for (auto& x : string_list(v, p)) r.service.expose.push_back(x);
     },
     [](const Service& s, J& j) { if (!s.expose.empty()) j["expose"] = s.expose; }},
    {"extra_hosts", [](Read& r, const Node& v, const Path& p) { r.service.extra_hosts = r.norm.extra_hosts(v, p); },
     [](const Service& s, J& j) { if (!s.extra_hosts.empty()) j["extra_hosts"] = s.extra_hosts; }},
    LIST(group_add),
    TEXT(hostname),
    {"healthcheck", [](Read& r, const Node& v, const Path& p) { r.service.healthcheck = r.norm.healthcheck(v, p); },
     [](const Service& s, J& j) { if (s.healthcheck) j["healthcheck"] = healthcheck_json(*s.healthcheck); }},
    TEXT(image),
    OPTIONAL(init, boolean),
    TEXT(ipc),
    DICT(labels),
    LIST(links),
    {"logging", [](Read& r, const Node& v, const Path& p) { r.service.logging = r.norm.logging(v, p); },
     [](const Service& s, J& j) {
         if (!s.logging) return;
         J l = J::object();
         if (!s.logging->driver.empty()) l["driver"] = s.logging->driver;
         if (!s.logging->options.empty()) l["options"] = str_map(s.logging->options);
         j["logging"] = l;
     }},
    TEXT(mac_address),
    OPTIONAL(mem_limit, bytes),
    OPTIONAL(mem_reservation, bytes),
    {"memswap_limit",
     [](Read& r, const Node& v, const Path& p) { r.service.memswap_limit = v.text == "-1" ? -1 : bytes(v, p); },
     [](const Service& s, J& j) { if (s.memswap_limit) j["memswap_limit"] = *s.memswap_limit; }},
    TEXT(network_mode),
    {"networks", [](Read& r, const Node& v, const Path& p) { r.norm.service_networks(r.service.name, v, p, r.service); },
     [](const Service& s, J& j) { if (!s.networks.empty()) j["networks"] = networks_json(s.networks); }},
    FLAG(oom_kill_disable),
    OPTIONAL(oom_score_adj, integer),
    TEXT(pid),
    OPTIONAL(pids_limit, integer),
    TEXT(platform),
    {"ports", [](Read& r, const Node& v, const Path& p) { r.service.ports = r.norm.ports(v, p); },
     [](const Service& s, J& j) { if (!s.ports.empty()) j["ports"] = array_of(s.ports, port_json); }},
    FLAG(privileged),
    TEXT(pull_policy),
    FLAG(read_only),
    {"restart", [](Read& r, const Node& v, const Path& p) { r.service.restart = r.norm.restart(v, p); },
     [](const Service& s, J& j) { if (!s.restart.empty()) j["restart"] = s.restart; }},
    {"scale", [](Read& r, const Node& v, const Path& p) { r.service.scale = static_cast<uint64_t>(non_negative(v, p)); },
     [](const Service& s, J& j) { if (s.scale) j["scale"] = *s.scale; }},
    {"secrets",
     [](Read& r, const Node& v, const Path& p) { r.service.secrets = r.norm.file_refs(v, p, r.project.secrets, "secret"); },
     [](const Service& s, J& j) { if (!s.secrets.empty()) j["secrets"] = file_refs_json(s.secrets); }},
    LIST(security_opt),
    OPTIONAL(shm_size, bytes),
    FLAG(stdin_open),
    {"stop_grace_period",
     [](Read& r, const Node& v, const Path& p) { r.service.stop_grace_period = non_negative_duration(v, p); },
     [](const Service& s, J& j) {
         if (s.stop_grace_period) j["stop_grace_period"] = format_duration(*s.stop_grace_period);
     }},
    {"stop_signal", [](Read& r, const Node& v, const Path& p) { r.service.stop_signal = r.norm.stop_signal(v, p); },
     [](const Service& s, J& j) { if (!s.stop_signal.empty()) j["stop_signal"] = s.stop_signal; }},
    DICT(sysctls),
    LIST(tmpfs),
    FLAG(tty),
    {"ulimits", [](Read& r, const Node& v, const Path& p) { r.service.ulimits = r.norm.ulimits(v, p); },
     [](const Service& s, J& j) { if (!s.ulimits.empty()) j["ulimits"] = ulimits_json(s.ulimits); }},
    TEXT(user),
    TEXT(userns_mode),
    {"volumes", [](Read& r, const Node& v, const Path& p) { r.service.volumes = r.norm.mounts(r.service.name, v, p); },
     [](const Service& s, J& j) { if (!s.volumes.empty()) j["volumes"] = array_of(s.volumes, mount_json); }},
    LIST(volumes_from),
    TEXT(working_dir),
    {"extends", nullptr, nullptr},  // resolved by the loader before normalization
    {"develop", nullptr, nullptr},  // watch rules: accepted, not used
};

#undef TEXT
#undef LIST
#undef FLAG
#undef DICT
#undef OPTIONAL

}  // namespace

const std::vector<ServiceField>& service_fields() { return kFields; }

const ServiceField* service_field(std::string_view key) {
    // The keys sorted once, for a binary search per key read.
    static const std::vector<const ServiceField*> sorted = [] {
        std::vector<const ServiceField*> v;
        for (const auto& f : kFields) v.push_back(&f);
        std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->key < b->key; });
        return v;
    }();
    auto it = std::lower_bound(sorted.begin(), sorted.end(), key, [](auto* f, std::string_view k) { return f->key < k; });
    return it != sorted.end() && (*it)->key == key ? *it : nullptr;
}

std::string image_name(const Project& p, const std::string& service_name, const Service& svc) {
    return svc.image.empty() ? p.name + "-" + service_name : svc.image;
}

}  // namespace berth::compose
