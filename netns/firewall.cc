#include "netns/firewall.h"

#include "base/error.h"
#include "base/fd.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

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
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (pipe2(out, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
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
    size_t off = 0;
    while (off < input.size()) {
        ssize_t n = ::write(in_w.get(), input.data() + off, input.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
    in_w.reset();
    NftResult r;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out_r.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        r.output.append(buf, static_cast<size_t>(n));
    }
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

std::string ruleset(const BridgeRules& r) {
    std::string t = table_name(r.bridge);
    std::string b = "\"" + r.bridge + "\"";
    std::ostringstream s;
    // add + delete + define in one transaction: replaces whatever was there.
    s << "add table ip " << t << "\n"
      << "delete table ip " << t << "\n"
      << "table ip " << t << " {\n"
      << "\tchain forward {\n"
      << "\t\ttype filter hook forward priority filter; policy accept;\n";
    if (r.internal) {
        s << "\t\tiifname " << b << " oifname != " << b << " drop\n"
          << "\t\toifname " << b << " iifname != " << b << " drop\n";
    } else {
        // Isolation from every other berth network, in both directions.
        s << "\t\tiifname " << b << " oifname != " << b << " oifname \"" << kBridgePrefix << "*\" drop\n"
          << "\t\toifname " << b << " iifname != " << b << " iifname \"" << kBridgePrefix << "*\" drop\n";
    }
    s << "\t}\n";
    if (!r.internal && r.masquerade) {
        s << "\tchain postrouting {\n"
          << "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
          << "\t\tip saddr " << r.subnet.str() << " oifname != " << b << " masquerade\n"
          << "\t}\n";
    }
    s << "}\n";
    return s.str();
}

void nft_apply(const std::string& script) {
    auto r = run_nft({"-f", "-"}, script);
    if (r.status != 0) {
        while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
        throw Error("nft failed (exit " + std::to_string(r.status) + "): " + r.output);
    }
}

void nft_delete_table(const std::string& table) {
    auto r = run_nft({"-f", "-"}, "add table ip " + table + "\ndelete table ip " + table + "\n");
    if (r.status != 0) throw Error("nft: cannot delete table " + table + ": " + r.output);
}

std::vector<std::string> nft_berth_tables() {
    auto r = run_nft({"list", "tables", "ip"}, "");
    std::vector<std::string> out;
    if (r.status != 0) return out;
    std::istringstream in(r.output);
    std::string word, family, name;
    while (in >> word >> family >> name)
        if (word == "table" && name.rfind(kTablePrefix, 0) == 0) out.push_back(name);
    return out;
}

bool nft_available(std::string* why) {
    try {
        auto r = run_nft({"list", "tables"}, "");
        if (r.status == 0) return true;
        if (why) *why = r.output;
    } catch (const std::exception& e) {
        if (why) *why = e.what();
    }
    return false;
}

bool ip_forward() {
    std::ifstream f("/proc/sys/net/ipv4/ip_forward");
    int v = 0;
    f >> v;
    return v != 0;
}

void set_ip_forward(bool on) {
    std::ofstream f("/proc/sys/net/ipv4/ip_forward");
    f << (on ? "1\n" : "0\n");
    f.flush();
    if (!f) throw Error("cannot write /proc/sys/net/ipv4/ip_forward");
}

}  // namespace berth::netns
