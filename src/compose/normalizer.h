// Internal to compose: the Normalizer that normalize() runs, split over the
// files of its seams. normalize.cc drives it (profiles, paths, the default
// network); normalize_top.cc reads the top-level networks, volumes, configs
// and secrets; normalize_service.cc one service and its sub-objects, through
// the field table of service_fields.h; normalize_check.cc the project-wide
// checks. It remembers where each reference was written, so a check that
// fails later still points at file:line:col.
#pragma once

#include "compose/node_read.h"
#include "compose/normalize.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace berth::compose::detail {

class Normalizer {
public:
    explicit Normalizer(const NormalizeContext& ctx) : ctx_(ctx) {}
    Project run(const Node& root);

    // --- normalize.cc
    bool profile_active(const std::vector<std::string>& profiles) const;
    std::string absolute(const std::string& path) const;  // against project_dir; "~" is home

    // --- normalize_top.cc
    void top_networks(const Node& n, Project& p);
    void top_volumes(const Node& n, Project& p);
    void top_files(const Node& n, const std::string& kind, std::map<std::string, FileObject>& out);

    // --- normalize_service.cc
    Service service(const std::string& name, const Node& n, const std::string& path, Project& p);
    std::optional<std::vector<std::string>> command(const Node& v, const std::string& path);
    Build build(const Node& v, const std::string& path, const std::map<std::string, FileObject>& secrets,
                const std::map<std::string, Network>& networks);
    std::vector<FileRef> file_refs(const Node& v, const std::string& path,
                                   const std::map<std::string, FileObject>& defined, const std::string& what);
    void depends_on(const std::string& svc, const Node& v, const std::string& path, Service& s);
    Deploy deploy(const Node& v, const std::string& path);
    std::vector<Device> devices(const Node& n, const std::string& path);
    std::vector<std::string> extra_hosts(const Node& v, const std::string& path);
    Healthcheck healthcheck(const Node& v, const std::string& path);
    Logging logging(const Node& v, const std::string& path);
    void service_networks(const std::string& svc, const Node& v, const std::string& path, Service& s);
    std::vector<Port> ports(const Node& v, const std::string& path);
    std::string restart(const Node& v, const std::string& path);
    std::string stop_signal(const Node& v, const std::string& path);
    std::map<std::string, Ulimit> ulimits(const Node& v, const std::string& path);
    std::vector<Mount> mounts(const std::string& svc, const Node& v, const std::string& path);
    Mount long_mount(const Node& it, const std::string& ip);
    void env_files(const Node& v, const std::string& path, Service& s);

    // --- normalize_check.cc
    void add_default_network(Project& p);
    Location where(const std::string& svc) const;
    void check(Project& p);
    void check_cycles(const Project& p);

private:
    const NormalizeContext& ctx_;
    std::map<std::string, Location> service_locs_;
    std::map<std::pair<std::string, std::string>, Location> dep_locs_;
    std::map<std::pair<std::string, std::string>, Location> net_locs_;
    std::map<std::pair<std::string, std::string>, Location> vol_locs_;
};

}  // namespace berth::compose::detail
