// berth inspect SERVICE, berth top [SERVICE…], berth stats [--no-stream] [--format json] [SERVICE…]
#include "base/error.h"
#include "cgroups/cgroups.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "compose/serialize.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace berth::cli {
namespace {

struct Selected {
    compose::Project project;
    std::vector<state::ContainerRecord> records;
};

Selected select(const GlobalOptions& g, const std::vector<std::string>& services, bool running_only) {
    Selected s{load_project(g), {}};
    for (const auto& n : services)
        if (!s.project.services.count(n)) throw Error("no such service: " + n);
    for (auto& r : state::ProjectState(state::runtime_dir(), s.project.name).read_all()) {
        if (!services.empty() && std::find(services.begin(), services.end(), r.service) == services.end()) continue;
        bool alive = r.pid > 0 && state::process_alive(r.pid, r.pid_start_time);
        if (running_only && !alive) continue;
        s.records.push_back(std::move(r));
    }
    return s;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string human(double b) {
    const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) b /= 1024, ++i;
    char buf[32];
    snprintf(buf, sizeof buf, i ? "%.2f%s" : "%.0f%s", b, u[i]);
    return buf;
}

// Bytes received and sent on the container's interfaces other than lo.
std::pair<int64_t, int64_t> net_io(int pid) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/net/dev"));
    std::string line;
    int64_t rx = 0, tx = 0;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        if (name == "lo") continue;
        std::istringstream f(line.substr(colon + 1));
        int64_t v[16] = {};
        for (auto& x : v) f >> x;
        rx += v[0];
        tx += v[8];
    }
    return {rx, tx};
}

int inspect_command(const GlobalOptions& g, const std::vector<std::string>& services) {
    Selected s = select(g, services, false);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : s.records) {
        nlohmann::json j = state::to_json(r);
        j["running"] = r.pid > 0 && state::process_alive(r.pid, r.pid_start_time);
        if (auto it = s.project.services.find(r.service); it != s.project.services.end())
            j["config"] = nlohmann::json::parse(compose::service_to_json(it->second).dump());
        out.push_back(j);
    }
    if (out.empty()) throw Error("no container of " + (services.empty() ? std::string("the project") : services[0]) + " exists",
                                 "start it with `berth up -d`");
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

int top_command(const GlobalOptions& g, const std::vector<std::string>& services) {
    Selected s = select(g, services, true);
    auto cg = cgroups::detect();
    for (const auto& r : s.records) {
        auto group = cg->create(r.cgroup, {});
        std::printf("%s\n%-8s %-8s %-8s %s\n", r.name.c_str(), "UID", "PID", "PPID", "CMD");
        for (pid_t p : group->procs()) {
            std::string stat = slurp("/proc/" + std::to_string(p) + "/status");
            auto field = [&](const char* key) {
                auto at = stat.find(std::string("\n") + key + ":");
                if (at == std::string::npos) return std::string("?");
                std::istringstream f(stat.substr(at + std::strlen(key) + 2));
                std::string v;
                f >> v;
                return v;
            };
            std::string cmd = slurp("/proc/" + std::to_string(p) + "/cmdline");
            for (auto& c : cmd)
                if (c == '\0') c = ' ';
            std::printf("%-8s %-8d %-8s %s\n", field("Uid").c_str(), p, field("PPid").c_str(), cmd.c_str());
        }
        std::printf("\n");
    }
    return 0;
}

int stats_command(const GlobalOptions& g, const std::vector<std::string>& services, bool no_stream, const std::string& format) {
    auto cg = cgroups::detect();
    bool tty = isatty(1) && !no_stream && format != "json";
    for (int round = 0;; ++round) {
        Selected s = select(g, services, true);
        std::vector<std::unique_ptr<cgroups::Group>> groups;
        std::vector<int64_t> cpu0;
        for (const auto& r : s.records) {
            groups.push_back(cg->create(r.cgroup, {}));
            cpu0.push_back(groups.back()->cpu_usage_ns());
        }
        auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        nlohmann::json out = nlohmann::json::array();
        if (tty) std::printf("\x1b[2J\x1b[H");
        if (format != "json")
            std::printf("%-28s %-8s %-24s %-8s %-20s %s\n", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "PIDS");
        for (size_t i = 0; i < s.records.size(); ++i) {
            const auto& r = s.records[i];
            double cpu = 100.0 * static_cast<double>(groups[i]->cpu_usage_ns() - cpu0[i]) / (secs * 1e9);
            int64_t mem = groups[i]->memory_usage();
            const auto& svc = s.project.services.count(r.service) ? s.project.services.at(r.service) : compose::Service{};
            std::optional<int64_t> limit = svc.mem_limit;
            if (!limit && svc.deploy && svc.deploy->has_resources) limit = svc.deploy->limits.memory;
            auto [rx, tx] = net_io(r.pid);
            int64_t pids = groups[i]->pids_current();
            if (format == "json") {
                out.push_back({{"Name", r.name}, {"Service", r.service}, {"CPUPerc", cpu}, {"MemUsage", mem},
                               {"MemLimit", limit ? nlohmann::json(*limit) : nlohmann::json(nullptr)},
                               {"NetRx", rx}, {"NetTx", tx}, {"PIDs", pids}});
                continue;
            }
            std::string memcol = human(static_cast<double>(mem)) + " / " + (limit ? human(static_cast<double>(*limit)) : "unlimited");
            char pct[16] = "--";
            if (limit && *limit > 0) snprintf(pct, sizeof pct, "%.2f%%", 100.0 * static_cast<double>(mem) / static_cast<double>(*limit));
            char cpucol[16];
            snprintf(cpucol, sizeof cpucol, "%.2f%%", cpu);
            std::printf("%-28s %-8s %-24s %-8s %-20s %lld\n", r.name.c_str(), cpucol, memcol.c_str(), pct,
                        (human(static_cast<double>(rx)) + " / " + human(static_cast<double>(tx))).c_str(),
                        static_cast<long long>(pids));
        }
        if (format == "json") std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
        if (no_stream || format == "json") return 0;
    }
}

// `berth port SERVICE PRIVATE_PORT`: the host address a container port is published on.
int port_command(const GlobalOptions& g, const std::string& service, const std::string& private_port,
                 const std::string& protocol, int index) {
    Selected s = select(g, {service}, false);
    std::string port = private_port, proto = protocol;
    if (auto slash = port.find('/'); slash != std::string::npos) {
        proto = port.substr(slash + 1);
        port = port.substr(0, slash);
    }
    for (const auto& r : s.records) {
        if (r.index != index) continue;
        for (const auto& p : r.ports) {  // "127.0.0.1:8080->80/tcp"
            auto arrow = p.find("->");
            if (arrow != std::string::npos && p.substr(arrow + 2) == port + "/" + proto) {
                std::printf("%s\n", p.substr(0, arrow).c_str());
                return 0;
            }
        }
        throw Error("service \"" + service + "\" does not publish port " + port + "/" + proto,
                    "see `ports:` in the compose file, or `berth ps` for what is published");
    }
    throw Error("service \"" + service + "\" has no container with index " + std::to_string(index),
                "start it with `berth up -d " + service + "`");
}

}  // namespace

void add_inspect_commands(Cli& cli) {
    auto* port = cli.app.add_subcommand("port", "Print the host address a container port is published on");
    auto pservice = std::make_shared<std::string>();
    auto pport = std::make_shared<std::string>();
    auto pproto = std::make_shared<std::string>("tcp");
    auto pindex = std::make_shared<int>(1);
    port->add_option("SERVICE", *pservice, "The service")->required();
    port->add_option("PRIVATE_PORT", *pport, "The container port (80 or 53/udp)")->required();
    port->add_option("--protocol", *pproto, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}));
    port->add_option("--index", *pindex, "Which replica (default 1)");
    port->callback([&cli, pservice, pport, pproto, pindex] {
        cli.action = [&cli, pservice, pport, pproto, pindex] {
            return port_command(cli.global, *pservice, *pport, *pproto, *pindex);
        };
    });

    auto* ins = cli.app.add_subcommand("inspect", "Show containers' state, health log and configuration as JSON");
    auto isvcs = std::make_shared<std::vector<std::string>>();
    ins->add_option("SERVICE", *isvcs, "Services (default: all)");
    ins->callback([&cli, isvcs] { cli.action = [&cli, isvcs] { return inspect_command(cli.global, *isvcs); }; });

    auto* top = cli.app.add_subcommand("top", "Show the processes of running containers");
    auto tsvcs = std::make_shared<std::vector<std::string>>();
    top->add_option("SERVICE", *tsvcs, "Services (default: all)");
    top->callback([&cli, tsvcs] { cli.action = [&cli, tsvcs] { return top_command(cli.global, *tsvcs); }; });

    auto* stats = cli.app.add_subcommand("stats", "Show CPU, memory, network and pids of running containers");
    auto ssvcs = std::make_shared<std::vector<std::string>>();
    auto no_stream = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>("table");
    stats->add_option("SERVICE", *ssvcs, "Services (default: all)");
    stats->add_flag("--no-stream", *no_stream, "Print once and exit");
    stats->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    stats->callback([&cli, ssvcs, no_stream, format] {
        cli.action = [&cli, ssvcs, no_stream, format] { return stats_command(cli.global, *ssvcs, *no_stream, *format); };
    });
}

}  // namespace berth::cli
