#include "build/expand.h"

#include "base/error.h"

#include <algorithm>

namespace berth::build {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_special_param(char c) {
    return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

// ---- shell patterns (${X#pat}, ${X/pat/rep}) as a small NFA: linear in the text.

struct PatToken {
    enum Type { Lit, One, Any } type;
    char c = 0;
};

std::vector<PatToken> compile_pattern(std::string_view p) {
    std::vector<PatToken> out;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '*') out.push_back({PatToken::Any});
        else if (c == '?') out.push_back({PatToken::One});
        else if (c == '\\' && i + 1 < p.size()) out.push_back({PatToken::Lit, p[++i]});
        else out.push_back({PatToken::Lit, c});
    }
    return out;
}

// For each n in [0, text.size()], whether the pattern matches text[0, n).
std::vector<bool> prefix_matches(const std::vector<PatToken>& pat, std::string_view text) {
    size_t m = pat.size();
    std::vector<bool> ends(text.size() + 1, false);
    std::vector<char> cur(m + 1, 0), next(m + 1, 0);
    auto close = [&](std::vector<char>& s) {
        for (size_t i = 0; i < m; ++i)
            if (s[i] && pat[i].type == PatToken::Any) s[i + 1] = 1;
    };
    cur[0] = 1;
    close(cur);
    for (size_t n = 0;; ++n) {
        ends[n] = cur[m] != 0;
        if (n == text.size()) break;
        std::fill(next.begin(), next.end(), 0);
        bool any = false;
        for (size_t i = 0; i < m; ++i) {
            if (!cur[i]) continue;
            const PatToken& t = pat[i];
            if (t.type == PatToken::Any) next[i] = 1;
            else if (t.type == PatToken::One || t.c == text[n]) next[i + 1] = 1;
            else continue;
            any = true;
        }
        if (!any) break;
        close(next);
        cur.swap(next);
    }
    return ends;
}

std::vector<PatToken> reversed(std::vector<PatToken> p) {
    std::reverse(p.begin(), p.end());
    return p;
}

std::string trim_prefix(std::string_view value, std::string_view pattern, bool greedy) {
    auto ends = prefix_matches(compile_pattern(pattern), value);
    if (greedy) {
        for (size_t n = ends.size(); n-- > 0;)
            if (ends[n]) return std::string(value.substr(n));
    } else {
        for (size_t n = 0; n < ends.size(); ++n)
            if (ends[n]) return std::string(value.substr(n));
    }
    return std::string(value);
}

std::string trim_suffix(std::string_view value, std::string_view pattern, bool greedy) {
    std::string rev(value.rbegin(), value.rend());
    auto ends = prefix_matches(reversed(compile_pattern(pattern)), rev);
    size_t cut = std::string::npos;
    if (greedy) {
        for (size_t n = ends.size(); n-- > 0;)
            if (ends[n]) { cut = n; break; }
    } else {
        for (size_t n = 0; n < ends.size(); ++n)
            if (ends[n]) { cut = n; break; }
    }
    if (cut == std::string::npos) return std::string(value);
    return std::string(value.substr(0, value.size() - cut));
}

std::string replace_pattern(std::string_view value, std::string_view pattern, std::string_view rep, bool all) {
    auto pat = compile_pattern(pattern);
    std::string out;
    size_t pos = 0;
    while (pos <= value.size()) {
        size_t start = pos, len = std::string::npos;
        // A pattern that starts with '*' matches from `pos` if it matches anywhere after it.
        bool floating = !pat.empty() && pat[0].type == PatToken::Any;
        for (; start <= value.size(); ++start) {
            auto ends = prefix_matches(pat, value.substr(start));
            for (size_t n = ends.size(); n-- > 0;)
                if (ends[n]) { len = n; break; }
            if (len != std::string::npos || floating) break;
        }
        if (len == std::string::npos) break;
        out.append(value.substr(pos, start - pos));
        out.append(rep);
        pos = start + len;
        if (len == 0) {  // an empty match: step over one character
            if (pos < value.size()) out += value[pos];
            ++pos;
        }
        if (!all) break;
    }
    if (pos < value.size()) out.append(value.substr(pos));
    return out;
}

// ---- the word processor, after docker's shell.Lex.

struct Words {
    std::vector<std::string> words;
    std::string buf;
    bool in_word = false;

    void add_char(char c) {
        if (is_blank(c)) {
            if (in_word && !buf.empty()) {
                words.push_back(std::move(buf));
                buf.clear();
                in_word = false;
            }
        } else {
            add_raw(c);
        }
    }
    void add_raw(char c) { buf += c, in_word = true; }
    void add_string(std::string_view s) {
        for (char c : s) add_char(c);
    }
    void add_raw_string(std::string_view s) { buf.append(s), in_word = true; }
    std::vector<std::string> take() {
        if (!buf.empty()) words.push_back(std::move(buf));
        buf.clear();
        return std::move(words);
    }
};

class Lexer {
public:
    Lexer(std::string_view s, const Lookup& env, const ExpandOptions& opt)
        : s_(s), env_(env), opt_(opt), raw_escapes_(opt.raw_escapes) {}

    std::pair<std::string, std::vector<std::string>> run() { return process(0, raw_escapes_); }

private:
    std::string_view s_;
    const Lookup& env_;
    const ExpandOptions& opt_;
    size_t pos_ = 0;
    bool raw_escapes_;
    int depth_ = 0;

    bool eof() const { return pos_ >= s_.size(); }
    char peek() const { return s_[pos_]; }

    // Reads up to `stop` (consumed) or the end when stop is 0.
    std::pair<std::string, std::vector<std::string>> process(char stop, bool raw_escapes) {
        if (++depth_ > 64) throw Error("variable substitution nests too deeply");
        bool saved = raw_escapes_;
        raw_escapes_ = raw_escapes;
        std::string result;
        Words words;
        while (!eof()) {
            char c = peek();
            if (stop && c == stop) {
                ++pos_;
                raw_escapes_ = saved;
                --depth_;
                return {std::move(result), words.take()};
            }
            if (c == '$') {
                std::string v = dollar();
                result += v;
                words.add_string(v);
            } else if (c == '<') {
                std::string v = possible_heredoc();
                result += v;
                words.add_raw_string(v);
            } else if (opt_.process_quotes && (c == '\'' || c == '"')) {
                std::string v = c == '\'' ? single_quote() : double_quote();
                result += v;
                words.add_raw_string(v);
            } else {
                ++pos_;
                if (c == opt_.escape) {
                    if (raw_escapes_) words.add_raw(c), result += c;
                    if (eof()) break;
                    c = s_[pos_++];
                    words.add_raw(c);
                } else {
                    words.add_char(c);
                }
                result += c;
            }
        }
        raw_escapes_ = saved;
        --depth_;
        if (stop) throw Error(std::string("unexpected end of statement while looking for matching ") + stop);
        return {std::move(result), words.take()};
    }

    std::string single_quote() {
        std::string r;
        ++pos_;
        if (opt_.raw_quotes) r += '\'';
        for (;;) {
            if (eof()) throw Error("unexpected end of statement while looking for matching single-quote");
            char c = s_[pos_++];
            if (c == '\'') {
                if (opt_.raw_quotes) r += c;
                return r;
            }
            r += c;
        }
    }

    std::string double_quote() {
        std::string r;
        ++pos_;
        if (opt_.raw_quotes) r += '"';
        for (;;) {
            if (eof()) throw Error("unexpected end of statement while looking for matching double-quote");
            char c = peek();
            if (c == '"') {
                ++pos_;
                if (opt_.raw_quotes) r += c;
                return r;
            }
            if (c == '$') {
                r += dollar();
                continue;
            }
            ++pos_;
            if (c == opt_.escape) {
                if (raw_escapes_) r += c;
                if (eof()) continue;
                char n = peek();
                if (n == '"' || n == '$' || n == opt_.escape) c = s_[pos_++];
            }
            r += c;
        }
    }

    std::string name() {
        std::string n;
        if (eof()) return n;
        char c = peek();
        if (c >= '0' && c <= '9') {
            while (!eof() && peek() >= '0' && peek() <= '9') n += s_[pos_++];
            return n;
        }
        if (is_special_param(c)) {
            ++pos_;
            return std::string(1, c);
        }
        while (!eof() && is_name_char(peek())) n += s_[pos_++];
        return n;
    }

    std::optional<std::string> get(const std::string& n) { return env_ ? env_(n) : std::nullopt; }

    std::string dollar() {
        ++pos_;  // '$'
        if (eof() || peek() != '{') {
            std::string n = name();
            if (n.empty()) return "$";
            auto v = get(n);
            if (!v && opt_.skip_unset) return "$" + n;
            return v.value_or("");
        }
        ++pos_;  // '{'
        if (eof()) throw Error("syntax error: missing '}'");
        if (peek() == '{' || peek() == '}' || peek() == ':') throw Error("syntax error: bad substitution");
        std::string n = name();
        if (eof()) throw Error("syntax error: missing '}'");
        char op = s_[pos_++];
        std::string ops(1, op);
        if (op == '}') {
            auto v = get(n);
            if (!v && opt_.skip_unset) return "${" + n + "}";
            return v.value_or("");
        }
        if (op == '/') return substitute(n);
        bool null_is_unset = false;
        if (op == ':') {
            null_is_unset = true;
            if (eof()) throw Error("syntax error: missing '}'");
            op = s_[pos_++];
            ops += op;
        } else if (op != '+' && op != '-' && op != '?' && op != '#' && op != '%') {
            throw Error("unsupported modifier (" + ops + ") in substitution");
        }
        bool pattern_op = op == '#' || op == '%';
        if (null_is_unset && pattern_op) throw Error("unsupported modifier (" + ops + ") in substitution");
        std::string word = word_until('}', pattern_op);
        auto v = get(n);
        if (!v && opt_.skip_unset) return "${" + n + ops + word + "}";
        bool empty = !v || (null_is_unset && v->empty());
        switch (op) {
        case '-': return empty ? word : *v;
        case '+': return empty ? std::string() : word;
        case '?':
            if (!v) throw Error(n + ": " + (word.empty() ? "is not allowed to be unset" : word));
            if (empty) throw Error(n + ": " + (word.empty() ? "is not allowed to be empty" : word));
            return *v;
        case '#':
        case '%': {
            bool greedy = !word.empty() && word[0] == op;
            if (greedy) word.erase(0, 1);
            std::string val = v.value_or("");
            return op == '#' ? trim_prefix(val, word, greedy) : trim_suffix(val, word, greedy);
        }
        default: throw Error("unsupported modifier (" + ops + ") in substitution");
        }
    }

    std::string word_until(char stop, bool raw) {
        try {
            return process(stop, raw).first;
        } catch (const Error&) {
            if (eof()) throw Error(std::string("syntax error: missing '") + stop + "'");
            throw;
        }
    }

    std::string substitute(const std::string& n) {
        bool all = !eof() && peek() == '/';
        if (all) ++pos_;
        std::string pattern = word_until('/', true);
        std::string rep = word_until('}', true);
        auto v = get(n);
        if (!v && opt_.skip_unset) return "${" + n + "/" + pattern + "/" + rep + "}";
        return replace_pattern(v.value_or(""), pattern, rep, all);
    }

    std::string possible_heredoc() {
        ++pos_;
        if (eof() || peek() != '<') return "<";
        ++pos_;
        std::string r = "<<";
        while (!eof() && (peek() == ' ' || peek() == '\t')) r += s_[pos_++];
        return r;
    }
};

}  // namespace

std::string expand_word(std::string_view text, const Lookup& env, const ExpandOptions& opt) {
    try {
        return Lexer(text, env, opt).run().first;
    } catch (Error& e) {
        throw e.wrap("failed to process \"" + std::string(text) + "\"");
    }
}

std::vector<std::string> expand_words(std::string_view text, const Lookup& env, const ExpandOptions& opt) {
    try {
        return Lexer(text, env, opt).run().second;
    } catch (Error& e) {
        throw e.wrap("failed to process \"" + std::string(text) + "\"");
    }
}

bool shell_pattern_match(std::string_view pattern, std::string_view text) {
    return prefix_matches(compile_pattern(pattern), text).back();
}

}  // namespace berth::build
