#include "compose/merge.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace berth::compose {
namespace {

// Keys whose value, in either list ("K=V") or map form, merges as a mapping.
const std::set<std::string> kDictKeys = {"environment", "labels", "sysctls", "annotations",
                                         "args", "driver_opts", "options"};
// Keys that merge as maps but may be written as lists of names.
const std::set<std::string> kNameMapKeys = {"depends_on", "networks"};
// Keys whose value replaces the earlier one.
const std::set<std::string> kReplaceKeys = {"command", "entrypoint", "test"};

// Sets key in m like Node::set (a repeated key keeps its first place), through
// an index of m's keys: Node::set scans every entry, quadratic on 100,000 keys.
class MapBuilder {
public:
    explicit MapBuilder(Node& m) : m_(m) { reindex(); }
    Node* find(const std::string& key) {
        auto it = at_.find(key);
        return it == at_.end() ? nullptr : &m_.entries[it->second].value;
    }
    void set(const std::string& key, Node value, const Location& key_loc) {
        if (Node* v = find(key)) {
            *v = std::move(value);
            return;
        }
        at_.emplace(key, m_.entries.size());
        m_.entries.push_back(MapEntry{key, key_loc, std::move(value)});
    }
    void erase(const std::string& key) {
        if (m_.erase(key)) reindex();
    }

private:
    void reindex() {
        at_.clear();
        for (size_t i = 0; i < m_.entries.size(); ++i) at_.emplace(m_.entries[i].key, i);
    }
    Node& m_;
    std::unordered_map<std::string, size_t> at_;
};

// A list of KEY=VALUE strings as a mapping.
Node dict_as_map(const Node& n, char sep = '=') {
    if (!n.is_seq()) return n;
    Node m = Node::map(n.loc);
    MapBuilder b(m);
    for (const auto& it : n.items) {
        if (!it.is_scalar()) return n;  // not our shape: let the validator complain
        size_t eq = it.text.find(sep);
        if (eq == std::string::npos) {
            Node null;
            null.loc = it.loc;
            b.set(it.text, null, it.loc);
        } else {
            b.set(it.text.substr(0, eq), Node::scalar(it.text.substr(eq + 1), false, it.loc), it.loc);
        }
    }
    return m;
}

Node names_as_map(const Node& n) {
    if (!n.is_seq()) return n;
    Node m = Node::map(n.loc);
    MapBuilder b(m);
    for (const auto& it : n.items) {
        if (!it.is_scalar()) return n;
        Node null;
        null.loc = it.loc;
        b.set(it.text, null, it.loc);
    }
    return m;
}

void merge_value(Node& base, const Node& over, const std::string& key);

void merge_maps(Node& base, const Node& over) {
    MapBuilder b(base);
    for (const auto& e : over.entries) {
        if (e.value.tag == "!reset") {
            b.erase(e.key);
            continue;
        }
        Node* existing = b.find(e.key);
        if (!existing || e.value.tag == "!override") {
            Node v = e.value;
            v.tag.clear();
            b.set(e.key, std::move(v), e.key_loc);
            continue;
        }
        merge_value(*existing, e.value, e.key);
    }
}

void merge_value(Node& base, const Node& over, const std::string& key) {
    if (kReplaceKeys.count(key)) {
        base = over;
        return;
    }
    if (kDictKeys.count(key) && (base.is_seq() || over.is_seq() || base.is_map())) {
        Node b = dict_as_map(base);
        Node o = dict_as_map(over);
        if (b.is_map() && o.is_map()) {
            merge_maps(b, o);
            base = b;
            return;
        }
    }
    if (kNameMapKeys.count(key)) {
        Node b = names_as_map(base);
        Node o = names_as_map(over);
        if (b.is_map() && o.is_map()) {
            merge_maps(b, o);
            base = b;
            return;
        }
    }
    if (key == "logging" && base.is_map() && over.is_map()) {
        const Node* bd = base.find("driver");
        const Node* od = over.find("driver");
        if (bd && od && bd->text != od->text) {  // another driver: its options do not mix
            base = over;
            return;
        }
    }
    if (key == "build" && (base.is_scalar() || over.is_scalar())) {
        // `build: ./dir` is `build: {context: ./dir}`.
        auto as_map = [](const Node& n) {
            if (!n.is_scalar()) return n;
            Node m = Node::map(n.loc);
            m.set("context", n, n.loc);
            return m;
        };
        Node b = as_map(base);
        merge_maps(b, as_map(over));
        base = b;
        return;
    }
    if (base.is_map() && over.is_map()) {
        merge_maps(base, over);
    } else if (base.is_seq() && over.is_seq()) {
        // Appended; a scalar already present is not repeated.
        for (const auto& it : over.items) {
            bool dup = it.is_scalar() && std::any_of(base.items.begin(), base.items.end(), [&](const Node& b) {
                           return b.is_scalar() && b.text == it.text;
                       });
            if (!dup) base.items.push_back(it);
        }
    } else {
        base = over;
    }
}

}  // namespace

void merge_service(Node& base, const Node& over) {
    if (base.is_map() && over.is_map()) merge_maps(base, over);
    else if (!over.is_null() || !base.is_map()) base = over;
}

void merge_documents(Node& base, const Node& over) {
    if (over.is_null()) return;
    if (!base.is_map() || !over.is_map()) {
        base = over;
        return;
    }
    merge_maps(base, over);
}

}  // namespace berth::compose
