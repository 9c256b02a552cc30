// .dockerignore: docker's pattern rules, and the walk of a build context.
//
// A pattern file is read as docker reads it: a UTF-8 BOM dropped, lines
// starting with '#' are comments, blanks trimmed, `!` marks an exception,
// patterns cleaned (a leading '/', './', '//', '..' resolved lexically).
// Matching follows docker's patternmatcher: '*' and '?' never cross '/',
// '[...]' classes ('^' negates), '**' any number of directories, a '\' escapes
// the next character. A path is excluded when the last pattern that matches it
// or one of its parent directories is not an exception. A directory that is
// excluded is still walked when an exception may re-include something under it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace berth::build {

class IgnorePattern {
public:
    // `text` cleaned, without its '!'. Throws berth::Error on a malformed pattern.
    IgnorePattern(std::string text, bool exception);
    bool matches(std::string_view path) const;
    bool exception() const { return exception_; }
    const std::string& text() const { return text_; }
    // Whether something strictly under `dir` could match (for exceptions).
    bool may_match_under(std::string_view dir) const;

    struct Token {
        enum Type { Lit, Star, One, Class, DStarSlash, DStarAny } type = Lit;
        char c = 0;
        bool negated = false;
        std::string set;  // Class: pairs of (lo, hi)
    };

private:
    enum class Mode { Exact, Prefix, Suffix, Tokens } mode_ = Mode::Exact;
    std::string text_;
    bool exception_;
    std::vector<Token> tokens_;
    std::string lit_prefix_, lit_suffix_;  // of tokens_
};

class IgnoreMatcher {
public:
    IgnoreMatcher() = default;
    // Patterns as lines of a .dockerignore (with '!' for exceptions).
    explicit IgnoreMatcher(const std::vector<std::string>& patterns);
    // The contents of a .dockerignore file.
    static IgnoreMatcher from_text(std::string_view text);

    // Whether the slash-separated path relative to the context is excluded.
    bool excluded(std::string_view path) const;
    // Whether an excluded directory must still be walked.
    bool may_include_under(std::string_view dir) const;
    bool empty() const { return patterns_.empty(); }
    const std::vector<IgnorePattern>& patterns() const { return patterns_; }

private:
    std::vector<IgnorePattern> patterns_;
    bool exceptions_ = false;
};

// The lines of a .dockerignore text, cleaned as docker's ignorefile.ReadAll does.
std::vector<std::string> read_ignore_lines(std::string_view text);

// The ignore file docker uses for a build: `<dockerfile>.dockerignore` beside
// the Dockerfile when it exists, else `<context>/.dockerignore`; "" when none.
std::string ignore_file_for(const std::string& context_dir, const std::string& dockerfile);
// That file's matcher (an empty one when there is no file).
IgnoreMatcher load_ignore(const std::string& context_dir, const std::string& dockerfile);

// Every entry of the context that is not excluded, in sorted order, parents
// before children, symlinks not followed. `rel` is relative to the context.
// An excluded directory that holds a re-included entry is visited too, just
// before that entry (its children that are excluded are not).
void walk_context(const std::string& context_dir, const IgnoreMatcher& m,
                  const std::function<void(const std::string& rel, const struct stat& st)>& visit);

}  // namespace berth::build
