#include "compose/normalize.h"

#include "base/strings.h"
#include "compose/dotenv.h"
#include "compose/load_error.h"
#include "compose/units.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace berth::compose {
namespace {

// ---- small accessors that never crash on an unexpected shape --------------

[[noreturn]] void fail(const Node& n, const std::string& path, const std::string& msg,
                       std::string hint = {}) {
    throw LoadError(n.loc, path, msg, std::move(hint));
}

const char* kind_name(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Null: return "nothing (null)";
    case Node::Kind::Map: return "a mapping";
    case Node::Kind::Seq: return "a list";
    case Node::Kind::Scalar: break;
    }
    switch (n.scalar_type()) {
    case ScalarType::Bool: return "a boolean";
    case ScalarType::Int: return "a number";
    case ScalarType::Float: return "a number";
    default: return "a string";
    }
}

std::string text(const Node& n, const std::string& path) {
    if (n.is_null()) return "";
    if (!n.is_scalar()) fail(n, path, std::string("expected a string, got ") + kind_name(n));
    return n.text;
}

// A Node as JSON with its YAML 1.2 core types, for x- extension values.
nlohmann::json node_json(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Null: return nullptr;
    case Node::Kind::Map: {
        auto o = nlohmann::json::object();
        for (const auto& e : n.entries) o[e.key] = node_json(e.value);
        return o;
    }
    case Node::Kind::Seq: {
        auto a = nlohmann::json::array();
        for (const auto& i : n.items) a.push_back(node_json(i));
        return a;
    }
    case Node::Kind::Scalar: break;
    }
    switch (n.scalar_type()) {
    case ScalarType::Null: return nullptr;
    case ScalarType::Bool: return n.as_bool();
    case ScalarType::Int:
    case ScalarType::Float: {
        auto j = nlohmann::json::parse(n.text, nullptr, false);
        if (!j.is_discarded() && j.is_number()) return j;
        return n.text;
    }
    case ScalarType::String: return n.text;
    }
    return n.text;
}

bool boolean(const Node& n, const std::string& path) {
    if (n.scalar_type() == ScalarType::Bool) return n.as_bool();
    if (n.is_scalar() && (n.text == "true" || n.text == "false")) return n.text == "true";
    fail(n, path, std::string("expected true or false, got ") + kind_name(n));
}

int64_t integer(const Node& n, const std::string& path) {
    if (n.is_scalar()) {
        try {
            size_t used = 0;
            std::string t = n.text;
            int base = 0;
            if (t.rfind("0o", 0) == 0) {  // YAML 1.2 octal
                t = t.substr(2);
                base = 8;
            }
            long long v = std::stoll(t, &used, base);
            if (used == t.size()) return v;
        } catch (const std::exception&) {
        }
    }
    fail(n, path, "expected a whole number, got " + (n.is_scalar() ? "\"" + n.text + "\"" : std::string(kind_name(n))));
}

double number(const Node& n, const std::string& path) {
    if (n.is_scalar()) {
        try {
            size_t used = 0;
            double v = std::stod(n.text, &used);
            if (used == n.text.size()) return v;
        } catch (const std::exception&) {
        }
    }
    fail(n, path, "expected a number, got " + (n.is_scalar() ? "\"" + n.text + "\"" : std::string(kind_name(n))));
}

Nanos duration(const Node& n, const std::string& path) {
    if (n.scalar_type() == ScalarType::Int && n.text == "0") return 0;
    try {
        return parse_duration(text(n, path));
    } catch (const std::invalid_argument& e) {
        fail(n, path, e.what());
    }
}

// A duration that cannot be negative (a grace period, a health-check interval).
Nanos non_negative_duration(const Node& n, const std::string& path) {
    Nanos d = duration(n, path);
    if (d < 0) fail(n, path, "must not be negative, got \"" + n.text + "\"", "write a duration like 30s or 1m30s");
    return d;
}

// A CPU count (`cpus`, deploy's `cpus`): docker takes it as nano-CPUs in an
// int64, so 9.2e9 is the most any engine could hold; it is not negative.
double cpu_count(const Node& n, const std::string& path) {
    double v = number(n, path);
    constexpr double kMaxCpus = 9.2e9;
    if (!std::isfinite(v) || v > kMaxCpus)
        fail(n, path, "value out of range: \"" + n.text + "\"", "give a number of CPUs such as 0.5 or 2");
    if (v < 0) fail(n, path, "must not be negative, got \"" + n.text + "\"", "give a number of CPUs such as 0.5 or 2");
    return v;
}

Bytes bytes(const Node& n, const std::string& path) {
    try {
        Bytes b = parse_bytes(text(n, path));
        if (b < 0) fail(n, path, "a size cannot be negative");
        return b;
    } catch (const std::invalid_argument& e) {
        fail(n, path, e.what());
    }
}

std::vector<std::string> string_list(const Node& n, const std::string& path) {
    std::vector<std::string> out;
    if (n.is_null()) return out;
    if (n.is_scalar()) return {n.text};
    if (!n.is_seq()) fail(n, path, std::string("expected a list of strings, got ") + kind_name(n));
    for (size_t i = 0; i < n.items.size(); ++i) out.push_back(text(n.items[i], path_index(path, i)));
    return out;
}

// `KEY=VALUE` list or KEY: VALUE mapping. A list item without "=" (or a null
// map value) has no value.
std::map<std::string, std::optional<std::string>> dict(const Node& n, const std::string& path,
                                                       char sep = '=') {
    std::map<std::string, std::optional<std::string>> out;
    if (n.is_null()) return out;
    if (n.is_map()) {
        for (const auto& e : n.entries) {
            if (e.value.is_null()) out[e.key] = std::nullopt;
            else out[e.key] = text(e.value, path_join(path, e.key));
        }
        return out;
    }
    if (!n.is_seq()) fail(n, path, std::string("expected a mapping or a list of KEY=VALUE, got ") + kind_name(n));
    for (size_t i = 0; i < n.items.size(); ++i) {
        std::string item = text(n.items[i], path_index(path, i));
        size_t eq = item.find(sep);
        if (eq == std::string::npos) out[item] = std::nullopt;
        else out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

std::map<std::string, std::string> string_dict(const Node& n, const std::string& path) {
    std::map<std::string, std::string> out;
    for (auto& [k, v] : dict(n, path)) out[k] = v.value_or("");
    return out;
}

// Reads KEY=VALUE lists in map form, keeping YAML order for things where order matters.
std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool is_valid_port(int64_t p) { return p >= 1 && p <= 65535; }

}  // namespace

// ---- ports -------------------------------------------------------------------

namespace {

struct Range {
    int64_t lo = 0, hi = 0;
    bool empty = true;
};

Range parse_range(const std::string& s, const std::string& spec) {
    Range r;
    if (s.empty()) return r;
    auto parse_one = [&](const std::string& p) -> int64_t {
        if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos)
            throw std::invalid_argument("invalid port \"" + p + "\" in \"" + spec + "\"");
        if (p.size() > 6) throw std::invalid_argument("port " + p + " in \"" + spec + "\" is out of range 1-65535");
        int64_t v = std::stoll(p);
        if (!is_valid_port(v))
            throw std::invalid_argument("port " + p + " in \"" + spec + "\" is out of range 1-65535");
        return v;
    };
    size_t dash = s.find('-');
    r.empty = false;
    if (dash == std::string::npos) {
        r.lo = r.hi = parse_one(s);
    } else {
        r.lo = parse_one(s.substr(0, dash));
        r.hi = parse_one(s.substr(dash + 1));
        if (r.hi < r.lo)
            throw std::invalid_argument("invalid port range \"" + s + "\" in \"" + spec + "\": the end is before the start");
    }
    return r;
}

}  // namespace

std::vector<Port> parse_port_spec(const std::string& spec) {
    std::string rest = spec;
    std::string protocol = "tcp";
    if (size_t slash = rest.rfind('/'); slash != std::string::npos) {
        protocol = lower(rest.substr(slash + 1));
        rest = rest.substr(0, slash);
        if (protocol != "tcp" && protocol != "udp" && protocol != "sctp")
            throw std::invalid_argument("invalid protocol \"" + protocol + "\" in port \"" + spec +
                                        "\": use tcp, udp or sctp");
    }
    std::string host_ip;
    if (!rest.empty() && rest[0] == '[') {  // [::1]:8080:80
        size_t close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            throw std::invalid_argument("invalid port \"" + spec + "\": expected [IPv6]:HOST:CONTAINER");
        host_ip = rest.substr(1, close - 1);
        rest = rest.substr(close + 2);
        if (rest.find(':') == std::string::npos) rest = ":" + rest;  // [::1]::80 style already handled
    }
    std::vector<std::string> parts = split(rest, ':');
    std::string published, target;
    if (parts.size() == 1) {
        target = parts[0];
    } else if (parts.size() == 2) {
        published = parts[0];
        target = parts[1];
    } else if (parts.size() == 3 && host_ip.empty()) {
        host_ip = parts[0];
        published = parts[1];
        target = parts[2];
    } else {
        // An unbracketed IPv6 address: everything before the last two fields.
        size_t last = rest.rfind(':');
        size_t mid = rest.rfind(':', last - 1);
        if (!host_ip.empty() || mid == std::string::npos)
            throw std::invalid_argument("invalid port \"" + spec + "\": expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]");
        host_ip = rest.substr(0, mid);
        published = rest.substr(mid + 1, last - mid - 1);
        target = rest.substr(last + 1);
    }
    if (target.empty()) throw std::invalid_argument("invalid port \"" + spec + "\": the container port is missing");
    Range t = parse_range(target, spec);
    Range p = parse_range(published, spec);
    std::vector<Port> out;
    int64_t tn = t.hi - t.lo + 1, pn = p.empty ? 0 : p.hi - p.lo + 1;
    if (!p.empty && tn > 1 && pn != tn)
        throw std::invalid_argument("invalid port \"" + spec + "\": the host range has " + std::to_string(pn) +
                                    " ports but the container range has " + std::to_string(tn));
    for (int64_t i = 0; i < tn; ++i) {
        Port port;
        port.host_ip = host_ip;
        port.protocol = protocol;
        port.target = static_cast<uint32_t>(t.lo + i);
        if (!p.empty) {
            if (tn == 1 && pn > 1) port.published = std::to_string(p.lo) + "-" + std::to_string(p.hi);
            else port.published = std::to_string(p.lo + i);
        }
        out.push_back(port);
    }
    return out;
}

// ---- volumes -----------------------------------------------------------------

Mount parse_volume_spec(const std::string& spec) {
    Mount m;
    std::vector<std::string> parts = split(spec, ':');
    if (spec.empty() || parts.size() > 3)
        throw std::invalid_argument("invalid volume \"" + spec + "\": expected [SOURCE:]TARGET[:MODE]");
    std::string source, target, mode;
    if (parts.size() == 1) {
        target = parts[0];
    } else if (parts.size() == 2) {
        // "/data:ro" is TARGET:MODE only when the second part is a mode and the first a path.
        if (parts[1].find('/') == std::string::npos && !parts[1].empty() && parts[0].rfind("/", 0) == 0 &&
            std::all_of(parts[1].begin(), parts[1].end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == ','; })) {
            target = parts[0];
            mode = parts[1];
        } else {
            source = parts[0];
            target = parts[1];
        }
    } else {
        source = parts[0];
        target = parts[1];
        mode = parts[2];
    }
    if (target.empty() || target[0] != '/')
        throw std::invalid_argument("invalid volume \"" + spec + "\": the container path \"" + target +
                                    "\" must be absolute");
    m.target = target;
    m.source = source;
    if (source.empty()) {
        m.type = "volume";
        m.has_volume = true;
    } else if (source[0] == '/' || source[0] == '.' || source[0] == '~') {
        m.type = "bind";
        m.has_bind = true;
        m.bind_create_host_path = true;
    } else {
        m.type = "volume";
        m.has_volume = true;
    }
    for (const auto& opt : split(mode, ',')) {
        if (opt.empty()) continue;
        if (opt == "ro") m.read_only = true;
        else if (opt == "rw") m.read_only = false;
        else if (opt == "z" || opt == "Z") m.bind_selinux = opt;
        else if (opt == "nocopy") m.volume_nocopy = true;
        else if (opt == "shared" || opt == "rshared" || opt == "slave" || opt == "rslave" ||
                 opt == "private" || opt == "rprivate")
            m.bind_propagation = opt;
        else if (opt == "cached" || opt == "delegated" || opt == "consistent")
            m.consistency = opt;
        else
            throw std::invalid_argument("invalid volume mode \"" + opt + "\" in \"" + spec +
                                        "\": use ro, rw, z, Z, nocopy or a propagation mode");
    }
    if (m.type == "bind" && m.volume_nocopy)
        throw std::invalid_argument("invalid volume \"" + spec + "\": nocopy applies to named volumes only");
    if (m.type == "volume" && !m.bind_propagation.empty())
        throw std::invalid_argument("invalid volume \"" + spec + "\": propagation applies to bind mounts only");
    return m;
}

// ---- the normalizer --------------------------------------------------------

namespace {

class Normalizer {
public:
    Normalizer(const NormalizeContext& ctx) : ctx_(ctx) {}

    Project run(const Node& root) {
        Project p;
        p.name = ctx_.project_name;
        p.working_dir = ctx_.project_dir;
        if (!root.is_map()) fail(root, "", "the top level must be a mapping with a `services` key");
        if (const Node* nets = root.find("networks")) top_networks(*nets, p);
        if (const Node* vols = root.find("volumes")) top_volumes(*vols, p);
        if (const Node* s = root.find("secrets")) top_files(*s, "secrets", p.secrets);
        if (const Node* c = root.find("configs")) top_files(*c, "configs", p.configs);
        const Node* services = root.find("services");
        if (services && !services->is_null()) {
            if (!services->is_map()) fail(*services, "services", std::string("expected a mapping of services, got ") + kind_name(*services));
            for (const auto& e : services->entries) {
                if (e.key.rfind("x-", 0) == 0) continue;
                service_locs_[e.key] = e.key_loc;
                Service s = service(e.key, e.value, "services." + e.key, p);
                bool active = s.profiles.empty() || profile_active(s.profiles);
                (active ? p.services : p.disabled_services)[e.key] = std::move(s);
            }
        }
        add_default_network(p);
        check(p);
        return p;
    }

private:
    const NormalizeContext& ctx_;
    std::map<std::string, Location> service_locs_;
    std::map<std::pair<std::string, std::string>, Location> dep_locs_;
    std::map<std::pair<std::string, std::string>, Location> net_locs_;
    std::map<std::pair<std::string, std::string>, Location> vol_locs_;

    bool profile_active(const std::vector<std::string>& profiles) const {
        for (const auto& want : ctx_.profiles) {
            if (want == "*") return true;
            if (std::find(profiles.begin(), profiles.end(), want) != profiles.end()) return true;
        }
        return false;
    }

    std::string absolute(const std::string& path) const {
        if (path.empty()) return path;
        fs::path p(path);
        if (path == "~" || path.rfind("~/", 0) == 0) p = fs::path(ctx_.home) / path.substr(std::min<size_t>(2, path.size()));
        else if (p.is_relative()) p = fs::path(ctx_.project_dir) / p;
        return p.lexically_normal().string() == "/" ? "/" : [&] {
            std::string s = p.lexically_normal().string();
            while (s.size() > 1 && s.back() == '/') s.pop_back();
            return s;
        }();
    }

    // --- top-level resources ---

    void top_networks(const Node& n, Project& p) {
        if (n.is_null()) return;
        if (!n.is_map()) fail(n, "networks", std::string("expected a mapping of networks, got ") + kind_name(n));
        for (const auto& e : n.entries) {
            if (e.key.rfind("x-", 0) == 0) continue;
            std::string path = "networks." + e.key;
            Network net;
            const Node& v = e.value;
            if (!v.is_null() && !v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
            std::string name;
            if (const Node* x = v.find("name")) name = text(*x, path + ".name");
            if (const Node* x = v.find("external")) {
                if (x->is_map()) {  // legacy external: {name: …}
                    net.external = true;
                    if (const Node* xn = x->find("name")) name = text(*xn, path + ".external.name");
                } else {
                    net.external = boolean(*x, path + ".external");
                }
            }
            net.name = !name.empty() ? name : net.external ? e.key : p.name + "_" + e.key;
            if (const Node* x = v.find("driver")) net.driver = text(*x, path + ".driver");
            if (const Node* x = v.find("driver_opts")) net.driver_opts = string_dict(*x, path + ".driver_opts");
            if (const Node* x = v.find("internal")) net.internal = boolean(*x, path + ".internal");
            if (const Node* x = v.find("attachable")) net.attachable = boolean(*x, path + ".attachable");
            if (const Node* x = v.find("enable_ipv6")) net.enable_ipv6 = boolean(*x, path + ".enable_ipv6");
            if (const Node* x = v.find("labels")) net.labels = string_dict(*x, path + ".labels");
            if (const Node* ipam = v.find("ipam"); ipam && ipam->is_map()) {
                if (const Node* d = ipam->find("driver")) net.ipam_driver = text(*d, path + ".ipam.driver");
                if (const Node* cfg = ipam->find("config"); cfg && cfg->is_seq()) {
                    for (size_t i = 0; i < cfg->items.size(); ++i) {
                        const Node& c = cfg->items[i];
                        std::string cp = path_index(path + ".ipam.config", i);
                        IpamConfig ic;
                        if (const Node* x = c.find("subnet")) ic.subnet = text(*x, cp + ".subnet");
                        if (const Node* x = c.find("ip_range")) ic.ip_range = text(*x, cp + ".ip_range");
                        if (const Node* x = c.find("gateway")) ic.gateway = text(*x, cp + ".gateway");
                        net.ipam_config.push_back(ic);
                    }
                }
            }
            p.networks[e.key] = std::move(net);
        }
    }

    void top_volumes(const Node& n, Project& p) {
        if (n.is_null()) return;
        if (!n.is_map()) fail(n, "volumes", std::string("expected a mapping of volumes, got ") + kind_name(n));
        for (const auto& e : n.entries) {
            if (e.key.rfind("x-", 0) == 0) continue;
            std::string path = "volumes." + e.key;
            const Node& v = e.value;
            if (!v.is_null() && !v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
            Volume vol;
            std::string name;
            if (const Node* x = v.find("name")) name = text(*x, path + ".name");
            if (const Node* x = v.find("external")) {
                if (x->is_map()) {
                    vol.external = true;
                    if (const Node* xn = x->find("name")) name = text(*xn, path + ".external.name");
                } else {
                    vol.external = boolean(*x, path + ".external");
                }
            }
            vol.name = !name.empty() ? name : vol.external ? e.key : p.name + "_" + e.key;
            if (const Node* x = v.find("driver")) vol.driver = text(*x, path + ".driver");
            if (const Node* x = v.find("driver_opts")) vol.driver_opts = string_dict(*x, path + ".driver_opts");
            if (const Node* x = v.find("labels")) vol.labels = string_dict(*x, path + ".labels");
            p.volumes[e.key] = std::move(vol);
        }
    }

    void top_files(const Node& n, const std::string& kind, std::map<std::string, FileObject>& out) {
        if (n.is_null()) return;
        if (!n.is_map()) fail(n, kind, std::string("expected a mapping, got ") + kind_name(n));
        for (const auto& e : n.entries) {
            if (e.key.rfind("x-", 0) == 0) continue;
            std::string path = kind + "." + e.key;
            const Node& v = e.value;
            if (!v.is_map()) fail(v, path, std::string("expected a mapping with `file`, `environment` or `external`, got ") + kind_name(v));
            FileObject f;
            f.name = e.key;
            if (const Node* x = v.find("name")) f.name = text(*x, path + ".name");
            if (const Node* x = v.find("file")) f.file = absolute(text(*x, path + ".file"));
            if (const Node* x = v.find("environment")) f.environment = text(*x, path + ".environment");
            if (const Node* x = v.find("content")) f.content = text(*x, path + ".content");
            if (const Node* x = v.find("external")) f.external = x->is_map() ? true : boolean(*x, path + ".external");
            int sources = (!f.file.empty()) + (!f.environment.empty()) + (v.find("content") != nullptr) + f.external;
            if (sources != 1)
                fail(v, path, "set exactly one of `file`, `environment`, `content` or `external: true`");
            if (!f.environment.empty() && !ctx_.env.count(f.environment))
                fail(*v.find("environment"), path + ".environment",
                     "environment variable " + f.environment + " is not set");
            out[e.key] = std::move(f);
        }
    }

    // `devices:` entries: "SOURCE[:TARGET[:PERMISSIONS]]" or a mapping.
    std::vector<Device> devices(const Node& n, const std::string& path) {
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

    // --- one service ---

    Service service(const std::string& name, const Node& n, const std::string& path, Project& p) {
        Service s;
        s.name = name;
        if (n.is_null()) return s;
        if (!n.is_map()) fail(n, path, std::string("expected a mapping describing the service, got ") + kind_name(n));
        for (const auto& e : n.entries) {
            const std::string& k = e.key;
            const Node& v = e.value;
            std::string kp = path_join(path, k);
            if (k.rfind("x-", 0) == 0) {
                s.extensions_json[k] = node_json(v).dump();
                continue;
            }
            if (k == "image") s.image = text(v, kp);
            else if (k == "build") s.build = build(v, kp);
            else if (k == "cap_add") s.cap_add = string_list(v, kp);
            else if (k == "cap_drop") s.cap_drop = string_list(v, kp);
            else if (k == "cgroup_parent") s.cgroup_parent = text(v, kp);
            else if (k == "command") s.command = command(v, kp);
            else if (k == "entrypoint") s.entrypoint = command(v, kp);
            else if (k == "configs") s.configs = file_refs(v, kp, p.configs, "config", false);
            else if (k == "secrets") s.secrets = file_refs(v, kp, p.secrets, "secret", true);
            else if (k == "container_name") s.container_name = text(v, kp);
            else if (k == "cpu_shares") s.cpu_shares = integer(v, kp);
            else if (k == "cpus") s.cpus = cpu_count(v, kp);
            else if (k == "cpuset") s.cpuset = text(v, kp);
            else if (k == "depends_on") depends_on(name, v, kp, s);
            else if (k == "deploy") s.deploy = deploy(v, kp);
            else if (k == "devices") s.devices = devices(v, kp);
            else if (k == "device_cgroup_rules") s.device_cgroup_rules = string_list(v, kp);
            else if (k == "dns") s.dns = string_list(v, kp);
            else if (k == "dns_opt") s.dns_opt = string_list(v, kp);
            else if (k == "dns_search") s.dns_search = string_list(v, kp);
            else if (k == "domainname") s.domainname = text(v, kp);
            else if (k == "environment") {
                for (auto& [ek, ev] : dict(v, kp)) s.environment[ek] = ev;
            } else if (k == "env_file") {
                // handled below, after `environment`, which wins
            } else if (k == "expose") {
                for (auto& x : string_list(v, kp)) s.expose.push_back(x);
            } else if (k == "extra_hosts") {
                s.extra_hosts = extra_hosts(v, kp);
            } else if (k == "group_add") s.group_add = string_list(v, kp);
            else if (k == "healthcheck") s.healthcheck = healthcheck(v, kp);
            else if (k == "hostname") s.hostname = text(v, kp);
            else if (k == "init") s.init = boolean(v, kp);
            else if (k == "ipc") s.ipc = text(v, kp);
            else if (k == "labels") s.labels = string_dict(v, kp);
            else if (k == "links") s.links = string_list(v, kp);
            else if (k == "logging") s.logging = logging(v, kp);
            else if (k == "mac_address") s.mac_address = text(v, kp);
            else if (k == "mem_limit") s.mem_limit = bytes(v, kp);
            else if (k == "mem_reservation") s.mem_reservation = bytes(v, kp);
            else if (k == "memswap_limit") s.memswap_limit = v.text == "-1" ? -1 : bytes(v, kp);
            else if (k == "shm_size") s.shm_size = bytes(v, kp);
            else if (k == "network_mode") s.network_mode = text(v, kp);
            else if (k == "networks") service_networks(name, v, kp, s);
            else if (k == "oom_kill_disable") s.oom_kill_disable = boolean(v, kp);
            else if (k == "oom_score_adj") s.oom_score_adj = integer(v, kp);
            else if (k == "pid") s.pid = text(v, kp);
            else if (k == "pids_limit") s.pids_limit = integer(v, kp);
            else if (k == "platform") s.platform = text(v, kp);
            else if (k == "ports") s.ports = ports(v, kp);
            else if (k == "privileged") s.privileged = boolean(v, kp);
            else if (k == "profiles") s.profiles = string_list(v, kp);
            else if (k == "pull_policy") s.pull_policy = text(v, kp);
            else if (k == "read_only") s.read_only = boolean(v, kp);
            else if (k == "restart") s.restart = restart(v, kp);
            else if (k == "scale") s.scale = static_cast<uint64_t>(non_negative(v, kp));
            else if (k == "security_opt") s.security_opt = string_list(v, kp);
            else if (k == "stop_grace_period") s.stop_grace_period = non_negative_duration(v, kp);
            else if (k == "stop_signal") s.stop_signal = text(v, kp);
            else if (k == "sysctls") s.sysctls = string_dict(v, kp);
            else if (k == "tmpfs") s.tmpfs = string_list(v, kp);
            else if (k == "tty") s.tty = boolean(v, kp);
            else if (k == "stdin_open") s.stdin_open = boolean(v, kp);
            else if (k == "ulimits") s.ulimits = ulimits(v, kp);
            else if (k == "user") s.user = text(v, kp);
            else if (k == "userns_mode") s.userns_mode = text(v, kp);
            else if (k == "volumes") s.volumes = mounts(name, v, kp);
            else if (k == "volumes_from") s.volumes_from = string_list(v, kp);
            else if (k == "working_dir") s.working_dir = text(v, kp);
            else if (k == "extends" || k == "develop") {
                // extends is resolved by the loader before normalization
            } else {
                fail(n, kp, "unknown key \"" + k + "\"");
            }
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

    int64_t non_negative(const Node& v, const std::string& path) {
        int64_t x = integer(v, path);
        if (x < 0) fail(v, path, "must not be negative");
        return x;
    }

    std::optional<std::vector<std::string>> command(const Node& v, const std::string& path) {
        if (v.is_null()) return std::nullopt;
        if (v.is_seq()) return string_list(v, path);
        try {
            return shell_split(text(v, path));
        } catch (const std::invalid_argument& e) {
            fail(v, path, e.what());
        }
    }

    Build build(const Node& v, const std::string& path) {
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
            }
        } else {
            fail(v, path, std::string("expected a path or a mapping with `context`, got ") + kind_name(v));
        }
        if (b.dockerfile.empty()) b.dockerfile = "Dockerfile";
        return b;
    }

    std::vector<FileRef> file_refs(const Node& v, const std::string& path,
                                   const std::map<std::string, FileObject>& defined,
                                   const std::string& what, bool secret) {
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
            (void)secret;
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

    void depends_on(const std::string& svc, const Node& v, const std::string& path, Service& s) {
        if (v.is_null()) return;
        if (v.is_seq()) {
            for (size_t i = 0; i < v.items.size(); ++i) {
                std::string dep = text(v.items[i], path_index(path, i));
                s.depends_on[dep] = Dependency{};
                dep_locs_[{svc, dep}] = v.items[i].loc;
            }
            return;
        }
        if (!v.is_map()) fail(v, path, std::string("expected a list of services or a mapping, got ") + kind_name(v));
        for (const auto& e : v.entries) {
            std::string dp = path_join(path, e.key);
            Dependency d;
            if (e.value.is_map()) {
                if (const Node* x = e.value.find("condition")) {
                    d.condition = text(*x, dp + ".condition");
                    if (d.condition != "service_started" && d.condition != "service_healthy" &&
                        d.condition != "service_completed_successfully")
                        fail(*x, dp + ".condition", "unknown condition \"" + d.condition +
                                                        "\": use service_started, service_healthy or "
                                                        "service_completed_successfully");
                }
                if (const Node* x = e.value.find("required")) d.required = boolean(*x, dp + ".required");
                if (const Node* x = e.value.find("restart")) d.restart = boolean(*x, dp + ".restart");
            } else if (!e.value.is_null()) {
                fail(e.value, dp, std::string("expected a mapping with `condition`, got ") + kind_name(e.value));
            }
            s.depends_on[e.key] = d;
            dep_locs_[{svc, e.key}] = e.key_loc;
        }
    }

    Deploy deploy(const Node& v, const std::string& path) {
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
        }
        return d;
    }

    std::vector<std::string> extra_hosts(const Node& v, const std::string& path) {
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

    Healthcheck healthcheck(const Node& v, const std::string& path) {
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

    Logging logging(const Node& v, const std::string& path) {
        Logging l;
        if (!v.is_map()) fail(v, path, std::string("expected a mapping, got ") + kind_name(v));
        if (const Node* x = v.find("driver")) l.driver = text(*x, path + ".driver");
        if (const Node* x = v.find("options")) l.options = string_dict(*x, path + ".options");
        return l;
    }

    void service_networks(const std::string& svc, const Node& v, const std::string& path, Service& s) {
        if (v.is_null()) return;
        if (v.is_seq()) {
            for (size_t i = 0; i < v.items.size(); ++i) {
                std::string n = text(v.items[i], path_index(path, i));
                s.networks[n] = ServiceNetwork{};
                net_locs_[{svc, n}] = v.items[i].loc;
            }
            return;
        }
        if (!v.is_map()) fail(v, path, std::string("expected a list or a mapping of networks, got ") + kind_name(v));
        for (const auto& e : v.entries) {
            std::string np = path_join(path, e.key);
            ServiceNetwork sn;
            if (e.value.is_map()) {
                sn.is_null = false;
                if (const Node* x = e.value.find("aliases")) sn.aliases = string_list(*x, np + ".aliases");
                if (const Node* x = e.value.find("ipv4_address")) sn.ipv4_address = text(*x, np + ".ipv4_address");
                if (const Node* x = e.value.find("ipv6_address")) sn.ipv6_address = text(*x, np + ".ipv6_address");
                if (const Node* x = e.value.find("priority")) sn.priority = static_cast<int>(integer(*x, np + ".priority"));
                if (const Node* x = e.value.find("mac_address")) sn.mac_address = text(*x, np + ".mac_address");
            } else if (!e.value.is_null()) {
                fail(e.value, np, std::string("expected a mapping, got ") + kind_name(e.value));
            }
            s.networks[e.key] = sn;
            net_locs_[{svc, e.key}] = e.key_loc;
        }
    }

    std::vector<Port> ports(const Node& v, const std::string& path) {
        std::vector<Port> out;
        if (v.is_null()) return out;
        if (!v.is_seq()) fail(v, path, std::string("expected a list of ports, got ") + kind_name(v));
        for (size_t i = 0; i < v.items.size(); ++i) {
            const Node& it = v.items[i];
            std::string ip = path_index(path, i);
            if (it.is_scalar()) {
                try {
                    for (auto& port : parse_port_spec(it.text)) out.push_back(port);
                } catch (const std::invalid_argument& e) {
                    fail(it, ip, e.what());
                }
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
                    try {
                        parse_range(port.published, port.published);
                    } catch (const std::invalid_argument& e) {
                        fail(*x, ip + ".published", e.what());
                    }
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

    std::string restart(const Node& v, const std::string& path) {
        std::string r = text(v, path);
        if (r == "no" || r == "always" || r == "unless-stopped" || r == "on-failure") return r;
        if (r.rfind("on-failure:", 0) == 0) {
            std::string n = r.substr(11);
            if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) return r;
        }
        fail(v, path, "invalid restart policy \"" + r + "\": use no, always, on-failure[:N] or unless-stopped");
    }

    std::map<std::string, Ulimit> ulimits(const Node& v, const std::string& path) {
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

    std::vector<Mount> mounts(const std::string& svc, const Node& v, const std::string& path) {
        std::vector<Mount> out;
        if (v.is_null()) return out;
        if (!v.is_seq()) fail(v, path, std::string("expected a list of volumes, got ") + kind_name(v));
        for (size_t i = 0; i < v.items.size(); ++i) {
            const Node& it = v.items[i];
            std::string ip = path_index(path, i);
            Mount m;
            if (it.is_scalar()) {
                try {
                    m = parse_volume_spec(it.text);
                } catch (const std::invalid_argument& e) {
                    fail(it, ip, e.what());
                }
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

    Mount long_mount(const Node& it, const std::string& ip) {
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

    void env_files(const Node& v, const std::string& path, Service& s) {
        struct Ref {
            std::string path;
            bool required = true;
            const Node* node;
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
            if (!fs::exists(abs)) {
                if (!r.required) continue;
                fail(*r.node, path, "env file " + abs + " not found",
                     "create it, or mark it optional with `required: false`");
            }
            s.env_file.push_back(abs);
            Lookup lookup = [this, &from_files](const std::string& name) -> std::optional<std::string> {
                auto it = ctx_.env.find(name);
                if (it != ctx_.env.end()) return it->second;
                auto f = from_files.find(name);
                if (f != from_files.end()) return f->second;
                return std::nullopt;
            };
            try {
                for (auto& [k, val] : read_dotenv_file(abs, lookup)) from_files[k] = val;
            } catch (const LoadError&) {
                throw;
            } catch (const std::exception& e) {
                fail(*r.node, path, e.what());
            }
        }
        for (auto& [k, val] : from_files)
            if (!s.environment.count(k)) s.environment[k] = val;
    }

    // --- project-wide ---

    void add_default_network(Project& p) {
        bool used = false;
        for (auto& [_, s] : p.services) used = used || s.networks.count("default");
        if (used && !p.networks.count("default")) {
            Network n;
            n.name = p.name + "_default";
            p.networks["default"] = n;
        }
    }

    Location where(const std::string& svc) const {
        auto it = service_locs_.find(svc);
        return it == service_locs_.end() ? Location{} : it->second;
    }

    void check(Project& p) {
        std::map<std::string, std::string> container_names;
        for (auto& [name, s] : p.services) {
            std::string path = "services." + name;
            if (s.image.empty() && !s.build)
                throw LoadError(where(name), path, "service \"" + name + "\" has neither an image nor a build context",
                                "add `image: NAME` or `build: DIR`");
            for (auto& [dep, d] : s.depends_on) {
                Location loc = dep_locs_.count({name, dep}) ? dep_locs_.at({name, dep}) : where(name);
                if (dep == name)
                    throw LoadError(loc, path + ".depends_on", "service \"" + name + "\" depends on itself");
                if (p.disabled_services.count(dep)) {
                    if (!d.required) continue;
                    auto& prof = p.disabled_services.at(dep).profiles;
                    throw LoadError(loc, path + ".depends_on",
                                    "service \"" + dep + "\" is required by \"" + name + "\" but is disabled",
                                    "enable it with --profile " + prof.front());
                }
                if (!p.services.count(dep)) {
                    std::vector<std::string> names;
                    for (auto& [n, _] : p.services) names.push_back(n);
                    std::string guess = closest_match(dep, names);
                    throw LoadError(loc, path + ".depends_on",
                                    "service \"" + name + "\" depends on undefined service \"" + dep + "\"",
                                    guess.empty() ? "" : "did you mean \"" + guess + "\"?");
                }
            }
            for (auto& [net, _] : s.networks) {
                if (!p.networks.count(net)) {
                    Location loc = net_locs_.count({name, net}) ? net_locs_.at({name, net}) : where(name);
                    throw LoadError(loc, path + ".networks", "service \"" + name + "\" refers to undefined network \"" + net + "\"",
                                    "declare it under the top-level `networks:` key");
                }
            }
            for (auto& m : s.volumes) {
                if (m.type == "volume" && !m.source.empty() && !p.volumes.count(m.source)) {
                    Location loc = vol_locs_.count({name, m.source}) ? vol_locs_.at({name, m.source}) : where(name);
                    throw LoadError(loc, path + ".volumes", "service \"" + name + "\" refers to undefined volume \"" + m.source + "\"",
                                    "declare it under the top-level `volumes:` key, or write ./" + m.source + " for a bind mount");
                }
            }
            if (s.network_mode.rfind("service:", 0) == 0) {
                std::string other = s.network_mode.substr(8);
                if (!p.services.count(other))
                    throw LoadError(where(name), path + ".network_mode", "network_mode refers to undefined service \"" + other + "\"");
                s.depends_on.try_emplace(other);  // implicit: it must run first (as compose does)
            }
            for (const auto& l : s.links) {
                std::string other = l.substr(0, l.find(':'));
                if (p.services.count(other) || p.disabled_services.count(other)) s.depends_on.try_emplace(other);
            }
            if (!s.container_name.empty()) {
                uint64_t replicas = s.scale.value_or(s.deploy && s.deploy->replicas ? *s.deploy->replicas : 1);
                if (replicas > 1)
                    throw LoadError(where(name), path + ".container_name",
                                    "service \"" + name + "\" sets container_name but runs " + std::to_string(replicas) + " replicas",
                                    "container names must be unique: remove container_name or use one replica");
                auto [it, fresh] = container_names.emplace(s.container_name, name);
                if (!fresh)
                    throw LoadError(where(name), path + ".container_name",
                                    "container name \"" + s.container_name + "\" is already used by service \"" + it->second + "\"");
            }
        }
        check_cycles(p);
    }

    void check_cycles(const Project& p) {
        enum Mark { White, Grey, Black };
        std::map<std::string, Mark> mark;
        std::vector<std::string> stack;
        std::function<void(const std::string&)> visit = [&](const std::string& s) {
            mark[s] = Grey;
            stack.push_back(s);
            for (auto& [dep, _] : p.services.at(s).depends_on) {
                if (!p.services.count(dep)) continue;
                if (mark[dep] == Grey) {
                    auto from = std::find(stack.begin(), stack.end(), dep);
                    std::vector<std::string> cycle(from, stack.end());
                    cycle.push_back(dep);
                    throw LoadError(where(s), "services." + s + ".depends_on",
                                    "dependency cycle: " + join(cycle, " -> "),
                                    "remove one of these depends_on entries");
                }
                if (mark[dep] == White) visit(dep);
            }
            stack.pop_back();
            mark[s] = Black;
        };
        for (auto& [name, _] : p.services)
            if (mark[name] == White) visit(name);
    }
};

}  // namespace

Project normalize(const Node& root, const NormalizeContext& ctx) {
    return Normalizer(ctx).run(root);
}

}  // namespace berth::compose
