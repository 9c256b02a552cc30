// Splitting a logical line: keyword, --flags, JSON arrays, here-document words.
#include "base/error.h"
#include "build/expand.h"
#include "build/parse_internal.h"

#include <nlohmann/json.hpp>

namespace berth::build::detail {

std::pair<std::string, std::string> split_keyword(std::string_view line) {
    line = trim_blanks(line);
    size_t i = 0;
    while (i < line.size() && !is_blank(line[i])) ++i;
    std::string kw(line.substr(0, i));
    while (i < line.size() && is_blank(line[i])) ++i;
    return {kw, std::string(line.substr(i))};
}

// After docker's extractBuilderFlags: words starting with "--" until the first
// other word (or a lone "--"), quotes removed and escapes applied in each.
FlagWords extract_flags(std::string_view line, char escape) {
    enum { Spaces, Word, Quote } phase = Spaces;
    FlagWords out;
    std::string word;
    char quote = 0;
    bool blank_ok = false;
    for (size_t pos = 0; pos <= line.size(); ++pos) {
        bool end = pos == line.size();
        char ch = end ? 0 : line[pos];
        if (phase == Spaces) {
            if (end) break;
            if (is_blank(ch)) continue;
            if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') {
                out.rest = std::string(trim_blanks(line.substr(pos)));
                return out;
            }
            phase = Word;
        }
        if (end) {
            if (word != "--" && (blank_ok || !word.empty())) out.flags.push_back(word);
            break;
        }
        if (phase == Word) {
            if (is_blank(ch)) {
                phase = Spaces;
                if (word == "--") {
                    out.rest = std::string(trim_blanks(line.substr(pos)));
                    return out;
                }
                if (blank_ok || !word.empty()) out.flags.push_back(word);
                word.clear();
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch, blank_ok = true, phase = Quote;
                continue;
            }
            if (ch == escape) {
                if (pos + 1 == line.size()) continue;
                ch = line[++pos];
            }
            word += ch;
            continue;
        }
        // Quote
        if (ch == quote) {
            phase = Word;
            continue;
        }
        if (ch == escape) {
            if (pos + 1 == line.size()) {
                phase = Word;
                continue;
            }
            ch = line[++pos];
        }
        word += ch;
    }
    return out;
}

std::optional<std::vector<std::string>> parse_json_array(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i == s.size() || s[i] != '[') return std::nullopt;
    auto j = nlohmann::json::parse(s.begin() + static_cast<long>(i), s.end(), nullptr, false);
    if (j.is_discarded() || !j.is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& e : j) {
        if (!e.is_string())
            throw Error("when using JSON array syntax, arrays must be comprised of strings only",
                        "quote every element: [\"a\", \"1\"]");
        out.push_back(e.get<std::string>());
    }
    return out;
}

bool wants_heredocs(std::string_view line, char escape) {
    auto [kw, rest] = split_keyword(line);
    std::string k = lower(kw);
    if (k == "onbuild") {
        auto inner = split_keyword(rest);
        k = lower(inner.first);
        rest = inner.second;
    }
    if (k != "run" && k != "copy" && k != "add") return false;
    std::string args = extract_flags(rest, escape).rest;
    try {
        if (parse_json_array(args)) return false;
    } catch (const Error&) {
        return false;  // reported when the instruction is typed
    }
    return true;
}

std::optional<Heredoc> heredoc_word(std::string_view w) {
    size_t i = 0;
    while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i;
    if (w.substr(i, 2) != "<<") return std::nullopt;
    Heredoc h;
    if (i > 0) {
        if (i > 9) return std::nullopt;
        h.fd = std::stoi(std::string(w.substr(0, i)));
    }
    i += 2;
    if (i < w.size() && w[i] == '-') h.chomp = true, ++i;
    while (i < w.size() && is_blank(w[i])) ++i;
    std::string_view rest = w.substr(i);
    if (rest.empty() || rest.find('<') != std::string_view::npos) return std::nullopt;
    ExpandOptions opt;
    opt.skip_unset = true;
    auto words = expand_words(rest, nullptr, opt);
    if (words.size() != 1) return std::nullopt;
    opt.raw_quotes = true;
    auto raw = expand_words(rest, nullptr, opt);
    if (raw.size() != 1) throw Error("internal lexing of heredoc produced inconsistent results: " + std::string(rest));
    auto quotes = [](const std::string& s) {
        size_t n = 0;
        for (char c : s) n += c == '\'' || c == '"';
        return n;
    };
    h.name = words[0];
    h.expand = quotes(words[0]) == quotes(raw[0]);
    return h;
}

std::vector<Heredoc> heredocs_in_line(std::string_view line) {
    ExpandOptions opt;
    opt.raw_quotes = opt.raw_escapes = opt.skip_unset = true;
    std::vector<std::string> words;
    try {
        words = expand_words(line, nullptr, opt);
    } catch (const Error&) {
        return {};  // docker ignores a line it cannot split here
    }
    std::vector<Heredoc> out;
    for (const auto& w : words)
        if (auto h = heredoc_word(w)) out.push_back(std::move(*h));
    return out;
}

}  // namespace berth::build::detail
