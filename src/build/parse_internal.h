// Internals shared by the parser's files (parser.cc reads lines, instructions.cc
// types one instruction, flags.cc reads --flags and --mount). Not a public face.
#pragma once

#include "build/ast.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::build::detail {

// One logical line: continuations joined, comments inside it dropped.
struct LogicalLine {
    std::string text;        // from the keyword on
    Location loc;
    size_t first_len = 0;    // how much of `text` sits on the first physical line
};

struct Ctx {
    std::string filename;
    char escape = '\\';
    std::vector<Warning>* warnings = nullptr;
};

// Throws the located error: "FILE:LINE:COL: WHAT: message".
[[noreturn]] void fail(const Ctx& ctx, const LogicalLine& l, std::string_view what, const std::string& message,
                       const std::string& hint = {}, std::string_view near = {});

bool is_blank(char c);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string_view trim_blanks(std::string_view s);

// The keyword and the rest (flags and arguments) of a logical line.
std::pair<std::string, std::string> split_keyword(std::string_view line);

// Leading `--flag[=value]` words, quotes and escapes processed, and the rest.
struct FlagWords {
    std::vector<std::string> flags;
    std::string rest;
};
FlagWords extract_flags(std::string_view args, char escape);

// A JSON array of strings; nullopt when `s` is not valid JSON (shell form).
// Throws for valid JSON holding something other than strings.
std::optional<std::vector<std::string>> parse_json_array(std::string_view s);

// Whether the line may carry here-documents (RUN/COPY/ADD, maybe under ONBUILD, not JSON).
bool wants_heredocs(std::string_view line, char escape);

// The heredocs a line introduces, in order, bodies empty.
std::vector<Heredoc> heredocs_in_line(std::string_view line);
// `<<EOF`, `<<-"EOF"`, `3<<EOF` as one word: the heredoc, or nullopt.
std::optional<Heredoc> heredoc_word(std::string_view word);

// Types one instruction. `heredocs` hold their bodies.
Instruction parse_instruction(const Ctx& ctx, const LogicalLine& line, std::vector<Heredoc> heredocs);

// Flag table of one instruction.
enum class FlagType { Bool, String, Strings };
struct FlagSpec {
    const char* name;
    FlagType type;
};
struct FlagValues {
    std::map<std::string, std::vector<std::string>> values;  // bools: "true"/"false"
    bool has(const std::string& n) const { return values.count(n) != 0; }
    std::string get(const std::string& n) const {
        auto it = values.find(n);
        return it == values.end() || it->second.empty() ? std::string() : it->second.back();
    }
    bool on(const std::string& n) const { return get(n) == "true"; }
};
// Checks the flags against `specs`. Errors here and below are berth::Error
// with the bare message (and a hint); the caller adds the location.
FlagValues parse_flags(const std::vector<std::string>& flags, const std::vector<FlagSpec>& specs);

// One --mount value (CSV of key=value).
Mount parse_mount(std::string_view value);

// Go's time.ParseDuration ("1m30s", "500ms", "1.5h").
std::chrono::nanoseconds parse_duration(std::string_view s);

}  // namespace berth::build::detail
