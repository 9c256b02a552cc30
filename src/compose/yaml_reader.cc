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

Location at(const YAML::Mark& m, const std::string& file) {
    if (m.is_null()) return Location{file, 0, 0};
    return Location{file, m.line + 1, m.column + 1};
}

// Builds berth's Node tree straight from the parser's events, in one pass:
// no YAML::Node is made (the node API cost a second walk and most of the
// allocations of a load). On the way it
// - counts the values the document holds once aliases are expanded (an alias
//   adds its anchor's size) and stops past kMaxNodes or kMaxDepth before the
//   copy is made;
// - applies `<<` merge keys (explicit keys win, then earlier sources) and
//   refuses duplicate and non-string keys, with the key's position.
struct TreeBuilder : YAML::EventHandler {
    explicit TreeBuilder(const std::string& f) : file(f) {}

    struct Frame {
        Node node;
        YAML::anchor_t anchor = 0;
        size_t begin = 0;                 // `expanded` when the collection opened
        bool have_key = false;            // a map frame holds a key awaiting its value
        std::string key;
        Location key_loc;
        bool merge_key = false;
        std::vector<Node> merged;         // `<<` sources, applied after explicit keys
        std::unordered_set<std::string> keys;
    };
    struct Anchored {
        Node node;
        size_t size = 0;
    };

    const std::string& file;
    std::vector<Frame> stack;
    std::unordered_map<YAML::anchor_t, Anchored> anchors;
    std::unordered_set<YAML::anchor_t> open_anchors;
    size_t expanded = 0;
    int documents = 0;
    std::optional<Node> first;            // the first document's root
    Location second_doc;                  // where a second document begins
    // For the stall check (see parse_yaml): the current document's root.
    bool root_seen = false, root_null = false;
    YAML::Mark root_mark;

    void add(const YAML::Mark& m, size_t n) {
        expanded += n;
        if (expanded > kMaxNodes)
            throw LoadError(at(m, file), "",
                            "the document expands to more than " + std::to_string(kMaxNodes) +
                                " values (YAML aliases copy their anchor at each use)",
                            "use fewer or less nested aliases (*name); split a file this large");
    }
    void root(const YAML::Mark& m, bool is_null) {
        if (!stack.empty() || root_seen) return;
        root_seen = true;
        root_null = is_null;
        root_mark = m;
        if (documents == 2) second_doc = at(m, file);
    }
    static void set_tag(Node& n, const std::string& tag) {
        if (tag == "!reset" || tag == "!override") n.tag = tag;
    }
    // A map expecting a key refuses a collection there.
    void check_key_position(const YAML::Mark& m, const char* what) {
        if (!stack.empty() && stack.back().node.is_map() && !stack.back().have_key)
            throw LoadError(at(m, file), "", std::string("a mapping key must be a plain string, not ") + what);
    }
    // A finished value goes to its parent (or becomes the document).
    void place(Node n, const YAML::Mark& m) {
        if (stack.empty()) {
            if (documents == 1) first = std::move(n);
            return;
        }
        Frame& f = stack.back();
        if (f.node.is_seq()) {
            f.node.items.push_back(std::move(n));
            return;
        }
        if (!f.have_key) {  // n is a key
            if (!n.is_scalar())
                throw LoadError(at(m, file), "", std::string("a mapping key must be a plain string, not ") +
                                                     (n.is_map() ? "a mapping" : n.is_seq() ? "a list" : "nothing (null)"));
            f.have_key = true;
            f.merge_key = n.text == "<<" && n.plain && n.tag.empty();
            f.key = std::move(n.text);
            f.key_loc = n.loc;
            return;
        }
        f.have_key = false;
        if (f.merge_key) {
            if (n.is_map()) {
                f.merged.push_back(std::move(n));
            } else if (n.is_seq()) {
                for (auto& item : n.items) {
                    if (!item.is_map()) throw LoadError(item.loc, "", "a `<<` merge list may only hold mappings");
                    f.merged.push_back(std::move(item));
                }
            } else {
                throw LoadError(n.loc, "", "`<<` merges a mapping (an alias like *defaults)");
            }
            return;
        }
        if (!f.keys.insert(f.key).second)
            throw LoadError(f.key_loc, "", "duplicate key \"" + f.key + "\"",
                            "each key may appear once in a mapping; remove one of them");
        f.node.entries.push_back(MapEntry{std::move(f.key), f.key_loc, std::move(n)});
    }
    void remember(YAML::anchor_t a, const Node& n, size_t size) {
        if (a) anchors[a] = Anchored{n, size};
    }
    void leaf(Node n, const YAML::Mark& m, YAML::anchor_t a) {
        add(m, 1);
        remember(a, n, 1);
        place(std::move(n), m);
    }
    void open(Node n, const YAML::Mark& m, YAML::anchor_t a) {
        root(m, false);
        if (stack.size() >= size_t(kMaxDepth))
            throw LoadError(at(m, file), "", "the document nests more than " + std::to_string(kMaxDepth) + " levels deep");
        add(m, 1);
        if (a) open_anchors.insert(a);
        Frame f;
        f.node = std::move(n);
        f.anchor = a;
        f.begin = expanded - 1;
        stack.push_back(std::move(f));
    }
    void close(const YAML::Mark& m) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        for (auto& src : f.merged)
            for (auto& e : src.entries)
                if (f.keys.insert(e.key).second) f.node.entries.push_back(std::move(e));
        if (f.anchor) {
            open_anchors.erase(f.anchor);
            remember(f.anchor, f.node, expanded - f.begin);
        }
        place(std::move(f.node), m);
    }

    void OnDocumentStart(const YAML::Mark&) override {
        ++documents;
        root_seen = false;
        expanded = 0;
        anchors.clear();
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t a) override {
        root(m, true);
        Node n;
        n.loc = at(m, file);
        leaf(std::move(n), m, a);
    }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
        root(m, false);
        if (open_anchors.count(a))
            throw LoadError(at(m, file), "", "an alias refers to the node that holds it",
                            "an anchor (&name) can be used (*name) only after its node ends");
        auto it = anchors.find(a);
        if (it == anchors.end()) throw LoadError(at(m, file), "", "an alias names no anchor");
        add(m, it->second.size);
        place(it->second.node, m);  // as a key, only a scalar's alias is taken
    }
    void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, const std::string& value) override {
        root(m, false);
        // yaml-cpp tags a plain scalar "?" and a quoted one "!"; a local tag
        // such as !reset stands on a plain one.
        bool plain = tag == "?" || tag == "!reset" || tag == "!override";
        Node n = Node::scalar(value, plain, at(m, file));
        set_tag(n, tag);
        leaf(std::move(n), m, a);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a,
                         YAML::EmitterStyle::value) override {
        check_key_position(m, "a list");
        Node n = Node::seq(at(m, file));
        set_tag(n, tag);
        open(std::move(n), m, a);
    }
    void OnSequenceEnd() override { close(YAML::Mark::null_mark()); }
    void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, YAML::EmitterStyle::value) override {
        check_key_position(m, "a mapping");
        Node n = Node::map(at(m, file));
        set_tag(n, tag);
        open(std::move(n), m, a);
    }
    void OnMapEnd() override { close(YAML::Mark::null_mark()); }
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

}  // namespace

Node parse_yaml(const std::string& text, const std::string& filename) {
    check_utf8(text, filename);
    TreeBuilder b(filename);
    try {
        std::istringstream in(text);
        YAML::Parser parser(in);
        // yaml-cpp 0.7 (Debian 12) loops forever, allocating, when a flow entry
        // `,` stands at the top level after or instead of a document: the
        // parser emits an empty document without consuming the token, again and
        // again (yaml-cpp issue 1040, fixed upstream in 0.8.1). Two empty
        // documents in a row that begin at the same place are that stall.
        bool last_null = false;
        int last_pos = -1;
        while (parser.HandleNextDocument(b)) {
            bool stuck = b.root_seen && b.root_null && last_null && b.root_mark.pos == last_pos;
            if (stuck) {
                const YAML::Mark& m = b.root_mark;
                std::string what = m.pos >= 0 && static_cast<size_t>(m.pos) < text.size()
                                       ? std::string("`") + text[m.pos] + "`"
                                       : std::string("token");
                throw LoadError(at(m, filename), "",
                                "invalid YAML: unexpected " + what + " outside a flow collection",
                                "a `,` separates items only inside [ ] or { }; quote the value "
                                "or remove it");
            }
            last_null = b.root_seen && b.root_null;
            last_pos = b.root_seen ? b.root_mark.pos : -1;
            b.root_seen = false;
        }
    } catch (const YAML::Exception& e) {
        throw LoadError(at(e.mark, filename), "", "invalid YAML: " + e.msg);
    }
    if (b.documents > 1)
        throw LoadError(b.second_doc, "",
                        "a compose file holds one YAML document, found " + std::to_string(b.documents),
                        "remove the `---` separators or split the file");
    if (!b.first) {
        Node empty;
        empty.loc = Location{filename, 1, 1};
        return empty;
    }
    return std::move(*b.first);
}

Node read_yaml_file(const std::string& path) {
    return parse_yaml(read_input_file(path, "compose file"), path);
}

}  // namespace berth::compose
