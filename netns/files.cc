#include "netns/files.h"

#include <sstream>

namespace berth::netns {

std::string hosts_file(const std::vector<HostsEntry>& own, const std::vector<std::string>& extra_hosts) {
    std::string out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    for (const auto& e : own) {
        if (e.address.empty() || e.names.empty()) continue;
        out += e.address;
        for (const auto& n : e.names) out += (&n == &e.names.front() ? "\t" : " ") + n;
        out += "\n";
    }
    for (const auto& h : extra_hosts) {
        auto eq = h.find('=');
        if (eq == std::string::npos) continue;
        out += h.substr(eq + 1) + "\t" + h.substr(0, eq) + "\n";
    }
    return out;
}

std::string resolv_conf(const std::vector<std::string>& nameservers, const std::vector<std::string>& search,
                        const std::vector<std::string>& options, const std::string& fallback) {
    if (nameservers.empty() && search.empty() && options.empty()) return fallback;
    std::vector<std::string> keep;  // the fallback's nameservers when none are given
    if (nameservers.empty()) {
        std::istringstream in(fallback);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("nameserver", 0) == 0) keep.push_back(line);
    }
    std::string out;
    for (const auto& n : nameservers) out += "nameserver " + n + "\n";
    for (const auto& k : keep) out += k + "\n";
    if (!search.empty()) {
        out += "search";
        for (const auto& s : search) out += " " + s;
        out += "\n";
    }
    if (!options.empty()) {
        out += "options";
        for (const auto& o : options) out += " " + o;
        out += "\n";
    }
    return out;
}

}  // namespace berth::netns
