#include "cli/ps_format.h"

#include <cstdlib>

namespace berth::cli {

nlohmann::json publisher(const std::string& port) {
    nlohmann::json p = {{"URL", ""}, {"TargetPort", 0}, {"PublishedPort", 0}, {"Protocol", "tcp"}};
    std::string target = port;
    if (auto arrow = port.find("->"); arrow != std::string::npos) {
        std::string host = port.substr(0, arrow);
        target = port.substr(arrow + 2);
        if (auto colon = host.rfind(':'); colon != std::string::npos) {
            p["URL"] = host.substr(0, colon);
            p["PublishedPort"] = std::atoi(host.c_str() + colon + 1);
        }
    }
    if (auto slash = target.find('/'); slash != std::string::npos) {
        p["Protocol"] = target.substr(slash + 1);
        target.resize(slash);
    }
    p["TargetPort"] = std::atoi(target.c_str());
    return p;
}

std::vector<std::string> shown_ports(const state::ContainerRecord& r, const compose::Project& project) {
    std::vector<std::string> out = r.ports;
    auto it = project.services.find(r.service);
    if (it == project.services.end()) return out;
    for (std::string e : it->second.expose) {
        if (e.find('/') == std::string::npos) e += "/tcp";
        bool published = false;
        for (const auto& p : r.ports)
            if (p.size() >= e.size() + 2 && p.compare(p.size() - e.size() - 2, 2, "->") == 0 &&
                p.compare(p.size() - e.size(), e.size(), e) == 0)
                published = true;
        if (!published) out.push_back(e);
    }
    return out;
}

void add_docker_ps_fields(nlohmann::json& j, const state::ContainerRecord& r, const compose::Project& project,
                          const std::string& status) {
    j["Name"] = r.name;
    j["Service"] = r.service;
    j["Project"] = r.project;
    j["State"] = r.state;
    j["Status"] = status;
    j["Health"] = r.health;
    j["ExitCode"] = r.exit_code.value_or(0);
    j["Image"] = r.image;
    j["CreatedAt"] = r.created_at;
    std::string command;
    nlohmann::json labels = nlohmann::json::object();
    if (auto it = project.services.find(r.service); it != project.services.end()) {
        if (it->second.command)
            for (const auto& a : *it->second.command) command += (command.empty() ? "" : " ") + a;
        for (const auto& [k, v] : it->second.labels) labels[k] = v;
    }
    labels["com.docker.compose.project"] = r.project;
    labels["com.docker.compose.service"] = r.service;
    labels["com.docker.compose.container-number"] = std::to_string(r.index);
    j["Command"] = command;
    j["Labels"] = labels;
    nlohmann::json pubs = nlohmann::json::array();
    for (const auto& p : shown_ports(r, project)) pubs.push_back(publisher(p));
    j["Publishers"] = pubs;
}

}  // namespace berth::cli
