// Reading typed values out of the Node tree without ever crashing on an
// unexpected shape: each reader takes the node and its key path
// ("services.web.ports[1]") and throws a LoadError located at the node,
// saying what was expected and what was found. Shared by the normalizer's
// files and validate.cc (kind_name).
#pragma once

#include "compose/model.h"
#include "compose/tree.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::compose::nodes {

[[noreturn]] void fail(const Node& n, const std::string& path, const std::string& msg, std::string hint = {});

// "a mapping", "a list", "nothing (null)", "a boolean", "a number", "a string".
const char* kind_name(const Node& n);

std::string text(const Node& n, const std::string& path);  // a null node reads as ""
bool boolean(const Node& n, const std::string& path);
int64_t integer(const Node& n, const std::string& path);  // decimal, 0x, YAML 1.2 0o octal
int64_t non_negative(const Node& n, const std::string& path);
double number(const Node& n, const std::string& path);
Nanos duration(const Node& n, const std::string& path);
Nanos non_negative_duration(const Node& n, const std::string& path);
double cpu_count(const Node& n, const std::string& path);  // 0 … 9.2e9
Bytes bytes(const Node& n, const std::string& path);
// A string, or a list of strings (a lone string is a list of one).
std::vector<std::string> string_list(const Node& n, const std::string& path);
// `KEY=VALUE` list or KEY: VALUE mapping; a list item without '=' (or a null
// map value) has no value.
std::map<std::string, std::optional<std::string>> dict(const Node& n, const std::string& path);
std::map<std::string, std::string> string_dict(const Node& n, const std::string& path);
// The node as JSON with its YAML 1.2 core types, for x- extension values.
nlohmann::json to_json(const Node& n);

// A list of names or a mapping of name → settings (depends_on, a service's
// networks): fn(name, settings or nullptr, where the name is, its key path)
// for each; null is no entries; anything else fails with "expected <what>".
template <typename Fn>
void each_named(const Node& v, const std::string& path, const char* what, Fn fn) {
    if (v.is_null()) return;
    if (v.is_seq()) {
        for (size_t i = 0; i < v.items.size(); ++i) {
            std::string ip = path_index(path, i);
            fn(text(v.items[i], ip), nullptr, v.items[i].loc, ip);
        }
        return;
    }
    if (!v.is_map()) fail(v, path, std::string("expected ") + what + ", got " + kind_name(v));
    for (const auto& e : v.entries) fn(e.key, &e.value, e.key_loc, path_join(path, e.key));
}

std::string lower(std::string s);
inline bool is_valid_port(int64_t p) { return p >= 1 && p <= 65535; }

}  // namespace berth::compose::nodes
