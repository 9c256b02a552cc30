// compose::Node — the loader's own document tree.
//
// The YAML reader turns each compose file into Nodes once; interpolation,
// `extends`, `include`, merging and validation all work on Nodes, and the
// normalizer turns them into the typed model (model.h). Every Node remembers
// where it came from (file, line, column, 1-based), so any error later can
// point at the exact spot. yaml-cpp never appears outside yaml_reader.cc.
//
// Scalars keep their source text. `plain` is true for an unquoted scalar
// whose YAML 1.2 core type (null, bool, int, float) is resolved by
// scalar_type(); a quoted scalar is always a string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::compose {

struct Location {
    std::string file;
    int line = 0;  // 1-based; 0 when unknown
    int column = 0;
    std::string str() const;  // "file:line:col" (or just "file")
};

enum class ScalarType { Null, Bool, Int, Float, String };

struct Node;

struct MapEntry;

struct Node {
    enum class Kind { Null, Scalar, Map, Seq };

    Kind kind = Kind::Null;
    std::string text;  // the scalar's text (Scalar only)
    bool plain = true; // unquoted scalar: type resolved by scalar_type()
    std::string tag;   // a local tag such as "!reset" or "!override"; "" when none
    std::vector<MapEntry> entries;  // Map, in document order
    std::vector<Node> items;        // Seq
    Location loc;

    static Node scalar(std::string text, bool plain = false, Location loc = {});
    static Node map(Location loc = {});
    static Node seq(Location loc = {});

    bool is_null() const { return kind == Kind::Null; }
    bool is_scalar() const { return kind == Kind::Scalar; }
    bool is_map() const { return kind == Kind::Map; }
    bool is_seq() const { return kind == Kind::Seq; }

    ScalarType scalar_type() const;  // Null for a Null node; String unless plain
    bool as_bool() const;            // for Bool scalars ("true"/"True"/"TRUE"/…)

    // Map access. find() returns nullptr when the key is absent.
    const Node* find(std::string_view key) const;
    Node* find(std::string_view key);
    const MapEntry* find_entry(std::string_view key) const;
    // Sets key to value (replacing an existing entry in place, else appending).
    Node& set(std::string key, Node value, Location key_loc = {});
    bool erase(std::string_view key);
};

struct MapEntry {
    std::string key;
    Location key_loc;
    Node value;
};

// A key path for error messages: services.web.ports[1]
std::string path_join(const std::string& base, const std::string& key);
std::string path_index(const std::string& base, size_t index);

}  // namespace berth::compose
