#include "compose/interpolate.h"

#include "base/strings.h"

#include "compose/load_error.h"

#include <spdlog/spdlog.h>

#include <set>

namespace berth::compose {
namespace {

bool name_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

class Expander {
public:
    Expander(const Lookup& lookup, const UnsetWarning& warn) : lookup_(lookup), warn_(warn) {}

    // Expands text in full.
    std::string expand(std::string_view text, int depth = 0) {
        if (depth > 32) throw InterpolationError("variables nested too deeply");
        std::string out;
        size_t i = 0;
        while (i < text.size()) {
            char c = text[i];
            if (c != '$') { out += c; ++i; continue; }
            if (i + 1 >= text.size())
                throw InterpolationError(invalid(text, "a lone \"$\" at the end; write \"$$\" for a literal $"));
            char n = text[i + 1];
            if (n == '$') { out += '$'; i += 2; continue; }
            if (name_start(n)) {
                size_t j = i + 1;
                while (j < text.size() && name_char(text[j])) ++j;
                out += value_or_blank(std::string(text.substr(i + 1, j - i - 1)));
                i = j;
                continue;
            }
            if (n == '{') {
                size_t close = matching_brace(text, i + 1);
                if (close == std::string_view::npos)
                    throw InterpolationError(invalid(text, "unterminated \"${\"; close it with \"}\""));
                out += braced(text, text.substr(i + 2, close - i - 2), depth);
                i = close + 1;
                continue;
            }
            throw InterpolationError(invalid(text, std::string("\"$") + n +
                                                   "\" is not a variable; write \"$$\" for a literal $"));
        }
        return out;
    }

private:
    static std::string invalid(std::string_view text, const std::string& why) {
        return "invalid interpolation format in \"" + std::string(text) + "\": " + why;
    }

    // text[open] == '{'; returns the index of the matching '}', honouring nested ${...}.
    static size_t matching_brace(std::string_view text, size_t open) {
        int level = 0;
        for (size_t k = open; k < text.size(); ++k) {
            if (text[k] == '$' && k + 1 < text.size() && text[k + 1] == '$') { ++k; continue; }
            if (text[k] == '$' && k + 1 < text.size() && text[k + 1] == '{') { ++level; ++k; continue; }
            if (k == open) { ++level; continue; }
            if (text[k] == '}') {
                if (--level == 0) return k;
            }
        }
        return std::string_view::npos;
    }

    // The variable's value; a value that is not UTF-8 would corrupt the
    // project's JSON and labels later, so it stops here with its name.
    std::optional<std::string> get(const std::string& name) {
        std::optional<std::string> v = lookup_(name);
        if (v && first_invalid_utf8(*v))
            throw InterpolationError("the value of variable " + name + " is not valid UTF-8");
        return v;
    }

    std::string value_or_blank(const std::string& name) {
        if (auto v = get(name)) return *v;
        if (warn_) warn_(name);
        return {};
    }

    std::string braced(std::string_view whole, std::string_view body, int depth) {
        size_t j = 0;
        while (j < body.size() && name_char(body[j])) ++j;
        if (j == 0 || !name_start(body[0]))
            throw InterpolationError(invalid(whole, "\"${" + std::string(body) +
                                                    "}\" does not start with a variable name"));
        std::string name(body.substr(0, j));
        if (j == body.size()) return value_or_blank(name);
        bool colon = false;
        if (body[j] == ':') { colon = true; ++j; }
        if (j >= body.size() || (body[j] != '-' && body[j] != '?' && body[j] != '+'))
            throw InterpolationError(invalid(whole, "unexpected \"" + std::string(body.substr(name.size())) +
                                                    "\" after ${" + name +
                                                    "; expected }, :-, -, :?, ?, :+ or +"));
        char op = body[j];
        std::string_view arg = body.substr(j + 1);
        std::optional<std::string> v = get(name);
        bool set = v.has_value();
        bool usable = colon ? (set && !v->empty()) : set;
        switch (op) {
        case '-':
            return usable ? *v : expand(arg, depth + 1);
        case '+':
            return usable ? expand(arg, depth + 1) : std::string();
        default: {  // '?'
            if (usable) return *v;
            std::string msg = expand(arg, depth + 1);
            throw InterpolationError("required variable " + name + " is missing a value" +
                                     (msg.empty() ? std::string() : ": " + msg));
        }
        }
    }

    const Lookup& lookup_;
    const UnsetWarning& warn_;
};

void walk(Node& n, const Lookup& lookup, const UnsetWarning& warn, const std::string& path) {
    switch (n.kind) {
    case Node::Kind::Scalar:
        if (n.text.find('$') == std::string::npos) return;
        try {
            n.text = Expander(lookup, warn).expand(n.text);
        } catch (const InterpolationError& e) {
            throw LoadError(n.loc, path, e.what());
        }
        return;
    case Node::Kind::Map:
        for (auto& e : n.entries) walk(e.value, lookup, warn, path_join(path, e.key));
        return;
    case Node::Kind::Seq:
        for (size_t i = 0; i < n.items.size(); ++i) walk(n.items[i], lookup, warn, path_index(path, i));
        return;
    case Node::Kind::Null:
        return;
    }
}

}  // namespace

std::string interpolate(std::string_view text, const Lookup& lookup, const UnsetWarning& warn) {
    return Expander(lookup, warn).expand(text);
}

void interpolate_tree(Node& root, const Lookup& lookup, const std::string& path) {
    std::set<std::string> warned;
    UnsetWarning warn = [&](const std::string& name) {
        if (warned.insert(name).second)
            spdlog::warn("The \"{}\" variable is not set. Defaulting to a blank string.", name);
    };
    walk(root, lookup, warn, path);
}

}  // namespace berth::compose
