#include "compose/depends.h"

#include <algorithm>
#include <functional>
#include <map>

namespace berth::compose {

DependencyWalk walk_dependencies(const Project& p) {
    enum Mark { New, Visiting, Done };
    DependencyWalk walk;
    std::map<std::string, Mark> mark;
    std::vector<std::string> stack;
    // false once a cycle is found: the walk stops there.
    std::function<bool(const std::string&)> visit = [&](const std::string& s) {
        mark[s] = Visiting;
        stack.push_back(s);
        for (const auto& [dep, _] : p.services.at(s).depends_on) {
            if (!p.services.count(dep)) continue;
            if (mark[dep] == Visiting) {
                walk.cycle.assign(std::find(stack.begin(), stack.end(), dep), stack.end());
                walk.cycle.push_back(dep);
                return false;
            }
            if (mark[dep] == New && !visit(dep)) return false;
        }
        stack.pop_back();
        mark[s] = Done;
        walk.order.push_back(s);
        return true;
    };
    for (const auto& [name, _] : p.services)
        if (mark[name] == New && !visit(name)) break;
    return walk;
}


void activate_services(Project& p, const std::vector<std::string>& names) {
    std::vector<std::string> todo(names.begin(), names.end());
    while (!todo.empty()) {
        std::string n = todo.back();
        todo.pop_back();
        auto it = p.disabled_services.find(n);
        if (it != p.disabled_services.end()) {
            p.services.emplace(n, std::move(it->second));
            p.disabled_services.erase(it);
        } else if (!p.services.count(n)) {
            continue;
        }
        for (const auto& [dep, d] : p.services.at(n).depends_on)
            if (d.required && p.disabled_services.count(dep)) todo.push_back(dep);
    }
    // A service enabled here may be the first on the default network, which the loader made only for
    // the services active then (as normalize's add_default_network names it).
    for (const auto& [_, s] : p.services)
        if (s.networks.count("default") && !p.networks.count("default")) {
            Network n;
            n.name = p.name + "_default";
            p.networks["default"] = n;
        }
}

}  // namespace berth::compose
