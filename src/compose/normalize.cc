#include "compose/normalize.h"

#include "compose/normalizer.h"

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace berth::compose {
namespace detail {

Project Normalizer::run(const Node& root) {
    Project p;
    p.name = ctx_.project_name;
    p.working_dir = ctx_.project_dir;
    if (!root.is_map()) nodes::fail(root, "", "the top level must be a mapping with a `services` key");
    if (const Node* nets = root.find("networks")) top_networks(*nets, p);
    if (const Node* vols = root.find("volumes")) top_volumes(*vols, p);
    if (const Node* s = root.find("secrets")) top_files(*s, "secrets", p.secrets);
    if (const Node* c = root.find("configs")) top_files(*c, "configs", p.configs);
    const Node* services = root.find("services");
    if (services && !services->is_null()) {
        if (!services->is_map()) nodes::fail(*services, "services", std::string("expected a mapping of services, got ") + nodes::kind_name(*services));
        for (const auto& e : services->entries) {
            if (e.key.rfind("x-", 0) == 0) continue;
            service_locs_[e.key] = e.key_loc;
            Service s = service(e.key, e.value, "services." + e.key, p);
            bool active = ctx_.active_services ? ctx_.active_services->count(e.key) > 0
                                               : s.profiles.empty() || profile_active(s.profiles);
            (active ? p.services : p.disabled_services)[e.key] = std::move(s);
        }
    }
    add_default_network(p);
    check(p);
    return p;
}

bool Normalizer::profile_active(const std::vector<std::string>& profiles) const {
    for (const auto& want : ctx_.profiles) {
        if (want == "*") return true;
        if (std::find(profiles.begin(), profiles.end(), want) != profiles.end()) return true;
    }
    return false;
}

std::string Normalizer::absolute(const std::string& path) const {
    if (path.empty()) return path;
    fs::path p(path);
    if (path == "~" || path.rfind("~/", 0) == 0) p = fs::path(ctx_.home) / path.substr(std::min<size_t>(2, path.size()));
    else if (p.is_relative()) p = fs::path(ctx_.project_dir) / p;
    return p.lexically_normal().string() == "/" ? "/" : [&] {
        std::string s = p.lexically_normal().string();
        while (s.size() > 1 && s.back() == '/') s.pop_back();
        return s;
    }();
}

}  // namespace detail

Project normalize(const Node& root, const NormalizeContext& ctx) {
    return detail::Normalizer(ctx).run(root);
}

}  // namespace berth::compose
