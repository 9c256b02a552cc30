// berth's registry settings: `insecure-registries` and `registry-mirrors` of
// its config file (docker's daemon.json keys; /etc/berth/config.json, or
// $BERTH_CONFIG), plus BERTH_INSECURE_REGISTRIES=host:port,… for one command.
// No registry speaks plain HTTP unless listed, loopback included.
#pragma once

#include "registry/http.h"

#include <string>
#include <vector>

namespace berth::registry {

struct Settings {
    std::vector<std::string> insecure;  // host[:port] (a CIDR entry is matched as its text)
    std::vector<std::string> mirrors;   // https://mirror.example[:port] for docker.io
};

std::string config_path();
Settings load_settings();                      // throws berth::Error naming the file on bad JSON
Settings parse_settings(const std::string& text, const std::string& env_insecure);

// The registry host to talk to for a reference's domain (docker.io → its API host).
std::string api_host(const std::string& domain);
// The endpoints to try for a domain, mirrors first.
std::vector<Endpoint> endpoints(const Settings& s, const std::string& domain);

}  // namespace berth::registry
