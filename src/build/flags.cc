// Instruction flags (--from=, --link, --mount=…) and their values.
#include "base/error.h"
#include "base/strings.h"
#include "build/parse_internal.h"

#include <algorithm>
#include <cmath>

namespace berth::build::detail {

FlagValues parse_flags(const std::vector<std::string>& flags, const std::vector<FlagSpec>& specs) {
    FlagValues out;
    for (const std::string& f : flags) {
        if (f.rfind("--", 0) != 0) throw Error("arg should start with -- : " + f);
        std::string body = f.substr(2);
        size_t eq = body.find('=');
        std::string name = body.substr(0, eq);
        bool has_value = eq != std::string::npos;
        std::string value = has_value ? body.substr(eq + 1) : "";
        const FlagSpec* spec = nullptr;
        for (const auto& s : specs)
            if (name == s.name) spec = &s;
        if (!spec) {
            std::vector<std::string> names;
            std::string list;
            for (const auto& s : specs) {
                names.push_back(s.name);
                list += (list.empty() ? "--" : ", --") + std::string(s.name);
            }
            std::string close = closest_match(name, names);
            std::string hint = !close.empty() ? "did you mean --" + close + "?"
                               : specs.empty() ? "this instruction takes no flags"
                                               : "it takes " + list;
            throw Error("unknown flag: --" + name, hint);
        }
        if (spec->type != FlagType::Strings && out.has(name)) throw Error("duplicate flag specified: --" + name);
        if (spec->type == FlagType::Bool) {
            if (!has_value) value = "true";
            std::string v = lower(value);
            if (v != "true" && v != "false")
                throw Error("expecting boolean value for flag --" + name + ", not: " + value,
                            "write --" + name + " or --" + name + "=false");
            out.values[name].push_back(v);
            continue;
        }
        if (!has_value || value.empty())
            throw Error("missing a value on flag: --" + name, "write --" + name + "=VALUE");
        out.values[name].push_back(value);
    }
    return out;
}

namespace {

// Fields of a CSV record: commas separate, "…" quotes ("" is a quote).
std::vector<std::string> csv_fields(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false, any = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < s.size() && s[i + 1] == '"') cur += '"', ++i;
                else quoted = false;
            } else {
                cur += c;
            }
        } else if (c == '"' && cur.empty()) {
            quoted = true;
        } else if (c == ',') {
            out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
        any = true;
    }
    if (quoted) throw Error("failed to parse csv mounts: unterminated quote in " + std::string(s));
    if (any) out.push_back(std::move(cur));
    return out;
}

bool parse_bool(const std::string& key, const std::string& v) {
    std::string l = lower(v);
    if (l == "1" || l == "t" || l == "true") return true;
    if (l == "0" || l == "f" || l == "false") return false;
    throw Error("invalid value for " + key + ": " + v, "use true or false");
}

void check_number(const std::string& key, const std::string& v, int base) {
    if (v.find('$') != std::string::npos) return;  // checked once expanded
    bool ok = !v.empty() && v.size() <= 11;
    for (char c : v) ok = ok && c >= '0' && c <= (base == 8 ? '7' : '9');
    if (ok && std::stoull(v, nullptr, base) > 0xffffffffull) ok = false;
    if (!ok) throw Error("invalid value " + v + " for " + key);
}

}  // namespace

Mount parse_mount(std::string_view value) {
    Mount m;
    m.text = std::string(value);
    bool ro_auto = true;
    bool fileinfo_set = false;
    for (const std::string& field : csv_fields(value)) {
        size_t eq = field.find('=');
        std::string key = lower(field.substr(0, eq));
        if (eq == std::string::npos) {
            if (key == "readonly" || key == "ro") m.readonly = true, ro_auto = false;
            else if (key == "readwrite" || key == "rw") m.readonly = false, ro_auto = false;
            else if (key == "required" && (m.type == MountType::Secret || m.type == MountType::Ssh)) m.required = true;
            else if (key == "required")
                throw Error("unexpected key 'required' for mount type '" + std::string(mount_type_name(m.type)) + "'");
            else throw Error("invalid field '" + field + "' must be a key=value pair");
            continue;
        }
        std::string v = field.substr(eq + 1);
        if (key == "type") {
            std::string t = lower(v);
            if (t == "bind") m.type = MountType::Bind;
            else if (t == "cache") m.type = MountType::Cache;
            else if (t == "tmpfs") m.type = MountType::Tmpfs;
            else if (t == "secret") m.type = MountType::Secret;
            else if (t == "ssh") m.type = MountType::Ssh;
            else {
                std::string close = closest_match(t, {"bind", "cache", "tmpfs", "secret", "ssh"});
                throw Error("unsupported mount type \"" + v + "\"",
                            close.empty() ? "use bind, cache, tmpfs, secret or ssh" : "did you mean " + close + "?");
            }
        } else if (key == "from") {
            size_t d = v.find('$');
            if (d != std::string::npos && d != v.size() - 1)
                throw Error("'from' doesn't support variable expansion, define alias stage instead",
                            "add a stage `FROM ${VAR} AS alias` and mount from=alias");
            m.from = v;
        } else if (key == "source" || key == "src") m.source = v;
        else if (key == "target" || key == "dst" || key == "destination") m.target = v;
        else if (key == "readonly" || key == "ro") m.readonly = parse_bool(key, v), ro_auto = false;
        else if (key == "readwrite" || key == "rw") m.readonly = !parse_bool(key, v), ro_auto = false;
        else if (key == "required") {
            if (m.type != MountType::Secret && m.type != MountType::Ssh)
                throw Error("unexpected key 'required' for mount type '" + std::string(mount_type_name(m.type)) + "'");
            m.required = parse_bool(key, v);
        } else if (key == "size") {
            if (m.type != MountType::Tmpfs)
                throw Error("unexpected key 'size' for mount type '" + std::string(mount_type_name(m.type)) + "'");
            m.size = v;
        } else if (key == "id") m.id = v;
        else if (key == "sharing") {
            std::string s = lower(v);
            if (s != "shared" && s != "private" && s != "locked")
                throw Error("unsupported sharing value \"" + v + "\"", "use shared, private or locked");
            m.sharing = s;
        } else if (key == "mode") check_number(key, v, 8), m.mode = v, fileinfo_set = true;
        else if (key == "uid") check_number(key, v, 10), m.uid = v, fileinfo_set = true;
        else if (key == "gid") check_number(key, v, 10), m.gid = v, fileinfo_set = true;
        else if (key == "env") m.env = v;
        else {
            std::string close = closest_match(key, {"type", "from", "source", "target", "readonly", "id", "sharing",
                                                    "required", "size", "mode", "uid", "gid", "src", "dst",
                                                    "destination", "ro", "rw", "readwrite", "env"});
            throw Error("unexpected key '" + key + "' in '" + field + "'",
                        close.empty() ? std::string() : "did you mean " + close + "?");
        }
    }
    bool fileinfo_ok = m.type == MountType::Secret || m.type == MountType::Ssh || m.type == MountType::Cache;
    if (fileinfo_set && !fileinfo_ok)
        throw Error(std::string("mode, uid and gid are not allowed for \"") + mount_type_name(m.type) + "\" mounts");
    if (ro_auto) m.readonly = !(m.type == MountType::Cache || m.type == MountType::Tmpfs);
    if (m.type == MountType::Secret) {
        if (!m.from.empty()) throw Error("secret mount should not have a from");
        if (!m.sharing.empty()) throw Error("secret mount should not define sharing");
        if (m.source.empty() && m.target.empty() && m.id.empty())
            throw Error("invalid secret mount. one of source, target required", "add id=NAME or target=/run/secrets/NAME");
        if (!m.source.empty() && !m.id.empty()) throw Error("both source and id can't be set");
    }
    if (!m.sharing.empty() && m.type != MountType::Cache)
        throw Error(std::string("invalid cache sharing set for ") + mount_type_name(m.type) + " mount");
    if (m.target.empty() && m.type != MountType::Secret && m.type != MountType::Ssh)
        throw Error("mount has no target", "add target=/path/in/the/container");
    return m;
}

std::chrono::nanoseconds parse_duration(std::string_view s) {
    std::string orig(s);
    auto bad = [&]() { return Error("invalid duration \"" + orig + "\"", "write a number with a unit: 30s, 1m30s, 500ms"); };
    if (s.empty()) throw bad();
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', s.remove_prefix(1);
    if (s == "0") return std::chrono::nanoseconds(0);
    if (s.empty()) throw bad();
    long double total = 0;
    while (!s.empty()) {
        size_t i = 0;
        while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
        if (i == 0) throw bad();
        std::string num(s.substr(0, i));
        if (num == "." || num.size() > 30 || std::count(num.begin(), num.end(), '.') > 1) throw bad();
        s.remove_prefix(i);
        size_t u = 0;
        while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
        std::string unit(s.substr(0, u));
        s.remove_prefix(u);
        long double scale;
        if (unit == "ns") scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
        else if (unit == "ms") scale = 1e6;
        else if (unit == "s") scale = 1e9;
        else if (unit == "m") scale = 60e9;
        else if (unit == "h") scale = 3600e9;
        else throw bad();
        total += std::stold(num) * scale;
        if (total > 9.2e18L) throw bad();
    }
    auto ns = static_cast<long long>(std::llround(static_cast<double>(total)));
    return std::chrono::nanoseconds(neg ? -ns : ns);
}

}  // namespace berth::build::detail
