#include "runtime/user.h"

#include "base/error.h"
#include "base/strings.h"

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>

namespace berth::runtime {
namespace {

std::optional<uint32_t> number(std::string_view s) {
    uint32_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Lines of a colon-separated database, split into fields.
std::vector<std::vector<std::string>> records(std::string_view text) {
    std::vector<std::vector<std::string>> out;
    for (const auto& line : split(std::string(text), '\n')) {
        if (line.empty() || line[0] == '#') continue;
        out.push_back(split(line, ':'));
    }
    return out;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

gid_t group_id(std::string_view g, std::string_view group, const char* what) {
    if (auto n = number(g)) return *n;
    for (const auto& r : records(group))
        if (r.size() >= 3 && r[0] == g)
            if (auto n = number(r[2])) return *n;
    throw Error(std::string(what) + ": no group \"" + std::string(g) + "\" in the image's /etc/group",
                "use a numeric gid or a group the image defines");
}

}  // namespace

ResolvedUser resolve_user(std::string_view user, const std::vector<std::string>& group_add,
                          std::string_view passwd, std::string_view group) {
    ResolvedUser r;
    std::string_view u = user, g;
    if (auto colon = user.find(':'); colon != std::string_view::npos) {
        u = user.substr(0, colon);
        g = user.substr(colon + 1);
    }
    std::string name;
    if (u.empty()) u = "0";
    if (auto n = number(u)) {
        r.uid = *n;
        // A numeric uid takes its gid and home from passwd when listed there.
        for (const auto& rec : records(passwd))
            if (rec.size() >= 6 && number(rec[2]) == r.uid) {
                name = rec[0];
                if (auto gid = number(rec[3])) r.gid = *gid;
                r.home = rec[5].empty() ? "/" : rec[5];
                break;
            }
    } else {
        bool found = false;
        for (const auto& rec : records(passwd))
            if (rec.size() >= 4 && rec[0] == u) {
                auto uid = number(rec[2]);
                auto gid = number(rec[3]);
                if (!uid || !gid) continue;
                r.uid = *uid;
                r.gid = *gid;
                if (rec.size() >= 6 && !rec[5].empty()) r.home = rec[5];
                name = rec[0];
                found = true;
                break;
            }
        if (!found)
            throw Error("user: no user \"" + std::string(u) + "\" in the image's /etc/passwd",
                        "use a numeric uid (user: \"1000\") or a user the image defines");
    }
    if (!g.empty()) r.gid = group_id(g, group, "user");
    if (!name.empty())
        for (const auto& rec : records(group))
            if (rec.size() >= 4 && !rec[3].empty())
                for (const auto& member : split(rec[3], ','))
                    if (member == name)
                        if (auto gid = number(rec[2]); gid && *gid != r.gid) r.groups.push_back(*gid);
    for (const auto& a : group_add) r.groups.push_back(group_id(a, group, "group_add"));
    return r;
}

ResolvedUser resolve_user_in_layers(std::string_view user, const std::vector<std::string>& group_add,
                                    const std::vector<std::string>& layers) {
    auto find = [&](const char* rel) -> std::string {
        for (const auto& l : layers)
            if (auto s = read_file(l + "/" + rel)) return *s;
        return {};
    };
    // Root without extra groups needs no lookup at all: the common case stays fast.
    if ((user.empty() || user == "0" || user == "root") && group_add.empty()) {
        ResolvedUser r;
        r.home = "/root";
        return r;
    }
    return resolve_user(user, group_add, find("etc/passwd"), find("etc/group"));
}

}  // namespace berth::runtime
