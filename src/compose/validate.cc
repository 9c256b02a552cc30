#include "compose/validate.h"

#include "base/strings.h"
#include "compose/load_error.h"
#include "compose/node_read.h"

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <regex>
#include <set>

namespace berth::compose {

extern const std::string_view kComposeSchema;

namespace {

using json = nlohmann::json;

json to_json(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Null:
        return nullptr;
    case Node::Kind::Scalar:
        switch (n.scalar_type()) {
        case ScalarType::Null: return nullptr;
        case ScalarType::Bool: return n.as_bool();
        case ScalarType::Int:
            // Any integer-looking scalar; its exact value does not matter to the schema.
            return 0;
        case ScalarType::Float: return 0.5;
        case ScalarType::String: return n.text;
        }
        return n.text;
    case Node::Kind::Map: {
        json o = json::object();
        for (const auto& e : n.entries) o[e.key] = to_json(e.value);
        return o;
    }
    case Node::Kind::Seq: {
        json a = json::array();
        for (const auto& i : n.items) a.push_back(to_json(i));
        return a;
    }
    }
    return nullptr;
}

struct Compiled {
    json doc;
    valijson::Schema schema;
    Compiled() : doc(json::parse(kComposeSchema)) {
        valijson::SchemaParser parser;
        valijson::adapters::NlohmannJsonAdapter adapter(doc);
        parser.populateSchema(adapter, schema);
    }
};

const Compiled& compiled() {
    static const Compiled c;
    return c;
}

// The schema JSON for a "#/definitions/x" reference.
const json* resolve_ref(const json& root, const json& s) {
    const json* cur = &s;
    for (int guard = 0; guard < 16 && cur->is_object() && cur->contains("$ref"); ++guard) {
        std::string ref = (*cur)["$ref"].get<std::string>();
        if (ref.rfind("#/", 0) != 0) return cur;
        json::json_pointer ptr(ref.substr(1));
        if (!root.contains(ptr)) return cur;
        cur = &root.at(ptr);
    }
    return cur;
}

// Every subschema that may apply at path[idx..]: properties, patternProperties,
// additionalProperties and items are followed; $ref, oneOf, anyOf, allOf are expanded.
void schemas_at(const json& root, const json& s0, const std::vector<std::string>& path, size_t idx,
                std::vector<const json*>& out, int depth = 0) {
    if (depth > 64) return;
    const json* s = resolve_ref(root, s0);
    if (!s->is_object()) return;
    if (idx == path.size()) out.push_back(s);
    for (const char* comb : {"oneOf", "anyOf", "allOf"})
        if (auto it = s->find(comb); it != s->end() && it->is_array())
            for (const auto& alt : *it) schemas_at(root, alt, path, idx, out, depth + 1);
    if (idx == path.size()) return;
    const std::string& key = path[idx];
    bool matched = false;
    if (auto p = s->find("properties"); p != s->end() && p->contains(key)) {
        schemas_at(root, (*p)[key], path, idx + 1, out, depth + 1);
        matched = true;
    }
    if (auto pp = s->find("patternProperties"); pp != s->end()) {
        for (const auto& [pattern, sub] : pp->items()) {
            try {
                if (std::regex_search(key, std::regex(pattern))) {
                    schemas_at(root, sub, path, idx + 1, out, depth + 1);
                    matched = true;
                }
            } catch (const std::regex_error&) {
            }
        }
    }
    if (!matched)
        if (auto ap = s->find("additionalProperties"); ap != s->end() && ap->is_object())
            schemas_at(root, *ap, path, idx + 1, out, depth + 1);
    if (auto items = s->find("items"); items != s->end() && items->is_object())
        schemas_at(root, *items, path, idx + 1, out, depth + 1);
}

std::string describe(const Node& n) {
    if (!n.is_scalar()) return nodes::kind_name(n);
    switch (n.scalar_type()) {
    case ScalarType::Null: return "nothing (null)";
    case ScalarType::Bool: return "the boolean " + n.text;
    case ScalarType::Int:
    case ScalarType::Float: return "the number " + n.text;
    case ScalarType::String: return "the string \"" + n.text + "\"";
    }
    return "\"" + n.text + "\"";
}

std::string type_words(const json& s) {
    auto one = [](const std::string& t) -> std::string {
        if (t == "object") return "a mapping";
        if (t == "array") return "a list";
        if (t == "integer") return "an integer";
        if (t == "number") return "a number";
        if (t == "boolean") return "a boolean (true or false)";
        if (t == "null") return "nothing";
        return "a " + t;
    };
    auto it = s.find("type");
    if (it == s.end()) return {};
    if (it->is_string()) return one(it->get<std::string>());
    std::vector<std::string> words;
    for (const auto& t : *it) words.push_back(one(t.get<std::string>()));
    return join(words, " or ");
}

struct Violation {
    std::vector<std::string> path;  // key path components
    std::string description;        // valijson's text
    int rank = 0;                   // higher = more specific
};

int rank_of(const std::string& d) {
    if (d.rfind("Object contains a property", 0) == 0) return 5;
    if (d.rfind("Missing required property", 0) == 0) return 4;
    if (d.rfind("Failed to match against any enum", 0) == 0) return 3;
    if (d.rfind("Failed to match regex", 0) == 0) return 3;
    if (d.rfind("Value type not permitted", 0) == 0) return 2;
    if (d.rfind("Failed to validate", 0) == 0 || d.rfind("Cannot validate", 0) == 0) return 0;
    return 1;
}

// The last 'quoted' word of a valijson description.
std::string quoted_from(const std::string& d, char q) {
    size_t b = d.rfind(q);
    if (b == std::string::npos || b == 0) return {};
    size_t a = d.rfind(q, b - 1);
    if (a == std::string::npos) return {};
    return d.substr(a + 1, b - a - 1);
}

[[noreturn]] void report(const Node& root, const Violation& v) {
    const json& sroot = compiled().doc;
    // Walk the document to the failing node, building the printable key path.
    const Node* node = &root;
    std::string kp;
    for (const auto& c : v.path) {
        if (node->is_map()) {
            const Node* next = node->find(c);
            if (!next) break;
            kp = path_join(kp, c);
            node = next;
        } else if (node->is_seq()) {
            size_t i = std::stoul(c);
            if (i >= node->items.size()) break;
            kp = path_index(kp, i);
            node = &node->items[i];
        } else {
            break;
        }
    }
    std::vector<const json*> candidates;
    schemas_at(sroot, sroot, v.path, 0, candidates);
    std::string expected;
    for (const json* s : candidates)
        if (auto d = s->find("description"); d != s->end()) { expected = d->get<std::string>(); break; }
    if (expected.empty())
        for (const json* s : candidates)
            if (expected = type_words(*s); !expected.empty()) break;

    const std::string& d = v.description;
    if (d.rfind("Object contains a property", 0) == 0) {
        std::string key = quoted_from(d, '\'');
        std::vector<std::string> known;
        for (const json* s : candidates)
            if (auto p = s->find("properties"); p != s->end())
                for (const auto& [k, _] : p->items()) known.push_back(k);
        const MapEntry* entry = node->is_map() ? node->find_entry(key) : nullptr;
        Location loc = entry ? entry->key_loc : node->loc;
        std::string where = path_join(kp, key);
        if (known.empty())
            throw LoadError(loc, where, "invalid name \"" + key + "\"",
                            expected.empty() ? std::string() : "expected " + expected);
        std::string hint;
        if (auto best = closest_match(key, known); !best.empty())
            hint = "did you mean \"" + best + "\"?";
        else if (key.rfind("x-", 0) != 0)
            hint = "extension keys must start with \"x-\"";
        throw LoadError(loc, where, "unknown key \"" + key + "\"", hint);
    }
    if (d.rfind("Missing required property", 0) == 0)
        throw LoadError(node->loc, kp, "missing required key \"" + quoted_from(d, '\'') + "\"",
                        expected.empty() ? std::string() : "expected " + expected);
    if (d.rfind("Failed to match against any enum", 0) == 0 || d.rfind("Failed to match regex", 0) == 0)
        throw LoadError(node->loc, kp, "invalid value " + (node->is_scalar() ? "\"" + node->text + "\"" : describe(*node)) + (expected.empty() ? "" : ": expected " + expected));
    if (!expected.empty())
        throw LoadError(node->loc, kp, "expected " + expected + ", got " + describe(*node));
    throw LoadError(node->loc, kp, d);
}

}  // namespace

std::string_view compose_schema() { return kComposeSchema; }

void validate(const Node& root, const ValidMemo& memo) {
    if (!root.is_map())
        throw LoadError(root.loc, "", "a compose file must be a mapping with a `services` key, not " + describe(root));
    json doc = to_json(root);
    // The verdict depends on `doc` alone (to_json keeps every key, type and string the schema
    // looks at), so its text is the memo's key.
    std::string canonical;
    if (memo.known_valid) {
        canonical = doc.dump();
        if (memo.known_valid(canonical)) return;
    }
    const Compiled& c = compiled();
    valijson::adapters::NlohmannJsonAdapter target(doc);
    valijson::Validator validator;
    valijson::ValidationResults results;
    if (validator.validate(c.schema, target, &results)) {
        if (memo.remember) memo.remember(canonical.empty() ? doc.dump() : canonical);
        return;
    }

    std::optional<Violation> best;
    valijson::ValidationResults::Error err;
    while (results.popError(err)) {
        Violation v;
        for (const auto& part : err.context) {
            if (part == "<root>") continue;
            if (part.size() >= 2 && part.front() == '[' && part.back() == ']')
                v.path.push_back(part.substr(1, part.size() - 2));
            else
                v.path.push_back(part);
        }
        v.description = err.description;
        v.rank = rank_of(err.description);
        if (!best || v.path.size() > best->path.size() ||
            (v.path.size() == best->path.size() && v.rank > best->rank))
            best = std::move(v);
    }
    if (!best) throw LoadError(root.loc, "", "the file does not match the compose schema");
    report(root, *best);
}

}  // namespace berth::compose
