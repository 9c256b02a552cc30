// Published ports: a TCP or UDP listener on the host that forwards to the
// container's address, driven by the supervisor's libuv loop. The listener is
// bound when the proxy is made (so a taken port fails before anything starts)
// and stays for the life of the service; while the container is not running,
// connections are refused and datagrams dropped. Listeners do not keep the
// loop alive by themselves (they are unreferenced).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

namespace berth::netns {

class PortProxy {
public:
    // Binds host_ip:host_port (host_ip "" or "0.0.0.0": every IPv4 address, "::" every IPv6 address
    // (IPv6 only); port 0: one the kernel picks). The target is always an IPv4 address.
    // Throws berth::Error naming the port when it is taken.
    PortProxy(uv_loop_t* loop, const std::string& host_ip, uint16_t host_port, const std::string& protocol);
    ~PortProxy();
    PortProxy(const PortProxy&) = delete;
    PortProxy& operator=(const PortProxy&) = delete;

    uint16_t port() const;  // the bound port
    // Where traffic goes; address 0 while the container does not run.
    void set_target(uint32_t address, uint16_t port);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Whether host_ip:port could be bound now for `protocol` (tcp or udp).
bool port_available(const std::string& host_ip, uint16_t port, const std::string& protocol);
// Why it could not: 0 (it could), EADDRINUSE, EADDRNOTAVAIL (not an address of this host), …
int port_bind_error(const std::string& host_ip, uint16_t port, const std::string& protocol);

}  // namespace berth::netns
