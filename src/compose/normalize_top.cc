// The top-level networks, volumes, configs and secrets of a project.
#include "compose/normalizer.h"

namespace berth::compose::detail {
namespace {

using namespace nodes;

// The name and external flag of a top-level network or volume: `name:`, or
// the legacy `external: {name: …}`; else the key itself when external, else
// PROJECT_KEY. Returns the name; sets `external`.
std::string resource_name(const Node& v, const std::string& key, const std::string& path,
                          const std::string& project, bool& external) {
    std::string name;
    if (const Node* x = v.find("name")) name = text(*x, path + ".name");
    if (const Node* x = v.find("external")) {
        if (x->is_map()) {
            external = true;
            if (const Node* xn = x->find("name")) name = text(*xn, path + ".external.name");
        } else {
            external = boolean(*x, path + ".external");
        }
    }
    return !name.empty() ? name : external ? key : project + "_" + key;
}

// Each non-x- entry of a top-level mapping `kind`, with its key path.
template <typename Fn>
void each_entry(const Node& n, const std::string& kind, const std::string& what, Fn fn) {
    if (n.is_null()) return;
    if (!n.is_map()) fail(n, kind, "expected a mapping" + what + ", got " + kind_name(n));
    for (const auto& e : n.entries) {
        if (e.key.rfind("x-", 0) == 0) continue;
        fn(e, kind + "." + e.key);
    }
}

std::vector<IpamConfig> ipam_configs(const Node& cfg, const std::string& path) {
    std::vector<IpamConfig> out;
    for (size_t i = 0; i < cfg.items.size(); ++i) {
        const Node& c = cfg.items[i];
        std::string cp = path_index(path, i);
        IpamConfig ic;
        if (const Node* x = c.find("subnet")) ic.subnet = text(*x, cp + ".subnet");
        if (const Node* x = c.find("ip_range")) ic.ip_range = text(*x, cp + ".ip_range");
        if (const Node* x = c.find("gateway")) ic.gateway = text(*x, cp + ".gateway");
        out.push_back(ic);
    }
    return out;
}

}  // namespace

void Normalizer::top_networks(const Node& n, Project& p) {
    each_entry(n, "networks", " of networks", [&](const MapEntry& e, const std::string& path) {
        Network net;
        const Node& v = e.value;
        if (!v.is_null() && !v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
        net.name = resource_name(v, e.key, path, p.name, net.external);
        if (const Node* x = v.find("driver")) net.driver = text(*x, path + ".driver");
        if (const Node* x = v.find("driver_opts")) net.driver_opts = string_dict(*x, path + ".driver_opts");
        if (const Node* x = v.find("internal")) net.internal = boolean(*x, path + ".internal");
        if (const Node* x = v.find("attachable")) net.attachable = boolean(*x, path + ".attachable");
        if (const Node* x = v.find("enable_ipv6")) net.enable_ipv6 = boolean(*x, path + ".enable_ipv6");
        if (const Node* x = v.find("labels")) net.labels = string_dict(*x, path + ".labels");
        if (const Node* ipam = v.find("ipam"); ipam && ipam->is_map()) {
            if (const Node* d = ipam->find("driver")) net.ipam_driver = text(*d, path + ".ipam.driver");
            if (const Node* cfg = ipam->find("config"); cfg && cfg->is_seq())
                net.ipam_config = ipam_configs(*cfg, path + ".ipam.config");
        }
        p.networks[e.key] = std::move(net);
    });
}

void Normalizer::top_volumes(const Node& n, Project& p) {
    each_entry(n, "volumes", " of volumes", [&](const MapEntry& e, const std::string& path) {
        const Node& v = e.value;
        if (!v.is_null() && !v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
        Volume vol;
        vol.name = resource_name(v, e.key, path, p.name, vol.external);
        if (const Node* x = v.find("driver")) vol.driver = text(*x, path + ".driver");
        if (const Node* x = v.find("driver_opts")) vol.driver_opts = string_dict(*x, path + ".driver_opts");
        if (const Node* x = v.find("labels")) vol.labels = string_dict(*x, path + ".labels");
        p.volumes[e.key] = std::move(vol);
    });
}

void Normalizer::top_files(const Node& n, const std::string& kind, std::map<std::string, FileObject>& out) {
    each_entry(n, kind, "", [&](const MapEntry& e, const std::string& path) {
        const Node& v = e.value;
        if (!v.is_map())
            fail(v, path, std::string("expected a mapping with `file`, `environment` or `external`, got ") + kind_name(v));
        FileObject f;
        f.name = e.key;
        if (const Node* x = v.find("name")) f.name = text(*x, path + ".name");
        if (const Node* x = v.find("file")) f.file = absolute(text(*x, path + ".file"));
        if (const Node* x = v.find("environment")) f.environment = text(*x, path + ".environment");
        if (const Node* x = v.find("content")) f.content = text(*x, path + ".content");
        if (const Node* x = v.find("external")) f.external = x->is_map() ? true : boolean(*x, path + ".external");
        int sources = (!f.file.empty()) + (!f.environment.empty()) + (v.find("content") != nullptr) + f.external;
        if (sources != 1) fail(v, path, "set exactly one of `file`, `environment`, `content` or `external: true`");
        if (!f.environment.empty() && !ctx_.env.count(f.environment))
            fail(*v.find("environment"), path + ".environment", "environment variable " + f.environment + " is not set");
        if (!f.environment.empty()) f.env_value = ctx_.env.at(f.environment);
        out[e.key] = std::move(f);
    });
}

}  // namespace berth::compose::detail
