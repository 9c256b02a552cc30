#include "plan/plan.h"

#include "base/error.h"
#include "base/sha256.h"
#include "base/strings.h"
#include "compose/serialize.h"


#include <algorithm>
#include <cstring>
#include <functional>

namespace berth::plan {

int replicas(const compose::Service& s) {
    if (s.scale) return static_cast<int>(*s.scale);
    if (s.deploy && s.deploy->replicas) return static_cast<int>(*s.deploy->replicas);
    return 1;
}

std::vector<ContainerPlan> containers(const compose::Project& p, const std::map<std::string, int>& scale) {
    std::vector<ContainerPlan> out;
    for (const auto& [name, s] : p.services) {
        auto it = scale.find(name);
        int n = it != scale.end() ? it->second : replicas(s);
        for (int i = 1; i <= n; ++i) {
            ContainerPlan c;
            c.service = name;
            c.index = i;
            c.name = !s.container_name.empty() ? s.container_name : p.name + "-" + name + "-" + std::to_string(i);
            out.push_back(c);
        }
    }
    return out;
}


namespace {

// The service's canonical form, and what it uses of the project (its networks'
// and volumes' definitions).
std::pair<nlohmann::ordered_json, nlohmann::ordered_json> config_of(const compose::Project& p, const std::string& service) {
    const compose::Service& s = p.services.at(service);
    nlohmann::ordered_json j = compose::service_to_json(s);
    // Scaling is not a change of configuration: replicas come and go without recreating the rest.
    j.erase("scale");
    if (j.contains("deploy")) j["deploy"].erase("replicas");
    nlohmann::ordered_json used = nlohmann::ordered_json::object();
    nlohmann::ordered_json full = compose::to_json(p);
    for (const auto& [net, _] : s.networks)
        if (full.contains("networks") && full["networks"].contains(net)) used["networks"][net] = full["networks"][net];
    for (const auto& m : s.volumes)
        if (m.type == "volume" && full.contains("volumes") && full["volumes"].contains(m.source))
            used["volumes"][m.source] = full["volumes"][m.source];
    return {std::move(j), std::move(used)};
}

}  // namespace

std::string config_hash(const compose::Project& p, const std::string& service) {
    auto [j, used] = config_of(p, service);
    return sha256_hex(j.dump() + used.dump());
}

std::map<std::string, std::string> config_keys(const compose::Project& p, const std::string& service) {
    auto [j, used] = config_of(p, service);
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : j.items()) out[k] = sha256_hex(v.dump()).substr(0, 12);
    for (const char* kind : {"networks", "volumes"})
        if (used.contains(kind))
            for (const auto& [k, v] : used[kind].items())
                out[std::string(kind).substr(0, std::strlen(kind) - 1) + " " + k] = sha256_hex(v.dump()).substr(0, 12);
    return out;
}

std::vector<std::string> start_order(const compose::Project& p) {
    std::vector<std::string> order;
    std::map<std::string, int> mark;  // 0 new, 1 visiting, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& s) {
        mark[s] = 1;
        stack.push_back(s);
        for (const auto& [dep, _] : p.services.at(s).depends_on) {
            if (!p.services.count(dep)) continue;  // optional dependency that is not active
            if (mark[dep] == 1) {
                auto from = std::find(stack.begin(), stack.end(), dep);
                std::vector<std::string> cycle(from, stack.end());
                cycle.push_back(dep);
                throw Error("dependency cycle: " + join(cycle, " -> "));
            }
            if (mark[dep] == 0) visit(dep);
        }
        stack.pop_back();
        mark[s] = 2;
        order.push_back(s);
    };
    for (const auto& [name, _] : p.services)
        if (mark[name] == 0) visit(name);
    return order;
}

std::set<std::string> with_dependencies(const compose::Project& p, const std::vector<std::string>& services) {
    std::set<std::string> out;
    std::function<void(const std::string&)> add = [&](const std::string& s) {
        if (!out.insert(s).second) return;
        auto it = p.services.find(s);
        if (it == p.services.end()) return;
        for (const auto& [dep, _] : it->second.depends_on)
            if (p.services.count(dep)) add(dep);
    };
    for (const auto& s : services) add(s);
    return out;
}

std::vector<std::string> dependents(const compose::Project& p, const std::string& service) {
    std::vector<std::string> out;
    for (const auto& [name, s] : p.services)
        if (s.depends_on.count(service)) out.push_back(name);
    return out;
}

}  // namespace berth::plan
