#include "build/dockerignore.h"

#include "base/dir.h"
#include "base/error.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace berth::build {
namespace {

using Token = IgnorePattern::Token;

// Go's filepath.Clean for '/'-separated paths.
std::string clean(std::string_view p) {
    if (p.empty()) return ".";
    bool rooted = p[0] == '/';
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i < p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        std::string_view c = p.substr(i, j - i);
        i = j + 1;
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (!parts.empty() && parts.back() != "..") parts.pop_back();
            else if (!rooted) parts.push_back(c);
            continue;
        }
        parts.push_back(c);
    }
    std::string out = rooted ? "/" : "";
    for (size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + std::string(parts[k]);
    return out.empty() ? "." : out;
}

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

Token tok(Token::Type type, char c = 0) {
    Token t;
    t.type = type;
    t.c = c;
    return t;
}

bool class_matches(const Token& t, char c) {
    bool in = false;
    for (size_t i = 0; i + 1 < t.set.size(); i += 2)
        if (c >= t.set[i] && c <= t.set[i + 1]) in = true;
    return in != t.negated;
}

// Memoised match of tokens[i..] against text[j..].
struct Matcher {
    const std::vector<Token>& t;
    std::string_view s;
    std::vector<signed char>& memo;

    // '?' and classes take one character: a whole UTF-8 sequence.
    size_t char_len(size_t j) const {
        auto c = static_cast<unsigned char>(s[j]);
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        size_t k = 1;
        while (k < n && j + k < s.size() && (static_cast<unsigned char>(s[j + k]) & 0xC0) == 0x80) ++k;
        return k;
    }

    bool at(size_t i, size_t j) {
        if (i == t.size()) return j == s.size();
        signed char& m = memo[i * (s.size() + 1) + j];
        if (m >= 0) return m;
        bool r = false;
        const Token& k = t[i];
        switch (k.type) {
        case Token::Lit: r = j < s.size() && s[j] == k.c && at(i + 1, j + 1); break;
        case Token::One: r = j < s.size() && s[j] != '/' && at(i + 1, j + char_len(j)); break;
        case Token::Class: r = j < s.size() && class_matches(k, s[j]) && at(i + 1, j + char_len(j)); break;
        case Token::Star: r = at(i + 1, j) || (j < s.size() && s[j] != '/' && at(i, j + 1)); break;
        case Token::DStarAny: r = at(i + 1, j) || (j < s.size() && at(i, j + 1)); break;
        case Token::DStarSlash:
            r = at(i + 1, j);
            for (size_t e = j + 1; !r && e <= s.size(); ++e)
                if (s[e - 1] == '/') r = at(i + 1, e);
            break;
        }
        m = r;
        return r;
    }
};

bool tokens_match(const std::vector<Token>& t, std::string_view s) {
    thread_local std::vector<signed char> memo;  // reused: no allocation per path
    memo.assign((t.size() + 1) * (s.size() + 1), -1);
    Matcher m{t, s, memo};
    return m.at(0, 0);
}

std::vector<std::string_view> components(std::string_view p) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i <= p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.push_back(p.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

}  // namespace

IgnorePattern::IgnorePattern(std::string text, bool exception) : text_(std::move(text)), exception_(exception) {
    const std::string& p = text_;
    Mode detected = Mode::Exact;
    auto bad = [&](const std::string& why) {
        return Error("bad .dockerignore pattern \"" + p + "\": " + why, "escape a literal [ * ? or \\ with \\");
    };
    for (size_t i = 0, iter = 0; i < p.size(); ++iter) {
        char c = p[i++];
        if (c == '*') {
            if (i < p.size() && p[i] == '*') {
                ++i;
                if (i < p.size() && p[i] == '/') ++i;
                if (i == p.size()) {
                    if (detected == Mode::Exact) detected = Mode::Prefix;
                    else tokens_.push_back(tok(Token::DStarAny)), detected = Mode::Tokens;
                } else {
                    tokens_.push_back(tok(Token::DStarSlash));
                    detected = Mode::Tokens;
                }
                if (iter == 0) detected = Mode::Suffix;
            } else {
                tokens_.push_back(tok(Token::Star));
                detected = Mode::Tokens;
            }
        } else if (c == '?') {
            tokens_.push_back(tok(Token::One));
            detected = Mode::Tokens;
        } else if (c == '\\') {
            if (i == p.size()) throw bad("it ends with a lone \\");
            tokens_.push_back(tok(Token::Lit, p[i++]));
            detected = Mode::Tokens;
        } else if (c == '[') {
            Token t = tok(Token::Class);
            if (i < p.size() && p[i] == '^') t.negated = true, ++i;
            bool closed = false;
            while (i < p.size()) {
                char lo = p[i++];
                if (lo == ']' && !t.set.empty()) {
                    closed = true;
                    break;
                }
                if (lo == '\\') {
                    if (i == p.size()) break;
                    lo = p[i++];
                }
                char hi = lo;
                if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
                    hi = p[i + 1];
                    i += 2;
                    if (hi == '\\') {
                        if (i == p.size()) break;
                        hi = p[i++];
                    }
                    if (hi < lo) throw bad("the range " + std::string(1, lo) + "-" + std::string(1, hi) + " is reversed");
                }
                t.set += lo;
                t.set += hi;
            }
            if (!closed) throw bad("'[' is never closed");
            tokens_.push_back(std::move(t));
            detected = Mode::Tokens;
        } else if (c == ']') {
            throw bad("']' without '['");
        } else {
            tokens_.push_back(tok(Token::Lit, c));
        }
    }
    mode_ = detected;
    // Literal ends every match must have: a cheap test before the full match.
    for (const Token& t : tokens_) {
        if (t.type != Token::Lit) break;
        lit_prefix_ += t.c;
    }
    for (size_t i = tokens_.size(); i-- > 0 && tokens_[i].type == Token::Lit;) lit_suffix_.insert(0, 1, tokens_[i].c);
}

bool IgnorePattern::matches(std::string_view path) const {
    switch (mode_) {
    case Mode::Exact: return path == text_;
    case Mode::Prefix: return path.substr(0, text_.size() - 2) == std::string_view(text_).substr(0, text_.size() - 2) &&
                              path.size() >= text_.size() - 2;
    case Mode::Suffix: {
        std::string_view suffix = std::string_view(text_).substr(2);
        if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return true;
        return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case Mode::Tokens:
        if (path.substr(0, lit_prefix_.size()) != lit_prefix_) return false;
        if (path.size() < lit_suffix_.size() || path.substr(path.size() - lit_suffix_.size()) != lit_suffix_)
            return false;
        return tokens_match(tokens_, path);
    }
    return false;
}

bool IgnorePattern::may_match_under(std::string_view dir) const {
    auto pc = components(text_);
    auto dc = components(dir);
    for (size_t k = 0; k < dc.size(); ++k) {
        if (k >= pc.size()) return false;  // the pattern ends above dir: its parent rule covers it
        if (pc[k].find("**") != std::string_view::npos) return true;
        IgnorePattern comp(std::string(pc[k]), false);
        if (!comp.matches(dc[k])) return false;
    }
    return pc.size() > dc.size();
}

IgnoreMatcher::IgnoreMatcher(const std::vector<std::string>& patterns) {
    for (const auto& raw : patterns) {
        std::string_view p = trim(raw);
        if (p.empty()) continue;
        bool exc = p[0] == '!';
        if (exc) {
            p = trim(p.substr(1));
            if (p.empty()) throw Error("illegal exclusion pattern: \"!\"", "write !path to re-include a path");
        }
        std::string c = clean(p);
        if (c.size() > 1 && c[0] == '/') c.erase(0, 1);
        patterns_.emplace_back(c, exc);
        exceptions_ = exceptions_ || exc;
    }
}

std::vector<std::string> read_ignore_lines(std::string_view text) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line[0] == '#') continue;
        line = trim(line);
        if (line.empty()) continue;
        bool exc = line[0] == '!';
        if (exc) line = trim(line.substr(1));
        std::string p = line.empty() ? "" : clean(line);
        if (p.size() > 1 && p[0] == '/') p.erase(0, 1);
        out.push_back(exc ? "!" + p : p);
    }
    return out;
}

IgnoreMatcher IgnoreMatcher::from_text(std::string_view text) { return IgnoreMatcher(read_ignore_lines(text)); }

bool IgnoreMatcher::excluded(std::string_view path) const {
    std::string file = clean(path);
    if (file == ".") return false;  // the context itself is never excluded
    std::string_view f = file;
    bool matched = false;
    for (const auto& p : patterns_) {
        if (p.exception() != matched) continue;  // cannot change the outcome
        bool m = p.matches(f);
        for (size_t slash = f.find('/'); !m && slash != std::string_view::npos; slash = f.find('/', slash + 1))
            m = p.matches(f.substr(0, slash));  // a parent directory
        if (m) matched = !p.exception();
    }
    return matched;
}

bool IgnoreMatcher::may_include_under(std::string_view dir) const {
    if (!exceptions_) return false;
    std::string d = clean(dir);
    for (const auto& p : patterns_)
        if (p.exception() && p.may_match_under(d)) return true;
    return false;
}

std::string ignore_file_for(const std::string& context_dir, const std::string& dockerfile) {
    if (!dockerfile.empty()) {
        std::string beside = dockerfile + ".dockerignore";
        if (::access(beside.c_str(), F_OK) == 0) return beside;
    }
    std::string ctx = context_dir + "/.dockerignore";
    return ::access(ctx.c_str(), F_OK) == 0 ? ctx : "";
}

IgnoreMatcher load_ignore(const std::string& context_dir, const std::string& dockerfile) {
    std::string path = ignore_file_for(context_dir, dockerfile);
    if (path.empty()) return {};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::sys(errno, "read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        return IgnoreMatcher::from_text(ss.str());
    } catch (Error& e) {
        throw e.wrap(path);
    }
}

namespace {

using Visit = std::function<void(const std::string&, const struct stat&)>;

// Excluded directories walked for their exceptions: each is visited just
// before the first entry under it that is included, as docker sends it.
struct Pending {
    std::string rel;
    struct stat st;
    bool visited;
};

void walk_dir(const std::string& root, const std::string& rel, const IgnoreMatcher& m, const Visit& visit,
              std::vector<Pending>& pending) {
    std::vector<std::string> names = sorted_dir_entries(rel.empty() ? root : root + "/" + rel);
    for (const auto& n : names) {
        std::string r = rel.empty() ? n : rel + "/" + n;
        struct stat st {};
        if (::lstat((root + "/" + r).c_str(), &st) < 0) {
            if (errno == ENOENT) continue;  // removed while we walk
            throw Error::sys(errno, "stat " + root + "/" + r);
        }
        bool excluded = m.excluded(r);
        if (!excluded) {
            for (auto& p : pending)
                if (!p.visited) visit(p.rel, p.st), p.visited = true;
            visit(r, st);
        }
        if (!S_ISDIR(st.st_mode)) continue;
        if (!excluded) {
            walk_dir(root, r, m, visit, pending);
        } else if (m.may_include_under(r)) {
            pending.push_back({r, st, false});
            walk_dir(root, r, m, visit, pending);
            pending.pop_back();
        }
    }
}

}  // namespace

void walk_context(const std::string& context_dir, const IgnoreMatcher& m, const Visit& visit) {
    std::vector<Pending> pending;
    walk_dir(context_dir, "", m, visit, pending);
}

}  // namespace berth::build
