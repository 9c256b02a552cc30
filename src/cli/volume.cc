// `berth volume ls|inspect|create|rm|prune`: named volumes under the state root;
// `berth volumes [SERVICE…]`: the project's, as docker compose lists them.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "state/state.h"
#include "supervisor/supervisor.h"
#include "volumes/volume.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

namespace berth::cli {
namespace {

nlohmann::json info_json(const volumes::VolumeInfo& v) {
    return {{"Name", v.name}, {"Driver", v.driver}, {"Mountpoint", v.mountpoint}, {"CreatedAt", v.created_at},
            {"Labels", v.labels}, {"Options", v.driver_opts}, {"Scope", "local"}};
}

// The project's named volumes; with services, those their containers mount.
int volumes_command(const GlobalOptions& g, const std::vector<std::string>& services, const std::string& format, bool quiet) {
    compose::Project project = load_project(g);
    for (const auto& s : services)
        if (!project.services.count(s)) throw Error("no such service: " + s);
    std::set<std::string> mounted;
    for (const auto& r : state::ProjectState(state::runtime_dir(), project.name).read_all())
        if (std::find(services.begin(), services.end(), r.service) != services.end())
            mounted.insert(r.volumes.begin(), r.volumes.end());
    std::vector<volumes::VolumeInfo> out;
    for (const auto& v : volumes::Store(state::state_root()).list())
        if (v.project == project.name && (services.empty() || mounted.count(v.name))) out.push_back(v);
    if (quiet) {
        for (const auto& v : out) std::printf("%s\n", v.name.c_str());
    } else if (format == "json") {  // one object per line, as docker prints them
        for (const auto& v : out) std::printf("%s\n", info_json(v).dump().c_str());
    } else {
        std::printf("%-10s %s\n", "DRIVER", "VOLUME NAME");
        for (const auto& v : out) std::printf("%-10s %s\n", v.driver.c_str(), v.name.c_str());
    }
    return 0;
}

}  // namespace

void add_volume_commands(Cli& cli) {
    auto* vols = cli.app.add_subcommand("volumes", "List the project's volumes (with SERVICE: those it mounts)");
    auto vservices = std::make_shared<std::vector<std::string>>();
    auto vformat = std::make_shared<std::string>("table");
    auto vquiet = std::make_shared<bool>(false);
    vols->add_option("--format", *vformat, "table or json")->check(CLI::IsMember({"table", "json"}));
    vols->add_flag("-q,--quiet", *vquiet, "Only names");
    vols->add_option("SERVICE", *vservices, "Only the volumes these services' containers mount");
    vols->callback([&cli, vservices, vformat, vquiet] {
        cli.action = [&cli, vservices, vformat, vquiet] { return volumes_command(cli.global, *vservices, *vformat, *vquiet); };
    });

    auto* vol = cli.app.add_subcommand("volume", "Manage named volumes")->require_subcommand(1);

    auto* ls = vol->add_subcommand("ls", "List volumes");
    auto format = std::make_shared<std::string>("table");
    auto quiet = std::make_shared<bool>(false);
    ls->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ls->add_flag("-q,--quiet", *quiet, "Only names");
    ls->callback([&cli, format, quiet] {
        cli.action = [format, quiet] {
            auto all = volumes::Store(state::state_root()).list();
            if (*format == "json") {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& v : all) out.push_back(info_json(v));
                std::printf("%s\n", out.dump().c_str());
                return 0;
            }
            if (!*quiet) std::printf("%-10s %-40s %s\n", "DRIVER", "VOLUME NAME", "PROJECT");
            for (const auto& v : all) {
                if (*quiet) std::printf("%s\n", v.name.c_str());
                else std::printf("%-10s %-40s %s\n", v.driver.c_str(), v.name.c_str(), v.project.c_str());
            }
            return 0;
        };
    });

    auto* ins = vol->add_subcommand("inspect", "Show volumes as JSON");
    auto inames = std::make_shared<std::vector<std::string>>();
    ins->add_option("NAME", *inames, "Volume names")->required();
    ins->callback([&cli, inames] {
        cli.action = [inames] {
            volumes::Store store(state::state_root());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& n : *inames) {
                auto v = store.get(n);
                if (!v) throw Error("no such volume: " + n, "see `berth volume ls`");
                out.push_back(info_json(*v));
            }
            std::printf("%s\n", out.dump(2).c_str());
            return 0;
        };
    });

    auto* create = vol->add_subcommand("create", "Create a volume (also for `external: true`)");
    auto cname = std::make_shared<std::string>();
    auto clabels = std::make_shared<std::vector<std::string>>();
    auto copts = std::make_shared<std::vector<std::string>>();
    create->add_option("NAME", *cname, "Volume name")->required();
    create->add_option("--label", *clabels, "KEY=VALUE");
    create->add_option("-o,--opt", *copts, "Driver option KEY=VALUE (type, o, device)");
    create->callback([&cli, cname, clabels, copts] {
        cli.action = [cname, clabels, copts] {
            volumes::VolumeSpec spec;
            spec.name = *cname;
            auto kv = [](const std::string& s, std::map<std::string, std::string>& into) {
                auto eq = s.find('=');
                into[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
            };
            for (const auto& l : *clabels) kv(l, spec.labels);
            for (const auto& o : *copts) kv(o, spec.driver_opts);
            auto v = volumes::Store(state::state_root()).ensure(spec);
            std::printf("%s\n", v.name.c_str());
            return 0;
        };
    });

    auto* rm = vol->add_subcommand("rm", "Remove volumes and their data (refused while a container uses one)");
    auto rnames = std::make_shared<std::vector<std::string>>();
    rm->add_option("NAME", *rnames, "Volume names")->required();
    rm->callback([&cli, rnames] {
        cli.action = [rnames] {
            volumes::Store store(state::state_root());
            auto used = supervisor::volumes_in_use();
            int rc = 0;
            for (const auto& n : *rnames) {
                if (auto it = used.find(n); it != used.end()) {
                    std::fprintf(stderr, "error: volume %s is in use by running container %s\n  stop it first (`berth down` or `berth stop`)\n",
                                 n.c_str(), it->second.c_str());
                    rc = 1;
                    continue;
                }
                if (!store.remove(n)) {
                    std::fprintf(stderr, "error: no such volume: %s\n", n.c_str());
                    rc = 1;
                    continue;
                }
                std::printf("%s\n", n.c_str());
            }
            return rc;
        };
    });

    auto* prune = vol->add_subcommand("prune", "Remove the volumes no container record refers to");
    auto force = std::make_shared<bool>(false);
    prune->add_flag("-f,--force", *force, "Do not ask (required: berth does not prompt)");
    prune->callback([&cli, force] {
        cli.action = [force] {
            if (!*force) throw Error("volume prune deletes data", "run it with -f to confirm");
            volumes::Store store(state::state_root());
            std::set<std::string> referenced;
            std::error_code ec;
            for (const auto& e : std::filesystem::directory_iterator(state::runtime_dir(), ec))
                if (e.is_directory())
                    for (const auto& r : state::ProjectState(state::runtime_dir(), e.path().filename().string()).read_all())
                        referenced.insert(r.volumes.begin(), r.volumes.end());
            for (const auto& v : store.list())
                if (!referenced.count(v.name) && store.remove(v.name)) std::printf("%s\n", v.name.c_str());
            return 0;
        };
    });
}

}  // namespace berth::cli
