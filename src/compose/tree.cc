#include "compose/tree.h"

#include "compose/load_error.h"

#include <regex>

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

ScalarType Node::scalar_type() const {
    if (kind == Kind::Null) return ScalarType::Null;
    if (kind != Kind::Scalar || !plain) return ScalarType::String;
    // YAML 1.2 core schema, as the Go YAML library compose uses resolves it.
    static const std::regex null_re("^(~|null|Null|NULL|)$");
    static const std::regex bool_re("^(true|True|TRUE|false|False|FALSE)$");
    static const std::regex int_re("^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$");
    static const std::regex float_re(
        "^([-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$");
    if (std::regex_match(text, null_re)) return ScalarType::Null;
    if (std::regex_match(text, bool_re)) return ScalarType::Bool;
    if (std::regex_match(text, int_re)) return ScalarType::Int;
    if (std::regex_match(text, float_re)) return ScalarType::Float;
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
