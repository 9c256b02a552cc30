#include "compose/wire.h"

#include "base/error.h"
#include "compose/normalize.h"
#include "compose/serialize.h"
#include "compose/tree.h"

#include <set>

namespace berth::compose {
namespace {

Node node_of(const nlohmann::json& j, const Location& loc) {
    switch (j.type()) {
    case nlohmann::json::value_t::null: {
        Node n;
        n.loc = loc;
        return n;
    }
    case nlohmann::json::value_t::object: {
        Node n = Node::map(loc);
        for (const auto& [k, v] : j.items()) n.set(k, node_of(v, loc), loc);
        return n;
    }
    case nlohmann::json::value_t::array: {
        Node n = Node::seq(loc);
        for (const auto& v : j) n.items.push_back(node_of(v, loc));
        return n;
    }
    case nlohmann::json::value_t::string: return Node::scalar(j.get<std::string>(), false, loc);
    case nlohmann::json::value_t::boolean: return Node::scalar(j.get<bool>() ? "true" : "false", true, loc);
    default: return Node::scalar(j.dump(), true, loc);  // numbers, as a plain scalar
    }
}

}  // namespace

nlohmann::json to_wire(const Project& p) {
    Project all = p;  // every service in the canonical form; the inactive ones named apart
    nlohmann::json disabled = nlohmann::json::array();
    for (auto& [n, s] : all.disabled_services) {
        disabled.push_back(n);
        all.services.emplace(n, s);
    }
    nlohmann::json missing = nlohmann::json::object();  // a required env_file not found: no container then
    for (const auto& [n, s] : all.services)
        if (!s.missing_env_file.empty()) missing[n] = s.missing_env_file;
    return {{"project", nlohmann::json::parse(to_json(all).dump())},
            {"missing_env_files", missing},
            {"working_dir", p.working_dir},
            {"compose_files", p.compose_files},
            {"environment", p.environment},
            {"disabled_services", disabled}};
}

Project from_wire(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("project") || !j["project"].is_object())
        throw Error("the project sent is not a project document");
    NormalizeContext ctx;
    ctx.project_name = j["project"].value("name", std::string());
    ctx.project_dir = j.value("working_dir", std::string());
    std::set<std::string> disabled;
    for (const auto& n : j.value("disabled_services", std::vector<std::string>{})) disabled.insert(n);
    ctx.active_services.emplace();
    const nlohmann::json& doc = j["project"];
    if (auto services = doc.find("services"); services != doc.end() && services->is_object())
        for (const auto& [n, _] : services->items())
            if (!disabled.count(n)) ctx.active_services->insert(n);
    ctx.env = j.value("environment", std::map<std::string, std::string>{});
    ctx.home = ctx.env.count("HOME") ? ctx.env.at("HOME") : "/root";
    // env_file values were folded into `environment` when the sender loaded the files.
    ctx.read_env_file = [](const std::string&, const Lookup&) { return std::optional<EnvList>(EnvList{}); };
    Project p = normalize(node_of(doc, Location{"<the project sent by berth up>", 0, 0}), ctx);
    p.working_dir = ctx.project_dir;
    p.compose_files = j.value("compose_files", std::vector<std::string>{});
    p.environment = ctx.env;
    for (const auto& [n, path] : j.value("missing_env_files", std::map<std::string, std::string>{})) {
        if (auto it = p.services.find(n); it != p.services.end()) it->second.missing_env_file = path;
        if (auto it = p.disabled_services.find(n); it != p.disabled_services.end()) it->second.missing_env_file = path;
    }
    return p;
}

}  // namespace berth::compose
