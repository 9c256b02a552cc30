#include "compose/dotenv.h"

#include "base/strings.h"

#include "compose/input_file.h"
#include "compose/load_error.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace berth::compose {
namespace {

bool key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '[' || c == ']';
}

class Parser {
public:
    Parser(std::string_view text, const std::string& file, const Lookup& lookup)
        : s_(text), file_(file), outer_(lookup) {}

    EnvList run() {
        while (skip_blank_and_comments()) line_entry();
        return out_;
    }

private:
    Location here() const { return Location{file_, line_, col_}; }

    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    void advance() {
        if (s_[pos_] == '\n') { ++line_; col_ = 1; } else { ++col_; }
        ++pos_;
    }

    // Skips whitespace, blank lines and comment lines; false at end of input.
    bool skip_blank_and_comments() {
        for (;;) {
            while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r' || peek() == '\n')) advance();
            if (at_end()) return false;
            if (peek() != '#') return true;
            while (!at_end() && peek() != '\n') advance();
        }
    }

    void rest_of_line_must_be_empty() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r')) advance();
        if (at_end() || peek() == '\n') return;
        if (peek() == '#') {
            while (!at_end() && peek() != '\n') advance();
            return;
        }
        throw LoadError(here(), "", std::string("unexpected \"") + peek() + "\" after the closing quote",
                        "put the whole value inside the quotes");
    }

    void line_entry() {
        Location key_loc = here();
        if (s_.substr(pos_, 7) == "export " || s_.substr(pos_, 7) == "export\t") {
            for (int i = 0; i < 7; ++i) advance();
            while (peek() == ' ' || peek() == '\t') advance();
            key_loc = here();
        }
        std::string key;
        while (!at_end() && key_char(peek())) { key += peek(); advance(); }
        while (peek() == ' ' || peek() == '\t') advance();
        if (key.empty())
            throw LoadError(key_loc, "", std::string("unexpected character \"") + peek() + "\" where a variable name should start",
                            "each line must read NAME=value");
        if (at_end() || peek() == '\n' || peek() == '\r' || peek() == '#') {
            // A bare name inherits its value from the environment.
            while (!at_end() && peek() != '\n') advance();
            if (auto v = outer_(key)) set(key, *v);
            return;
        }
        if (peek() != '=' && peek() != ':')
            throw LoadError(here(), "", std::string("unexpected character \"") + peek() + "\" in variable name \"" + key + "\"",
                            "names may hold letters, digits, _ . - [ ]; write NAME=value");
        advance();
        while (peek() == ' ' || peek() == '\t') advance();
        char q = peek();
        if (q == '\'' || q == '"') {
            Location open = here();
            advance();
            std::string raw;
            bool closed = false;
            while (!at_end()) {
                char c = peek();
                if (c == '\\' && q == '"' && pos_ + 1 < s_.size()) {
                    raw += c; advance(); raw += peek(); advance();
                    continue;
                }
                if (c == q) { closed = true; advance(); break; }
                raw += c;
                advance();
            }
            if (!closed)
                throw LoadError(open, key, std::string("unterminated quoted value; add the closing ") + q);
            rest_of_line_must_be_empty();
            if (q == '\'') { set(key, raw); return; }
            set(key, expand(unescape(raw), open, key));
            return;
        }
        Location vloc = here();
        std::string raw;
        while (!at_end() && peek() != '\n') {
            if (peek() == '#' && !raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) {
                while (!at_end() && peek() != '\n') advance();
                break;
            }
            raw += peek();
            advance();
        }
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r')) raw.pop_back();
        set(key, expand(raw, vloc, key));
    }

    // Double-quote escapes. "\$" becomes "$$" so interpolation leaves a literal $.
    static std::string unescape(const std::string& raw) {
        std::string out;
        for (size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '\\' || i + 1 == raw.size()) { out += raw[i]; continue; }
            char n = raw[++i];
            switch (n) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case '\\': out += '\\'; break;
            case '"': out += '"'; break;
            case '\'': out += '\''; break;
            case '$': out += "$$"; break;
            default: out += '\\'; out += n; break;
            }
        }
        return out;
    }

    std::string expand(const std::string& raw, const Location& loc, const std::string& key) {
        if (raw.find('$') == std::string::npos) return raw;
        Lookup both = [this](const std::string& name) -> std::optional<std::string> {
            if (auto v = outer_(name)) return v;
            if (auto it = seen_.find(name); it != seen_.end()) return it->second;
            return std::nullopt;
        };
        try {
            return interpolate(raw, both);
        } catch (const InterpolationError& e) {
            throw LoadError(loc, key, e.what());
        }
    }

    // A key set again keeps its first place; the index makes that O(log n), not a
    // scan of every earlier key (100,000 keys took minutes).
    void set(const std::string& key, const std::string& value) {
        seen_[key] = value;
        auto [it, added] = index_.try_emplace(key, out_.size());
        if (!added) {
            out_[it->second].second = value;
            return;
        }
        out_.emplace_back(key, value);
    }

    std::string_view s_;
    std::string file_;
    const Lookup& outer_;
    size_t pos_ = 0;
    int line_ = 1;
    int col_ = 1;
    EnvList out_;
    std::map<std::string, size_t> index_;  // key → its place in out_
    std::map<std::string, std::string> seen_;
};

}  // namespace

EnvList parse_dotenv(std::string_view text, const std::string& filename, const Lookup& lookup) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
    if (auto bad = first_invalid_utf8(text)) {
        int line = 1;
        for (size_t i = 0; i < *bad; ++i) line += text[i] == '\n';
        throw LoadError(Location{filename, line, 0}, "", "the file is not valid UTF-8", "save the file as UTF-8");
    }
    // A NUL cannot be part of an environment variable: the kernel would cut the
    // value there. It means a binary file or a broken encoding (UTF-16).
    if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
        int line = 1, column = 1;
        for (size_t i = 0; i < nul; ++i) {
            if (text[i] == '\n') line++, column = 1;
            else if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) ++column;
        }
        throw LoadError(Location{filename, line, column}, "", "the file holds a NUL byte",
                        "an env file is text: NAME=value lines in UTF-8 (not UTF-16, not a binary file)");
    }
    return Parser(text, filename, lookup).run();
}

EnvList parse_raw_env(std::string_view text) {
    EnvList out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') continue;
        size_t eq = line.find('=');
        std::string_view key = line.substr(first, eq == std::string_view::npos ? std::string_view::npos : eq - first);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
        out.emplace_back(std::string(key), eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1)));
    }
    return out;
}

EnvList read_dotenv_file(const std::string& path, const Lookup& lookup) {
    return parse_dotenv(read_input_file(path, "env file"), path, lookup);
}

}  // namespace berth::compose
