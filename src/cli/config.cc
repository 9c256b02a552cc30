// berth config: parse, resolve and print the project in canonical form.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "compose/serialize.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>

namespace berth::cli {
namespace {

struct ConfigOptions {
    std::string format = "yaml";
    bool services = false;
    bool volumes = false;
    bool networks = false;
    bool profiles = false;
    bool images = false;
    bool quiet = false;
    std::string output;
};

int run_config(const GlobalOptions& g, const ConfigOptions& o) {
    compose::Project p = load_project(g);
    if (o.quiet) return 0;
    std::string out;
    if (o.services) {
        for (auto& [name, _] : p.services) out += name + "\n";
    } else if (o.volumes) {
        for (auto& [name, _] : p.volumes) out += name + "\n";
    } else if (o.networks) {
        for (auto& [name, _] : p.networks) out += name + "\n";
    } else if (o.profiles) {
        std::set<std::string> all;
        for (auto* m : {&p.services, &p.disabled_services})
            for (auto& [_, s] : *m) all.insert(s.profiles.begin(), s.profiles.end());
        for (auto& pr : all) out += pr + "\n";
    } else if (o.images) {
        for (auto& [name, s] : p.services)
            out += (s.image.empty() ? p.name + "-" + name : s.image) + "\n";
    } else if (o.format == "json") {
        out = compose::to_json(p).dump(2) + "\n";
    } else {
        out = compose::to_yaml(compose::to_json(p));
    }
    if (!o.output.empty()) {
        std::ofstream f(o.output, std::ios::binary | std::ios::trunc);
        if (!f) throw Error::sys(errno, "write " + o.output);
        f << out;
        return 0;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace

void add_config_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("config", "Parse, resolve and render the compose file in canonical form");
    auto o = std::make_shared<ConfigOptions>();
    cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"yaml", "json"}))->default_str("yaml");
    cmd->add_flag("--services", o->services, "Print the service names, one per line");
    cmd->add_flag("--volumes", o->volumes, "Print the volume names, one per line");
    cmd->add_flag("--networks", o->networks, "Print the network names, one per line");
    cmd->add_flag("--profiles", o->profiles, "Print the profile names, one per line");
    cmd->add_flag("--images", o->images, "Print the image names, one per line");
    cmd->add_flag("-q,--quiet", o->quiet, "Only validate the configuration, print nothing");
    cmd->add_option("-o,--output", o->output, "Save to FILE instead of printing")->type_name("FILE");
    cmd->callback([&cli, o] { cli.action = [&cli, o] { return run_config(cli.global, *o); }; });
}

}  // namespace berth::cli
