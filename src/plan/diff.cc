#include "plan/diff.h"

#include "base/strings.h"
#include "plan/plan.h"

namespace berth::plan {

std::vector<std::string> changed_keys(const std::map<std::string, std::string>& before,
                                      const std::map<std::string, std::string>& after) {
    std::vector<std::string> out;
    for (const auto& [k, v] : after) {
        auto it = before.find(k);
        if (it == before.end() || it->second != v) out.push_back(k);
    }
    for (const auto& [k, _] : before)
        if (!after.count(k)) out.push_back(k);
    return out;
}

std::vector<Change> diff(const std::vector<Current>& current, const compose::Project& p, const DiffOptions& o) {
    std::map<std::string, const Current*> by_name;
    for (const auto& c : current) by_name[c.name] = &c;
    std::map<std::string, std::string> hashes;
    std::map<std::string, std::map<std::string, std::string>> keys;
    std::vector<Change> out;
    for (const auto& cp : containers(p, o.scale)) {
        if (!o.services.count(cp.service)) continue;
        Change ch{Action::Create, cp.name, cp.service, cp.index, ""};
        auto it = by_name.find(cp.name);
        if (it != by_name.end()) {
            const Current& cur = *it->second;
            if (!hashes.count(cp.service)) hashes[cp.service] = config_hash(p, cp.service);
            bool differs = cur.config_hash != hashes[cp.service] && !o.no_recreate;
            bool forced = o.named.empty() || o.named.count(cp.service) ? o.force_recreate : o.force_deps;
            if (differs || (forced && !o.no_recreate)) {
                ch.action = Action::Recreate;
                if (!differs) {
                    ch.reason = "forced";
                } else if (cur.config_keys.empty()) {
                    ch.reason = "configuration changed";
                } else {
                    if (!keys.count(cp.service)) keys[cp.service] = config_keys(p, cp.service);
                    auto changed = changed_keys(cur.config_keys, keys[cp.service]);
                    ch.reason = changed.empty() ? "configuration changed" : join(changed, ", ") + " changed";
                }
            } else {
                ch.action = cur.live ? Action::Keep : Action::Start;
            }
        }
        out.push_back(ch);
    }
    // Sharing the namespaces of a recreated container means being recreated too (else it keeps
    // the old container's network, which is gone). Chains (a on b on c) take several rounds.
    for (bool more = true; more;) {
        more = false;
        std::set<std::string> recreated;
        for (const auto& ch : out)
            if (ch.action == Action::Recreate) recreated.insert(ch.service);
        for (auto& ch : out) {
            if (ch.action != Action::Keep && ch.action != Action::Start) continue;
            const compose::Service& s = p.services.at(ch.service);
            for (const auto& [key, value] : {std::pair{"network_mode", &s.network_mode}, {"ipc", &s.ipc}, {"pid", &s.pid}}) {
                if (value->rfind("service:", 0) != 0 || !recreated.count(value->substr(8))) continue;
                ch.action = Action::Recreate;
                ch.reason = std::string(key) + ": " + *value + " recreated";
                ch.after_dependencies = true;
                more = true;
                break;
            }
        }
    }
    if (o.remove_orphans)
        for (const auto& c : current)
            if (!p.services.count(c.service) && !p.disabled_services.count(c.service))
                out.push_back({Action::Remove, c.name, c.service, 0, "orphan"});
    return out;
}

const char* action_name(Action a) {
    switch (a) {
    case Action::Create: return "Create";
    case Action::Recreate: return "Recreate";
    case Action::Start: return "Start";
    case Action::Keep: return "Running";
    case Action::Remove: return "Remove";
    }
    return "";
}

std::string describe(const Change& c) {
    std::string s = "Container " + c.container + "  " + action_name(c.action);
    if (!c.reason.empty()) s += " (" + c.reason + ")";
    return s;
}

}  // namespace berth::plan
