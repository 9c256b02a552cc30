// Dockerfile variable substitution and word splitting, as docker's builder
// does it (not a shell: no command substitution, no globbing).
//
// Supported: $VAR, ${VAR}, ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?msg}
// ${VAR?msg}, ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat}, ${VAR/pat/rep}
// ${VAR//pat/rep}. Inside single quotes nothing is expanded; inside double
// quotes only $ is; the escape token (\ or `) escapes the next character and
// is removed, `\$` gives a literal $. Quotes are removed from the result
// unless `raw_quotes`. An unset variable expands to "" (or stays as written
// with `skip_unset`). Errors (bad substitution, ${X:?}, unterminated quote)
// throw berth::Error with the text only; the caller adds the location.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::build {

// A variable's value, or nullopt when it is not set.
using Lookup = std::function<std::optional<std::string>(const std::string& name)>;

struct ExpandOptions {
    char escape = '\\';
    bool process_quotes = true;  // false: quotes are plain characters (heredoc bodies)
    bool raw_quotes = false;     // keep the quote characters in the result
    bool raw_escapes = false;    // keep the escape characters in the result
    bool skip_unset = false;     // leave $X of an unset X as written
};

// One word, spaces kept: what ENV, LABEL, COPY, WORKDIR, USER… use.
std::string expand_word(std::string_view text, const Lookup& env, const ExpandOptions& opt = {});

// The text expanded, then split on unquoted blanks: what EXPOSE and the
// heredoc scanner use.
std::vector<std::string> expand_words(std::string_view text, const Lookup& env, const ExpandOptions& opt = {});

// Shell pattern (* ? and \-escapes) tests used by ${X#…} and ${X/…}; exposed for tests.
bool shell_pattern_match(std::string_view pattern, std::string_view text);

}  // namespace berth::build
