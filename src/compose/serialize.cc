#include "compose/serialize.h"

#include "compose/tree.h"
#include "compose/units.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

namespace berth::compose {
namespace {

using J = nlohmann::ordered_json;

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

J file_ref_json(const FileRef& r) {
    J j = J::object();
    j["source"] = r.source;
    if (!r.target.empty()) j["target"] = r.target;
    if (!r.uid.empty()) j["uid"] = r.uid;
    if (!r.gid.empty()) j["gid"] = r.gid;
    if (r.mode) j["mode"] = *r.mode;
    return j;
}

J resources_json(const ResourceSpec& r) {
    J j = J::object();
    if (r.cpus) j["cpus"] = *r.cpus;
    if (r.memory) j["memory"] = *r.memory;
    if (r.pids) j["pids"] = *r.pids;
    return j;
}

J list(const std::vector<std::string>& v) { return J(v); }

}  // namespace

J service_to_json(const Service& s) {
    J j = J::object();
    if (!s.profiles.empty()) j["profiles"] = list(s.profiles);
    if (s.build) {
        J b = J::object();
        b["context"] = s.build->context;
        b["dockerfile"] = s.build->dockerfile;
        if (!s.build->args.empty()) b["args"] = opt_map(s.build->args);
        if (!s.build->labels.empty()) b["labels"] = str_map(s.build->labels);
        if (!s.build->target.empty()) b["target"] = s.build->target;
        j["build"] = b;
    }
    if (!s.cap_add.empty()) j["cap_add"] = list(s.cap_add);
    if (!s.cap_drop.empty()) j["cap_drop"] = list(s.cap_drop);
    if (!s.cgroup_parent.empty()) j["cgroup_parent"] = s.cgroup_parent;
    if (s.command) j["command"] = list(*s.command);
    if (!s.configs.empty()) {
        J a = J::array();
        for (auto& r : s.configs) a.push_back(file_ref_json(r));
        j["configs"] = a;
    }
    if (!s.container_name.empty()) j["container_name"] = s.container_name;
    if (s.cpus) j["cpus"] = *s.cpus;
    if (!s.cpuset.empty()) j["cpuset"] = s.cpuset;
    if (s.cpu_shares) j["cpu_shares"] = *s.cpu_shares;
    if (!s.depends_on.empty()) {
        J d = J::object();
        for (auto& [name, dep] : s.depends_on) {
            J x = J::object();
            x["condition"] = dep.condition;
            if (dep.restart) x["restart"] = true;
            x["required"] = dep.required;
            d[name] = x;
        }
        j["depends_on"] = d;
    }
    if (s.deploy) {
        J d = J::object();
        if (s.deploy->replicas) d["replicas"] = *s.deploy->replicas;
        if (s.deploy->has_resources) {
            J r = J::object();
            J lim = resources_json(s.deploy->limits), res = resources_json(s.deploy->reservations);
            if (!lim.empty()) r["limits"] = lim;
            if (!res.empty()) r["reservations"] = res;
            d["resources"] = r;
        }
        if (!s.deploy->restart_condition.empty() || s.deploy->restart_max_attempts) {
            J rp = J::object();
            if (!s.deploy->restart_condition.empty()) rp["condition"] = s.deploy->restart_condition;
            if (s.deploy->restart_max_attempts) rp["max_attempts"] = *s.deploy->restart_max_attempts;
            d["restart_policy"] = rp;
        }
        j["deploy"] = d;
    }
    if (!s.device_cgroup_rules.empty()) j["device_cgroup_rules"] = list(s.device_cgroup_rules);
    if (!s.devices.empty()) {
        J a = J::array();
        for (auto& d : s.devices) a.push_back({{"source", d.source}, {"target", d.target}, {"permissions", d.permissions}});
        j["devices"] = a;
    }
    if (!s.dns.empty()) j["dns"] = list(s.dns);
    if (!s.dns_opt.empty()) j["dns_opt"] = list(s.dns_opt);
    if (!s.dns_search.empty()) j["dns_search"] = list(s.dns_search);
    if (!s.domainname.empty()) j["domainname"] = s.domainname;
    if (s.entrypoint) j["entrypoint"] = list(*s.entrypoint);
    if (!s.environment.empty()) j["environment"] = opt_map(s.environment);
    if (!s.env_file.empty()) {
        J a = J::array();
        for (auto& f : s.env_file) a.push_back(J{{"path", f}, {"required", true}});
        j["env_file"] = a;
    }
    if (!s.expose.empty()) j["expose"] = list(s.expose);
    if (!s.extra_hosts.empty()) j["extra_hosts"] = list(s.extra_hosts);
    if (!s.group_add.empty()) j["group_add"] = list(s.group_add);
    if (!s.hostname.empty()) j["hostname"] = s.hostname;
    if (s.healthcheck) {
        const Healthcheck& h = *s.healthcheck;
        J x = J::object();
        if (!h.test.empty()) x["test"] = list(h.test);
        if (h.timeout) x["timeout"] = format_duration(*h.timeout);
        if (h.interval) x["interval"] = format_duration(*h.interval);
        if (h.retries) x["retries"] = *h.retries;
        if (h.start_period) x["start_period"] = format_duration(*h.start_period);
        if (h.start_interval) x["start_interval"] = format_duration(*h.start_interval);
        if (h.disable) x["disable"] = true;
        j["healthcheck"] = x;
    }
    if (!s.image.empty()) j["image"] = s.image;
    if (s.init) j["init"] = *s.init;
    if (!s.ipc.empty()) j["ipc"] = s.ipc;
    if (!s.labels.empty()) j["labels"] = str_map(s.labels);
    if (!s.links.empty()) j["links"] = list(s.links);
    if (s.logging) {
        J l = J::object();
        if (!s.logging->driver.empty()) l["driver"] = s.logging->driver;
        if (!s.logging->options.empty()) l["options"] = str_map(s.logging->options);
        j["logging"] = l;
    }
    if (!s.mac_address.empty()) j["mac_address"] = s.mac_address;
    if (s.mem_limit) j["mem_limit"] = *s.mem_limit;
    if (s.mem_reservation) j["mem_reservation"] = *s.mem_reservation;
    if (s.memswap_limit) j["memswap_limit"] = *s.memswap_limit;
    if (!s.network_mode.empty()) j["network_mode"] = s.network_mode;
    if (!s.networks.empty()) {
        J n = J::object();
        for (auto& [name, sn] : s.networks) {
            if (sn.is_null) {
                n[name] = nullptr;
                continue;
            }
            J x = J::object();
            if (!sn.aliases.empty()) x["aliases"] = list(sn.aliases);
            if (!sn.ipv4_address.empty()) x["ipv4_address"] = sn.ipv4_address;
            if (!sn.ipv6_address.empty()) x["ipv6_address"] = sn.ipv6_address;
            if (sn.priority) x["priority"] = *sn.priority;
            if (!sn.mac_address.empty()) x["mac_address"] = sn.mac_address;
            n[name] = x.empty() ? J(nullptr) : x;
        }
        j["networks"] = n;
    }
    if (s.oom_kill_disable) j["oom_kill_disable"] = true;
    if (s.oom_score_adj) j["oom_score_adj"] = *s.oom_score_adj;
    if (!s.pid.empty()) j["pid"] = s.pid;
    if (s.pids_limit) j["pids_limit"] = *s.pids_limit;
    if (!s.platform.empty()) j["platform"] = s.platform;
    if (!s.ports.empty()) {
        J a = J::array();
        for (auto& p : s.ports) a.push_back(port_json(p));
        j["ports"] = a;
    }
    if (s.privileged) j["privileged"] = true;
    if (!s.pull_policy.empty()) j["pull_policy"] = s.pull_policy;
    if (s.read_only) j["read_only"] = true;
    if (!s.restart.empty()) j["restart"] = s.restart;
    if (s.scale) j["scale"] = *s.scale;
    if (!s.secrets.empty()) {
        J a = J::array();
        for (auto& r : s.secrets) a.push_back(file_ref_json(r));
        j["secrets"] = a;
    }
    if (!s.security_opt.empty()) j["security_opt"] = list(s.security_opt);
    if (s.shm_size) j["shm_size"] = *s.shm_size;
    if (s.stdin_open) j["stdin_open"] = true;
    if (s.stop_grace_period) j["stop_grace_period"] = format_duration(*s.stop_grace_period);
    if (!s.stop_signal.empty()) j["stop_signal"] = s.stop_signal;
    if (!s.sysctls.empty()) j["sysctls"] = str_map(s.sysctls);
    if (!s.tmpfs.empty()) j["tmpfs"] = list(s.tmpfs);
    if (s.tty) j["tty"] = true;
    if (!s.ulimits.empty()) {
        J u = J::object();
        for (auto& [name, l] : s.ulimits) {
            if (l.soft == l.hard) u[name] = l.soft;
            else u[name] = J{{"soft", l.soft}, {"hard", l.hard}};
        }
        j["ulimits"] = u;
    }
    if (!s.user.empty()) j["user"] = s.user;
    if (!s.userns_mode.empty()) j["userns_mode"] = s.userns_mode;
    if (!s.volumes.empty()) {
        J a = J::array();
        for (auto& m : s.volumes) a.push_back(mount_json(m));
        j["volumes"] = a;
    }
    if (!s.volumes_from.empty()) j["volumes_from"] = list(s.volumes_from);
    if (!s.working_dir.empty()) j["working_dir"] = s.working_dir;
    for (auto& [k, v] : s.extensions_json) j[k] = v.empty() ? J(nullptr) : J::parse(v);
    return j;
}

J to_json(const Project& p) {
    J j = J::object();
    j["name"] = p.name;
    J services = J::object();
    for (auto& [name, s] : p.services) services[name] = service_to_json(s);
    j["services"] = services;
    if (!p.networks.empty()) {
        J nets = J::object();
        for (auto& [key, n] : p.networks) {
            J x = J::object();
            x["name"] = n.name;
            if (!n.driver.empty()) x["driver"] = n.driver;
            if (!n.driver_opts.empty()) x["driver_opts"] = str_map(n.driver_opts);
            if (!n.ipam_driver.empty() || !n.ipam_config.empty()) {
                J ipam = J::object();
                if (!n.ipam_driver.empty()) ipam["driver"] = n.ipam_driver;
                if (!n.ipam_config.empty()) {
                    J cfg = J::array();
                    for (auto& c : n.ipam_config) {
                        J cj = J::object();
                        if (!c.subnet.empty()) cj["subnet"] = c.subnet;
                        if (!c.ip_range.empty()) cj["ip_range"] = c.ip_range;
                        if (!c.gateway.empty()) cj["gateway"] = c.gateway;
                        cfg.push_back(cj);
                    }
                    ipam["config"] = cfg;
                }
                x["ipam"] = ipam;
            }
            if (n.external) x["external"] = true;
            if (n.internal) x["internal"] = true;
            if (n.attachable) x["attachable"] = true;
            if (!n.labels.empty()) x["labels"] = str_map(n.labels);
            if (n.enable_ipv6) x["enable_ipv6"] = *n.enable_ipv6;
            nets[key] = x;
        }
        j["networks"] = nets;
    }
    if (!p.volumes.empty()) {
        J vols = J::object();
        for (auto& [key, v] : p.volumes) {
            J x = J::object();
            x["name"] = v.name;
            if (!v.driver.empty()) x["driver"] = v.driver;
            if (!v.driver_opts.empty()) x["driver_opts"] = str_map(v.driver_opts);
            if (v.external) x["external"] = true;
            if (!v.labels.empty()) x["labels"] = str_map(v.labels);
            vols[key] = x;
        }
        j["volumes"] = vols;
    }
    auto files = [](const std::map<std::string, FileObject>& m) {
        J out = J::object();
        for (auto& [key, f] : m) {
            J x = J::object();
            x["name"] = f.name;
            if (!f.file.empty()) x["file"] = f.file;
            if (!f.environment.empty()) x["environment"] = f.environment;
            if (!f.content.empty()) x["content"] = f.content;
            if (f.external) x["external"] = true;
            out[key] = x;
        }
        return out;
    };
    if (!p.secrets.empty()) j["secrets"] = files(p.secrets);
    if (!p.configs.empty()) j["configs"] = files(p.configs);
    return j;
}

namespace {

bool needs_quotes(const std::string& s) {
    if (s.empty()) return true;
    Node probe = Node::scalar(s, true);
    if (probe.scalar_type() != ScalarType::String) return true;
    // YAML 1.1 readers take these for booleans.
    static const std::set<std::string> yaml11 = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                                 "on", "On", "ON", "off", "Off", "OFF"};
    return yaml11.count(s) > 0;
}

void emit(YAML::Emitter& out, const J& v) {
    switch (v.type()) {
    case J::value_t::object:
        if (v.empty()) {
            out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
            return;
        }
        out << YAML::BeginMap;
        for (auto it = v.begin(); it != v.end(); ++it) {
            out << YAML::Key;
            if (needs_quotes(it.key())) out << YAML::DoubleQuoted;
            out << it.key() << YAML::Value;
            emit(out, it.value());
        }
        out << YAML::EndMap;
        return;
    case J::value_t::array:
        if (v.empty()) {
            out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            return;
        }
        out << YAML::BeginSeq;
        for (const auto& item : v) emit(out, item);
        out << YAML::EndSeq;
        return;
    case J::value_t::string: {
        const std::string& s = v.get_ref<const std::string&>();
        if (s.find('\n') != std::string::npos) out << YAML::Literal << s;
        else if (needs_quotes(s)) out << YAML::DoubleQuoted << s;
        else out << s;
        return;
    }
    case J::value_t::boolean: out << (v.get<bool>() ? "true" : "false"); return;
    case J::value_t::number_integer: out << v.get<int64_t>(); return;
    case J::value_t::number_unsigned: out << v.get<uint64_t>(); return;
    case J::value_t::number_float: {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v.get<double>());
        std::string s(buf, r.ptr);
        out << s;
        return;
    }
    case J::value_t::null: out << YAML::Null; return;
    default: out << YAML::Null; return;
    }
}

}  // namespace

std::string to_yaml(const J& value) {
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetSeqFormat(YAML::Block);
    out.SetMapFormat(YAML::Block);
    out.SetNullFormat(YAML::LowerNull);
    emit(out, value);
    std::string s = out.c_str();
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
}

}  // namespace berth::compose
