#include "compose/short_syntax.h"

#include "base/strings.h"
#include "compose/node_read.h"
#include "compose/normalize.h"
#include "compose/units.h"

#include <algorithm>

namespace berth::compose {
namespace {

using nodes::is_valid_port;
using nodes::lower;

// Records why a spec is bad and yields the empty result.
struct Failed {
    template <typename T>
    operator T() const { return T{}; }
};
Failed fail_with(std::string& error, std::string why) {
    error = std::move(why);
    return {};
}

struct Range {
    int64_t lo = 0, hi = 0;
    bool empty = true;
};

// A port or range; on a bad one, sets `error` (if still empty) and returns an empty Range.
Range parse_range(const std::string& s, const std::string& spec, std::string& error) {
    Range r;
    if (s.empty() || !error.empty()) return r;
    auto parse_one = [&](const std::string& p) -> int64_t {
        if (!error.empty()) return 0;
        if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) {
            error = "invalid port \"" + p + "\" in \"" + spec + "\"";
            return 0;
        }
        int64_t v = p.size() > 6 ? 0 : std::stoll(p);
        if (!is_valid_port(v)) error = "port " + p + " in \"" + spec + "\" is out of range 1-65535";
        return v;
    };
    size_t dash = s.find('-');
    if (dash == std::string::npos) {
        r.lo = r.hi = parse_one(s);
    } else {
        r.lo = parse_one(s.substr(0, dash));
        r.hi = parse_one(s.substr(dash + 1));
        if (error.empty() && r.hi < r.lo)
            error = "invalid port range \"" + s + "\" in \"" + spec + "\": the end is before the start";
    }
    r.empty = !error.empty();
    return r;
}

}  // namespace

std::vector<Port> read_port_spec(const std::string& spec, std::string& error) {
    error.clear();
    std::string rest = spec;
    std::string protocol = "tcp";
    if (size_t slash = rest.rfind('/'); slash != std::string::npos) {
        protocol = lower(rest.substr(slash + 1));
        rest = rest.substr(0, slash);
        if (protocol != "tcp" && protocol != "udp" && protocol != "sctp")
            return fail_with(error, "invalid protocol \"" + protocol + "\" in port \"" + spec +
                                        "\": use tcp, udp or sctp");
    }
    std::string host_ip;
    if (!rest.empty() && rest[0] == '[') {  // [::1]:8080:80
        size_t close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return fail_with(error, "invalid port \"" + spec + "\": expected [IPv6]:HOST:CONTAINER");
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
            return fail_with(error, "invalid port \"" + spec + "\": expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]");
        host_ip = rest.substr(0, mid);
        published = rest.substr(mid + 1, last - mid - 1);
        target = rest.substr(last + 1);
    }
    if (target.empty()) return fail_with(error, "invalid port \"" + spec + "\": the container port is missing");
    Range t = parse_range(target, spec, error);
    Range p = parse_range(published, spec, error);
    if (!error.empty()) return {};
    std::vector<Port> out;
    int64_t tn = t.hi - t.lo + 1, pn = p.empty ? 0 : p.hi - p.lo + 1;
    if (!p.empty && tn > 1 && pn != tn)
        return fail_with(error, "invalid port \"" + spec + "\": the host range has " + std::to_string(pn) +
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

Mount read_volume_spec(const std::string& spec, std::string& error) {
    error.clear();
    Mount m;
    std::vector<std::string> parts = split(spec, ':');
    if (spec.empty() || parts.size() > 3)
        return fail_with(error, "invalid volume \"" + spec + "\": expected [SOURCE:]TARGET[:MODE]");
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
        return fail_with(error, "invalid volume \"" + spec + "\": the container path \"" + target +
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
            return fail_with(error, "invalid volume mode \"" + opt + "\" in \"" + spec +
                                        "\": use ro, rw, z, Z, nocopy or a propagation mode");
    }
    if (m.type == "bind" && m.volume_nocopy)
        return fail_with(error, "invalid volume \"" + spec + "\": nocopy applies to named volumes only");
    if (m.type == "volume" && !m.bind_propagation.empty())
        return fail_with(error, "invalid volume \"" + spec + "\": propagation applies to bind mounts only");
    return m;
}

std::string check_published(const std::string& published) {
    std::string error;
    parse_range(published, published, error);
    return error;
}

std::vector<Port> parse_port_spec(const std::string& spec) {
    std::string error;
    auto ports = read_port_spec(spec, error);
    if (!error.empty()) throw ValueError(error);
    return ports;
}

Mount parse_volume_spec(const std::string& spec) {
    std::string error;
    Mount m = read_volume_spec(spec, error);
    if (!error.empty()) throw ValueError(error);
    return m;
}

}  // namespace berth::compose
