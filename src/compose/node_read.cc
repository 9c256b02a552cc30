#include "compose/node_read.h"

#include "compose/load_error.h"
#include "compose/units.h"

#include <cmath>
#include <stdexcept>

namespace berth::compose::nodes {

void fail(const Node& n, const std::string& path, const std::string& msg, std::string hint) {
    throw LoadError(n.loc, path, msg, std::move(hint));
}

const char* kind_name(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Null: return "nothing (null)";
    case Node::Kind::Map: return "a mapping";
    case Node::Kind::Seq: return "a list";
    case Node::Kind::Scalar: break;
    }
    switch (n.scalar_type()) {
    case ScalarType::Bool: return "a boolean";
    case ScalarType::Int: return "a number";
    case ScalarType::Float: return "a number";
    default: return "a string";
    }
}

std::string text(const Node& n, const std::string& path) {
    if (n.is_null()) return "";
    if (!n.is_scalar()) fail(n, path, std::string("expected a string, got ") + kind_name(n));
    return n.text;
}

nlohmann::json to_json(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Null: return nullptr;
    case Node::Kind::Map: {
        auto o = nlohmann::json::object();
        for (const auto& e : n.entries) o[e.key] = to_json(e.value);
        return o;
    }
    case Node::Kind::Seq: {
        auto a = nlohmann::json::array();
        for (const auto& i : n.items) a.push_back(to_json(i));
        return a;
    }
    case Node::Kind::Scalar: break;
    }
    switch (n.scalar_type()) {
    case ScalarType::Null: return nullptr;
    case ScalarType::Bool: return n.as_bool();
    case ScalarType::Int:
    case ScalarType::Float: {
        auto j = nlohmann::json::parse(n.text, nullptr, false);
        if (!j.is_discarded() && j.is_number()) return j;
        return n.text;
    }
    case ScalarType::String: return n.text;
    }
    return n.text;
}

bool boolean(const Node& n, const std::string& path) {
    if (n.scalar_type() == ScalarType::Bool) return n.as_bool();
    if (n.is_scalar() && (n.text == "true" || n.text == "false")) return n.text == "true";
    fail(n, path, std::string("expected true or false, got ") + kind_name(n));
}

int64_t integer(const Node& n, const std::string& path) {
    if (n.is_scalar()) {
        try {
            size_t used = 0;
            std::string t = n.text;
            int base = 0;
            if (t.rfind("0o", 0) == 0) {  // YAML 1.2 octal
                t = t.substr(2);
                base = 8;
            }
            long long v = std::stoll(t, &used, base);
            if (used == t.size()) return v;
        } catch (const std::exception&) {
        }
    }
    fail(n, path, "expected a whole number, got " + (n.is_scalar() ? "\"" + n.text + "\"" : std::string(kind_name(n))));
}

int64_t non_negative(const Node& v, const std::string& path) {
    int64_t x = integer(v, path);
    if (x < 0) fail(v, path, "must not be negative");
    return x;
}

double number(const Node& n, const std::string& path) {
    if (n.is_scalar()) {
        try {
            size_t used = 0;
            double v = std::stod(n.text, &used);
            if (used == n.text.size()) return v;
        } catch (const std::exception&) {
        }
    }
    fail(n, path, "expected a number, got " + (n.is_scalar() ? "\"" + n.text + "\"" : std::string(kind_name(n))));
}

Nanos duration(const Node& n, const std::string& path) {
    if (n.scalar_type() == ScalarType::Int && n.text == "0") return 0;
    try {
        return parse_duration(text(n, path));
    } catch (const ValueError& e) {
        fail(n, path, e.what());
    }
}

// A duration that cannot be negative (a grace period, a health-check interval).
Nanos non_negative_duration(const Node& n, const std::string& path) {
    Nanos d = duration(n, path);
    if (d < 0) fail(n, path, "must not be negative, got \"" + n.text + "\"", "write a duration like 30s or 1m30s");
    return d;
}

// A CPU count (`cpus`, deploy's `cpus`): docker takes it as nano-CPUs in an
// int64, so 9.2e9 is the most any engine could hold; it is not negative.
double cpu_count(const Node& n, const std::string& path) {
    double v = number(n, path);
    constexpr double kMaxCpus = 9.2e9;
    if (!std::isfinite(v) || v > kMaxCpus)
        fail(n, path, "value out of range: \"" + n.text + "\"", "give a number of CPUs such as 0.5 or 2");
    if (v < 0) fail(n, path, "must not be negative, got \"" + n.text + "\"", "give a number of CPUs such as 0.5 or 2");
    return v;
}

Bytes bytes(const Node& n, const std::string& path) {
    try {
        Bytes b = parse_bytes(text(n, path));
        if (b < 0) fail(n, path, "a size cannot be negative");
        return b;
    } catch (const ValueError& e) {
        fail(n, path, e.what());
    }
}

std::vector<std::string> string_list(const Node& n, const std::string& path) {
    std::vector<std::string> out;
    if (n.is_null()) return out;
    if (n.is_scalar()) return {n.text};
    if (!n.is_seq()) fail(n, path, std::string("expected a list of strings, got ") + kind_name(n));
    for (size_t i = 0; i < n.items.size(); ++i) out.push_back(text(n.items[i], path_index(path, i)));
    return out;
}

std::map<std::string, std::optional<std::string>> dict(const Node& n, const std::string& path) {
    const char sep = '=';
    std::map<std::string, std::optional<std::string>> out;
    if (n.is_null()) return out;
    if (n.is_map()) {
        for (const auto& e : n.entries) {
            if (e.value.is_null()) out[e.key] = std::nullopt;
            else out[e.key] = text(e.value, path_join(path, e.key));
        }
        return out;
    }
    if (!n.is_seq()) fail(n, path, std::string("expected a mapping or a list of KEY=VALUE, got ") + kind_name(n));
    for (size_t i = 0; i < n.items.size(); ++i) {
        std::string item = text(n.items[i], path_index(path, i));
        size_t eq = item.find(sep);
        if (eq == std::string::npos) out[item] = std::nullopt;
        else out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

std::map<std::string, std::string> string_dict(const Node& n, const std::string& path) {
    std::map<std::string, std::string> out;
    for (auto& [k, v] : dict(n, path)) out[k] = v.value_or("");
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace berth::compose::nodes
