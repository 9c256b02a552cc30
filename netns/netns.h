// netns's one face: what a supervisor needs to give a project's containers a
// network, in four parts. A caller includes this header and none of the
// others (firewall.h, link.h's Netlink, ipam.h's Allocator stay internal).
//
//  1. Ensure networks: Networks (network.h) owns a project's bridges, subnets
//     and firewall tables in one state file; NetworkConfig says what one
//     network is; parse_pools/set_pools choose where subnets come from;
//     remove_networks tears a project's networks down without a supervisor.
//  2. Attach a container: Networks::assign gives a stable address,
//     Networks::attach plugs a container's namespace (open_netns(pid)) in
//     with one veth per Attachment; hosts_file/resolv_conf (files.h) write
//     the container's /etc/hosts and /etc/resolv.conf.
//  3. Publish ports: PortProxy (proxy.h) is the userspace listener;
//     Networks::publish_script/unpublish_script are the kernel DNAT rules,
//     run off the loop by NftQueue (nft_queue.h); port_bind_error pre-checks.
//  4. DNS answers: DnsServer (dns.h) serves 127.0.0.11 in each container's
//     namespace and asks the caller's Lookup for a DnsAnswer.
// Addresses cross the face as uint32_t (IPv4, host order) and Ip6, parsed and
// printed with parse_ipv4/format_ipv4 and parse_ipv6/format_ipv6 (ipam.h).
#pragma once

#include "netns/dns.h"        // DnsServer, DnsAnswer, kDnsAddress, host_nameservers
#include "netns/files.h"      // HostsEntry, hosts_file, resolv_conf
#include "netns/link.h"       // open_netns, in_netns
#include "netns/network.h"    // Networks, NetworkConfig, Attachment, FileLock, remove_networks
#include "netns/nft_queue.h"  // NftQueue
#include "netns/proxy.h"      // PortProxy, port_available, port_bind_error
