#include "compose/yaml_reader.h"

#include "compose/load_error.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace berth::compose {
namespace {

constexpr int kMaxDepth = 200;  // bounds recursion on hostile input

Location loc_of(const YAML::Node& n, const std::string& file) {
    YAML::Mark m = n.Mark();
    if (m.is_null()) return Location{file, 0, 0};
    return Location{file, m.line + 1, m.column + 1};
}

struct Converter {
    const std::string& file;

    Node convert(const YAML::Node& y, int depth) {
        Node n = convert_untagged(y, depth);
        const std::string& tag = y.Tag();
        if (tag == "!reset" || tag == "!override") n.tag = tag;
        return n;
    }

    Node convert_untagged(const YAML::Node& y, int depth) {
        Location loc = loc_of(y, file);
        if (depth > kMaxDepth) throw LoadError(loc, "", "document nests too deeply");
        switch (y.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null: {
            Node n;
            n.loc = loc;
            return n;
        }
        case YAML::NodeType::Scalar: {
            // yaml-cpp tags a plain scalar "?" and a quoted one "!".
            // A plain scalar reads "?" (or a local tag such as !reset); a quoted one "!".
            const std::string& tag = y.Tag();
            bool plain = tag == "?" || tag == "!reset" || tag == "!override";
            return Node::scalar(y.Scalar(), plain, loc);
        }
        case YAML::NodeType::Sequence: {
            Node n = Node::seq(loc);
            n.items.reserve(y.size());
            for (const auto& item : y) n.items.push_back(convert(item, depth + 1));
            return n;
        }
        case YAML::NodeType::Map: {
            Node n = Node::map(loc);
            std::vector<Node> merged;  // `<<` sources, applied after explicit keys
            for (const auto& kv : y) {
                const YAML::Node& k = kv.first;
                Location kloc = loc_of(k, file);
                if (!k.IsScalar())
                    throw LoadError(kloc, "", "a mapping key must be a plain string, not a " +
                                                  std::string(k.IsMap() ? "mapping" : "list"));
                std::string key = k.Scalar();
                if (key == "<<" && k.Tag() == "?") {
                    const YAML::Node& v = kv.second;
                    if (v.IsMap()) {
                        merged.push_back(convert(v, depth + 1));
                    } else if (v.IsSequence()) {
                        for (const auto& item : v) {
                            if (!item.IsMap())
                                throw LoadError(loc_of(item, file), "",
                                                "a `<<` merge list may only hold mappings");
                            merged.push_back(convert(item, depth + 1));
                        }
                    } else {
                        throw LoadError(loc_of(v, file), "",
                                        "`<<` merges a mapping (an alias like *defaults)");
                    }
                    continue;
                }
                if (n.find(key))
                    throw LoadError(kloc, "", "duplicate key \"" + key + "\"",
                                    "each key may appear once in a mapping; remove one of them");
                n.entries.push_back(MapEntry{key, kloc, convert(kv.second, depth + 1)});
            }
            // Earlier merge sources win over later ones; explicit keys win over all.
            for (auto& src : merged)
                for (auto& e : src.entries)
                    if (!n.find(e.key)) n.entries.push_back(std::move(e));
            return n;
        }
        }
        return Node{};
    }
};

}  // namespace

Node parse_yaml(const std::string& text, const std::string& filename) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        Location loc{filename, e.mark.is_null() ? 0 : e.mark.line + 1,
                     e.mark.is_null() ? 0 : e.mark.column + 1};
        throw LoadError(loc, "", "invalid YAML: " + e.msg);
    }
    if (docs.empty()) {
        Node empty;
        empty.loc = Location{filename, 1, 1};
        return empty;
    }
    if (docs.size() > 1)
        throw LoadError(loc_of(docs[1], filename), "",
                        "a compose file holds one YAML document, found " +
                            std::to_string(docs.size()),
                        "remove the `---` separators or split the file");
    Converter c{filename};
    return c.convert(docs[0], 0);
}

Node read_yaml_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw LoadError(Location{path, 0, 0}, "", std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_yaml(ss.str(), path);
}

}  // namespace berth::compose
