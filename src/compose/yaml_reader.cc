#include "compose/yaml_reader.h"

#include "base/strings.h"
#include "compose/input_file.h"
#include "compose/load_error.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <sstream>

namespace berth::compose {
namespace {

constexpr int kMaxDepth = 200;  // bounds recursion on hostile input
// Bounds the document once aliases are expanded. yaml-cpp shares an aliased
// node, so `*a` costs nothing to parse, but every pass after (the tree, the
// interpolation, the schema check, JSON) copies it: nine levels of ten aliases
// ("billion laughs") are 10^9 nodes from a few hundred bytes. A million is far
// above any real compose file (100,000 environment entries are 200,000).
constexpr size_t kMaxNodes = 1'000'000;

// yaml-cpp 0.7 (Debian 12) loops forever, allocating, when a flow entry `,`
// stands at the top level after or instead of a document: the parser emits an
// empty document without consuming the token, again and again (yaml-cpp issue
// 1040, fixed upstream in 0.8.1). This pass walks the documents' events without
// building nodes and stops when two empty documents in a row begin at the same
// place, which is the parser making no progress.
Location at(const YAML::Mark& m, const std::string& file) { return Location{file, m.line + 1, m.column + 1}; }

// Also counts the values the document holds once aliases are expanded, from
// the events alone (an alias adds its anchor's size), and stops past kMaxNodes
// or kMaxDepth before any node is built.
struct DocumentProbe : YAML::EventHandler {
    explicit DocumentProbe(const std::string& f) : file(f) {}
    const std::string& file;
    int depth = 0;
    bool root_seen = false;
    bool root_null = false;
    YAML::Mark root_mark;
    size_t expanded = 0;                          // values so far, aliases expanded
    std::vector<std::pair<YAML::anchor_t, size_t>> open;  // collections: anchor, `expanded` at start
    std::unordered_map<YAML::anchor_t, size_t> anchor_size;

    void root(const YAML::Mark& m, bool is_null) {
        if (depth == 0 && !root_seen) {
            root_seen = true;
            root_null = is_null;
            root_mark = m;
        }
    }
    void add(const YAML::Mark& m, size_t n) {
        expanded += n;
        if (expanded > kMaxNodes)
            throw LoadError(at(m, file), "",
                            "the document expands to more than " + std::to_string(kMaxNodes) +
                                " values (YAML aliases copy their anchor at each use)",
                            "use fewer or less nested aliases (*name); split a file this large");
    }
    void scalar(const YAML::Mark& m, YAML::anchor_t a) {
        add(m, 1);
        if (a) anchor_size[a] = 1;
    }
    void start(const YAML::Mark& m, YAML::anchor_t a) {
        root(m, false);
        if (++depth > kMaxDepth)
            throw LoadError(at(m, file), "", "the document nests more than " + std::to_string(kMaxDepth) + " levels deep");
        add(m, 1);
        open.emplace_back(a, expanded - 1);
    }
    void end() {
        --depth;
        if (open.empty()) return;
        auto [a, begin] = open.back();
        open.pop_back();
        if (a) anchor_size[a] = expanded - begin;
    }
    void OnDocumentStart(const YAML::Mark&) override {
        root_seen = false;
        expanded = 0;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t a) override {
        root(m, true);
        scalar(m, a);
    }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
        root(m, false);
        auto it = anchor_size.find(a);  // an anchor still open (`&a [*a]`) counts 1
        add(m, it == anchor_size.end() ? 1 : it->second);
    }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a, const std::string&) override {
        root(m, false);
        scalar(m, a);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                         YAML::EmitterStyle::value) override {
        start(m, a);
    }
    void OnSequenceEnd() override { end(); }
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a, YAML::EmitterStyle::value) override {
        start(m, a);
    }
    void OnMapEnd() override { end(); }
};

// YAML text is Unicode; yaml-cpp passes stray bytes through, and everything
// after the loader (JSON output, labels) needs valid UTF-8.
void check_utf8(const std::string& text, const std::string& filename) {
    auto bad = first_invalid_utf8(text);
    size_t nul = text.find('\0');  // valid UTF-8, but YAML allows no NUL
    if (nul != std::string::npos && (!bad || nul < *bad)) bad = nul;
    if (!bad) return;
    int line = 1, column = 1;
    for (size_t i = 0; i < *bad; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
            ++column;
        }
    }
    if (text[*bad] == '\0')
        throw LoadError(Location{filename, line, column}, "", "the file holds a NUL byte",
                        "a compose file is YAML text in UTF-8 (not UTF-16, not a binary file)");
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[*bad]));
    throw LoadError(Location{filename, line, column}, "",
                    std::string("the file is not valid UTF-8 (byte ") + hex + ")",
                    "save the file as UTF-8");
}

// Throws where the parser would stop making progress, or where aliases expand
// the document past kMaxNodes; returns otherwise, and
// then YAML::LoadAll on the same text ends too (the parser is deterministic).
void probe_documents(const std::string& text, const std::string& filename) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentProbe probe(filename);
    bool last_null = false;
    int last_pos = -1;
    while (parser.HandleNextDocument(probe)) {
        bool stuck = probe.root_seen && probe.root_null && last_null &&
                     probe.root_mark.pos == last_pos;
        if (stuck) {
            const YAML::Mark& m = probe.root_mark;
            std::string what = m.pos >= 0 && static_cast<size_t>(m.pos) < text.size()
                                   ? std::string("`") + text[m.pos] + "`"
                                   : std::string("token");
            throw LoadError(Location{filename, m.line + 1, m.column + 1}, "",
                            "invalid YAML: unexpected " + what + " outside a flow collection",
                            "a `,` separates items only inside [ ] or { }; quote the value "
                            "or remove it");
        }
        last_null = probe.root_seen && probe.root_null;
        last_pos = probe.root_seen ? probe.root_mark.pos : -1;
        probe.root_seen = false;
    }
}

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
            std::unordered_set<std::string> keys;  // n.find() per key would be quadratic
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
                if (!keys.insert(key).second)
                    throw LoadError(kloc, "", "duplicate key \"" + key + "\"",
                                    "each key may appear once in a mapping; remove one of them");
                n.entries.push_back(MapEntry{key, kloc, convert(kv.second, depth + 1)});
            }
            // Earlier merge sources win over later ones; explicit keys win over all.
            for (auto& src : merged)
                for (auto& e : src.entries)
                    if (keys.insert(e.key).second) n.entries.push_back(std::move(e));
            return n;
        }
        }
        return Node{};
    }
};

}  // namespace

Node parse_yaml(const std::string& text, const std::string& filename) {
    std::vector<YAML::Node> docs;
    check_utf8(text, filename);
    try {
        // The probe costs a second scan: it is needed only where the parser can
        // stall (at a `,`) or aliases (`*`) can multiply the document.
        if (text.find_first_of(",*") != std::string::npos) probe_documents(text, filename);
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
    return parse_yaml(read_input_file(path, "compose file"), path);
}

}  // namespace berth::compose
