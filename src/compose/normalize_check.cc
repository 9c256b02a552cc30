// The project-wide checks docker compose makes at load: every service has an
// image or a build; dependencies, networks and volumes it names exist; no
// dependency cycle; container names unique. Each error points at the reference.
#include "base/strings.h"
#include "compose/depends.h"
#include "compose/load_error.h"
#include "compose/normalizer.h"

#include <algorithm>

namespace berth::compose::detail {

void Normalizer::add_default_network(Project& p) {
    bool used = false;
    for (auto& [_, s] : p.services) used = used || s.networks.count("default");
    if (used && !p.networks.count("default")) {
        Network n;
        n.name = p.name + "_default";
        p.networks["default"] = n;
    }
}

Location Normalizer::where(const std::string& svc) const {
    auto it = service_locs_.find(svc);
    return it == service_locs_.end() ? Location{} : it->second;
}

void Normalizer::check(Project& p) {
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

void Normalizer::check_cycles(const Project& p) {
    DependencyWalk walk = walk_dependencies(p);
    if (walk.cycle.empty()) return;
    const std::string& s = walk.cycle[walk.cycle.size() - 2];  // the service whose depends_on closes it
    throw LoadError(where(s), "services." + s + ".depends_on", "dependency cycle: " + join(walk.cycle, " -> "),
                    "remove one of these depends_on entries");
}

}  // namespace berth::compose::detail
