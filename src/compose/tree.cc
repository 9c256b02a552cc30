#include "compose/tree.h"

#include "compose/load_error.h"

#include <initializer_list>
#include <string_view>

namespace berth::compose {

std::string Location::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Node Node::scalar(std::string text, bool plain, Location loc) {
    Node n;
    n.kind = Kind::Scalar;
    n.text = std::move(text);
    n.plain = plain;
    n.loc = std::move(loc);
    return n;
}

Node Node::map(Location loc) {
    Node n;
    n.kind = Kind::Map;
    n.loc = std::move(loc);
    return n;
}

Node Node::seq(Location loc) {
    Node n;
    n.kind = Kind::Seq;
    n.loc = std::move(loc);
    return n;
}

namespace {

bool digits(std::string_view s, size_t& i, bool (*ok)(char)) {
    size_t b = i;
    while (i < s.size() && ok(s[i])) ++i;
    return i > b;
}
bool dec(char c) { return c >= '0' && c <= '9'; }
bool oct(char c) { return c >= '0' && c <= '7'; }
bool hex(char c) { return dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool sign(std::string_view s, size_t& i) { return i < s.size() && (s[i] == '+' || s[i] == '-') && ++i; }
bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
    for (auto w : words)
        if (s == w) return true;
    return false;
}

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool is_int(std::string_view s) {
    size_t i = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        i = 2;
        return digits(s, i, s[1] == 'o' ? oct : hex) && i == s.size();
    }
    sign(s, i);
    return digits(s, i, dec) && i == s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool is_float(std::string_view s) {
    if (one_of(s, {".nan", ".NaN", ".NAN"})) return true;
    size_t i = 0;
    sign(s, i);
    if (one_of(s.substr(i), {".inf", ".Inf", ".INF"})) return true;
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (!digits(s, i, dec)) return false;
    } else {
        if (!digits(s, i, dec)) return false;
        if (i < s.size() && s[i] == '.') ++i, digits(s, i, dec);
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        sign(s, i);
        if (!digits(s, i, dec)) return false;
    }
    return i == s.size();
}

}  // namespace

ScalarType Node::scalar_type() const {
    if (kind == Kind::Null) return ScalarType::Null;
    if (kind != Kind::Scalar || !plain) return ScalarType::String;
    // YAML 1.2 core schema, as the Go YAML library compose uses resolves it
    // (matched by hand: std::regex made this a third of a small file's load).
    if (one_of(text, {"", "~", "null", "Null", "NULL"})) return ScalarType::Null;
    if (one_of(text, {"true", "True", "TRUE", "false", "False", "FALSE"})) return ScalarType::Bool;
    if (is_int(text)) return ScalarType::Int;
    if (is_float(text)) return ScalarType::Float;
    return ScalarType::String;
}

bool Node::as_bool() const {
    return text == "true" || text == "True" || text == "TRUE";
}

const MapEntry* Node::find_entry(std::string_view key) const {
    for (const auto& e : entries)
        if (e.key == key) return &e;
    return nullptr;
}

const Node* Node::find(std::string_view key) const {
    const MapEntry* e = find_entry(key);
    return e ? &e->value : nullptr;
}

Node* Node::find(std::string_view key) {
    for (auto& e : entries)
        if (e.key == key) return &e.value;
    return nullptr;
}

Node& Node::set(std::string key, Node value, Location key_loc) {
    for (auto& e : entries) {
        if (e.key == key) {
            e.value = std::move(value);
            return e.value;
        }
    }
    if (key_loc.file.empty()) key_loc = value.loc;
    entries.push_back(MapEntry{std::move(key), std::move(key_loc), std::move(value)});
    return entries.back().value;
}

bool Node::erase(std::string_view key) {
    for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (it->key == key) {
            entries.erase(it);
            return true;
        }
    }
    return false;
}

std::string path_join(const std::string& base, const std::string& key) {
    return base.empty() ? key : base + "." + key;
}

std::string path_index(const std::string& base, size_t index) {
    return base + "[" + std::to_string(index) + "]";
}

LoadError::LoadError(const Location& loc, const std::string& path, const std::string& message,
                     std::string hint)
    : Error((loc.str().empty() ? std::string() : loc.str() + ": ") +
                (path.empty() ? std::string() : path + ": ") + message,
            std::move(hint)),
      loc_(loc),
      path_(path) {}

}  // namespace berth::compose
