// `berth cp SERVICE:SRC DEST` and `berth cp SRC SERVICE:DEST`: finds the
// service's running container; runtime/copy.h does the copy.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "runtime/copy.h"
#include "state/state.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace berth::cli {
namespace {

int cp_command(const GlobalOptions& g, const std::string& from, const std::string& to, int index, bool archive_mode) {
    auto split = [](const std::string& s) -> std::pair<std::string, std::string> {
        auto colon = s.find(':');
        if (colon == std::string::npos || colon == 0 || s[0] == '/' || s[0] == '.') return {"", s};
        return {s.substr(0, colon), s.substr(colon + 1)};
    };
    auto [fsvc, fpath] = split(from);
    auto [tsvc, tpath] = split(to);
    if (fsvc.empty() == tsvc.empty())
        throw Error("berth cp copies between a container and the host",
                    "write SERVICE:PATH on exactly one side: berth cp web:/etc/hosts ./hosts");
    std::string service = fsvc.empty() ? tsvc : fsvc;
    compose::Project project = load_project(g);
    int pid = 0;
    for (const auto& r : state::ProjectState(state::runtime_dir(), project.name).read_all())
        if (r.service == service && r.index == index && state::process_alive(r.pid, r.pid_start_time)) pid = r.pid;
    if (!pid) throw Error("service \"" + service + "\" has no running container with index " + std::to_string(index),
                          "start it with `berth up -d " + service + "`");
    if (!fsvc.empty()) {  // container → host
        std::string src = fpath.empty() || fpath[0] != '/' ? "/" + fpath : fpath;
        runtime::copy_out_of(pid, src, fs::absolute(tpath).lexically_normal().string());
        return 0;
    }
    std::string dest = tpath.empty() || tpath[0] != '/' ? "/" + tpath : tpath;
    runtime::copy_into(pid, fs::absolute(fpath).lexically_normal().string(),
                       fs::path(dest).lexically_normal().string(), archive_mode);
    return 0;
}

}  // namespace

void add_cp_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("cp", "Copy files between a running container and the host");
    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto index = std::make_shared<int>(1);
    auto archive_mode = std::make_shared<bool>(false);
    cmd->add_option("SRC", *from, "SERVICE:PATH or a host path")->required();
    cmd->add_option("DEST", *to, "a host path or SERVICE:PATH")->required();
    cmd->add_option("--index", *index, "Which replica (default 1)");
    cmd->add_flag("-a,--archive", *archive_mode, "Keep the files' owners when copying into the container");
    cmd->callback([&cli, from, to, index, archive_mode] {
        cli.action = [&cli, from, to, index, archive_mode] {
            return cp_command(cli.global, *from, *to, *index, *archive_mode);
        };
    });
}

}  // namespace berth::cli
