#include "netns/firewall.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/hash.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

extern char** environ;

namespace berth::netns {
namespace {

struct NftResult {
    int status = -1;
    std::string output;
};

NftResult run_nft(const std::vector<std::string>& args, const std::string& input) {
    auto [in_r, in_w] = make_pipe();
    auto [out_r, out_w] = make_pipe();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 2);
    std::vector<char*> argv{const_cast<char*>("nft")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    int err = posix_spawnp(&pid, "nft", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) throw Error::sys(err, "run nft (is the nftables package installed? scripts/setup.sh installs it)");
    in_r.reset();
    out_w.reset();
    write_all(in_w.get(), input);
    in_w.reset();
    NftResult r;
    r.output = read_all(out_r.get());
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

}  // namespace

std::string table_name(const std::string& bridge) {
    std::string t = kTablePrefix;
    for (char c : bridge.substr(bridge.rfind(kBridgePrefix, 0) == 0 ? std::string(kBridgePrefix).size() : 0))
        t += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return t;
}

std::string ports_table_name(const std::string& bridge, const std::string& container) {
    uint64_t h = fnv1a(container);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
    return table_name(bridge) + "_p" + buf;
}

std::string ports_ruleset(const std::string& t, const std::string& bridge, const Subnet& subnet, uint32_t address,
                          const std::vector<PublishedPort>& ports, const std::optional<Subnet6>& subnet6,
                          const std::optional<Ip6>& address6) {
    std::string b = "\"" + bridge + "\"";
    std::ostringstream s;
    // One table per family; a port bound to an address of one family only goes in that one.
    auto table = [&](bool v6) {
        std::string family = v6 ? "ip6" : "ip";
        std::string to = v6 ? "[" + format_ipv6(*address6) + "]" : format_ipv4(address);
        std::string rules;
        for (const auto& p : ports) {
            bool v6_ip = p.host_ip.find(':') != std::string::npos;
            bool any = p.host_ip.empty() || p.host_ip == "0.0.0.0" || p.host_ip == "::";
            if ((!any && v6_ip != v6) || p.host_ip == "::1") continue;
            // ::1 cannot be routed to a bridge: the proxy's listener answers it.
            std::string match = !any ? family + " daddr " + p.host_ip
                                : v6 ? "fib daddr type local ip6 daddr != ::1"
                                     : "fib daddr type local";
            rules += "\t\t" + match + " " + p.protocol + " dport " + std::to_string(p.host_port) + " dnat to " + to +
                     ":" + std::to_string(p.target) + "\n";
        }
        s << "add table " << family << " " << t << "\n"
          << "delete table " << family << " " << t << "\n"
          << "table " << family << " " << t << " {\n"
          << "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n" << rules << "\t}\n"
          << "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n" << rules << "\t}\n"
          << "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
        if (v6) {
            s << "\t\toifname " << b << " ip6 saddr " << subnet6->str() << " ip6 daddr " << format_ipv6(*address6)
              << " ct status dnat masquerade\n";
        } else {
            s << "\t\toifname " << b << " ip saddr 127.0.0.0/8 ip daddr " << format_ipv4(address) << " masquerade\n"
              << "\t\toifname " << b << " ip saddr " << subnet.str() << " ip daddr " << format_ipv4(address)
              << " ct status dnat masquerade\n";
        }
        s << "\t}\n"
          << "}\n";
    };
    table(false);
    if (subnet6 && address6) table(true);
    return s.str();
}

std::string ruleset(const BridgeRules& r) {
    std::string t = table_name(r.bridge);
    std::string b = "\"" + r.bridge + "\"";
    std::ostringstream s;
    auto table = [&](bool v6) {
        std::string family = v6 ? "ip6" : "ip";
        // add + delete + define in one transaction: replaces whatever was there.
        s << "add table " << family << " " << t << "\n"
          << "delete table " << family << " " << t << "\n"
          << "table " << family << " " << t << " {\n"
          << "\tchain forward {\n"
          << "\t\ttype filter hook forward priority filter; policy accept;\n";
        if (r.internal) {
            s << "\t\tiifname " << b << " oifname != " << b << " drop\n"
              << "\t\toifname " << b << " iifname != " << b << " drop\n";
        } else {
            // Isolation from every other berth network, in both directions; a
            // published port (DNAT) is reachable from anywhere, as on the host.
            s << "\t\toifname " << b << " ct status dnat accept\n";
            s << "\t\tiifname " << b << " oifname != " << b << " oifgroup " << kBridgeGroup << " drop\n"
              << "\t\toifname " << b << " iifname != " << b << " iifgroup " << kBridgeGroup << " drop\n";
        }
        s << "\t}\n";
        if (!r.internal && r.masquerade) {
            s << "\tchain postrouting {\n"
              << "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
              << "\t\t" << family << " saddr " << (v6 ? r.subnet6->str() : r.subnet.str()) << " oifname != " << b
              << " masquerade\n"
              << "\t}\n";
        }
        s << "}\n";
    };
    table(false);
    if (r.subnet6) table(true);
    return s.str();
}

void nft_apply(const std::string& script) {
    auto r = run_nft({"-f", "-"}, script);
    if (r.status != 0) {
        while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
        throw Error("nft failed (exit " + std::to_string(r.status) + "): " + r.output);
    }
}

std::string delete_table_script(const std::string& table) {
    std::string script;
    for (const char* family : {"ip", "ip6"})  // add + delete: a missing table is fine
        script += std::string("add table ") + family + " " + table + "\ndelete table " + family + " " + table + "\n";
    return script;
}

std::string delete_bridge_tables_script(const std::vector<std::string>& tables, const std::string& bridge,
                                        bool ports_only) {
    std::string t = table_name(bridge), script;
    for (const auto& have : tables) {
        std::string name = have.substr(have.find(' ') + 1);
        if ((!ports_only && name == t) || name.rfind(t + "_p", 0) == 0) script += "delete table " + have + "\n";
    }
    return script;
}

std::vector<std::string> nft_berth_tables() {
    auto r = run_nft({"list", "tables"}, "");
    std::vector<std::string> out;
    if (r.status != 0) return out;
    std::istringstream in(r.output);
    std::string word, family, name;
    while (in >> word >> family >> name)
        if (word == "table" && (family == "ip" || family == "ip6") && name.rfind(kTablePrefix, 0) == 0)
            out.push_back(family + " " + name);
    return out;
}

bool nft_available(std::string* why) {
    // nft and the kernel's nf_tables do not come and go while berth runs: ask once.
    static int known = -1;
    static std::string reason;
    if (known < 0) {
        try {
            auto r = run_nft({"list", "tables"}, "");
            known = r.status == 0;
            reason = r.output;
        } catch (const std::exception& e) {
            known = 0;
            reason = e.what();
        }
    }
    if (!known && why) *why = reason;
    return known == 1;
}

namespace {

constexpr const char* kForward4 = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* kForward6 = "/proc/sys/net/ipv6/conf/all/forwarding";

bool read_flag(const char* path) {
    std::ifstream f(path);
    int v = 0;
    f >> v;
    return v != 0;
}

void write_flag(const char* path, bool on) {
    std::ofstream f(path);
    f << (on ? "1\n" : "0\n");
    f.flush();
    if (!f) throw Error(std::string("cannot write ") + path);
}

}  // namespace

bool ip_forward() { return read_flag(kForward4); }
void set_ip_forward(bool on) { write_flag(kForward4, on); }
bool ip6_forward() { return read_flag(kForward6); }
void set_ip6_forward(bool on) { write_flag(kForward6, on); }

bool ipv6_enabled() {
    std::ifstream f("/proc/sys/net/ipv6/conf/all/disable_ipv6");
    int v = 1;
    return f >> v && v == 0;
}

}  // namespace berth::netns
