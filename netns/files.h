// The /etc/hosts and /etc/resolv.conf a container gets, as pure functions.
#pragma once

#include <string>
#include <vector>

namespace berth::netns {

struct HostsEntry {
    std::string address;
    std::vector<std::string> names;
};

// localhost lines, then the container's own addresses and names, then extra_hosts ("host=ip").
std::string hosts_file(const std::vector<HostsEntry>& own, const std::vector<std::string>& extra_hosts);

// nameservers (empty: keep `fallback`, the host's file), search domains and options, as compose's dns keys.
std::string resolv_conf(const std::vector<std::string>& nameservers, const std::vector<std::string>& search,
                        const std::vector<std::string>& options, const std::string& fallback = {});

}  // namespace berth::netns
