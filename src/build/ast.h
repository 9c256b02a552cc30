// The Dockerfile's typed syntax tree, as the parser (build/parser.h) returns it.
//
// Owns no behaviour: plain data. Every instruction keeps its source position
// (1-based line and column of its keyword, and the last line it spans) and its
// text as written. Words that the builder expands later (ENV values, COPY
// paths, LABEL pairs, …) are kept raw here, quotes included, exactly as docker
// keeps them until the stage's ARG/ENV scope is known (build/stages.h expands
// them). Shell-form commands (RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK) are never
// expanded by the builder: the shell does that.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace berth::build {

enum class Kind {
    From, Run, Cmd, Label, Expose, Env, Add, Copy, Entrypoint, Volume, User, Workdir,
    Arg, Onbuild, StopSignal, Healthcheck, Shell, Maintainer,
};
// "FROM", "RUN", … as docker prints them.
const char* kind_name(Kind k);

struct Location {
    int line = 0;      // first line of the instruction (1-based)
    int column = 0;    // column of its keyword (1-based)
    int end_line = 0;  // last line, heredoc bodies included
};

// A here-document: `<<EOF` (expand), `<<"EOF"`/`<<'EOF'` (no expansion),
// `<<-EOF` (leading tabs stripped from every body line, already done here).
struct Heredoc {
    std::string name;
    std::string content;  // the body, each line ending in '\n'
    bool expand = true;
    bool chomp = false;
    int fd = 0;  // `3<<EOF`; 0 when not given
};

// A command in shell form (one string, run by the SHELL) or exec form (a JSON
// array of strings). `files` are the here-documents the line introduced.
struct CommandLine {
    std::vector<std::string> args;  // shell form: exactly one element, the text
    bool json = false;
    std::vector<Heredoc> files;
};

struct KeyValue {
    std::string key;
    std::string value;
    bool operator==(const KeyValue&) const = default;
};

struct ArgDef {
    std::string name;
    std::optional<std::string> value;  // the default, raw
};

enum class MountType { Bind, Cache, Tmpfs, Secret, Ssh };
const char* mount_type_name(MountType t);

// One `RUN --mount=...`. Values are raw until the stage expands them; the
// numeric fields are checked when they hold no variable.
struct Mount {
    MountType type = MountType::Bind;
    std::string target, source, from, id, sharing, mode, uid, gid, size, env;
    bool readonly = false;  // resolved: explicit ro/rw, else true but for cache and tmpfs
    bool required = false;
    std::string text;  // the flag's value as written
};

struct FromData {
    std::string image;       // raw: may hold ${ARG}s of the global scope
    std::string stage_name;  // lowercased `AS` name, "" when none
    std::string platform;    // raw --platform
};

struct RunData {
    CommandLine cmd;
    std::vector<Mount> mounts;
    std::string network;   // "", "default", "none", "host"
    std::string security;  // "", "sandbox", "insecure"
};

struct CmdData {  // CMD and ENTRYPOINT
    CommandLine cmd;
};

struct PairsData {  // ENV and LABEL
    std::vector<KeyValue> pairs;
    bool legacy = false;  // `ENV key value`, no '='
};

struct WordsData {  // EXPOSE and VOLUME
    std::vector<std::string> words;
    bool json = false;
};

struct CopyData {  // COPY and ADD
    std::vector<std::string> sources;  // paths, globs, URLs (raw)
    std::vector<Heredoc> inline_sources;  // `COPY <<EOF /dest`
    std::string dest;
    std::string from;  // COPY only
    std::string chown, chmod, checksum;
    std::vector<std::string> excludes;
    bool link = false;
    bool parents = false;                  // COPY only
    std::optional<bool> keep_git_dir;      // ADD only
    std::optional<bool> unpack;            // ADD only
    bool json = false;
};

struct StringData {  // USER, WORKDIR, STOPSIGNAL, MAINTAINER
    std::string value;
};

struct ArgData {
    std::vector<ArgDef> args;
};

struct Instruction;

struct OnbuildData {
    std::string expression;  // the trigger as written, for the image config's OnBuild
    std::shared_ptr<const Instruction> trigger;
};

struct HealthcheckData {
    bool none = false;
    std::vector<std::string> test;  // {"CMD", args…} or {"CMD-SHELL", text}; {"NONE"}
    std::chrono::nanoseconds interval{0}, timeout{0}, start_period{0}, start_interval{0};
    int retries = 0;
};

struct ShellData {
    std::vector<std::string> shell;
};

using Payload = std::variant<FromData, RunData, CmdData, PairsData, WordsData, CopyData, StringData,
                             ArgData, OnbuildData, HealthcheckData, ShellData>;

struct Instruction {
    Kind kind = Kind::Run;
    Location loc;
    std::string keyword;   // as written ("run", "Copy", …)
    std::string original;  // the logical line, continuations joined, heredoc bodies not included
    Payload data;

    template <class T> const T& as() const { return std::get<T>(data); }
    template <class T> T& as() { return std::get<T>(data); }
};

struct Directive {
    std::string name;  // lowercased: "syntax", "escape", "check"
    std::string value;
    int line = 0;
};

// Something docker accepts but that is most likely a mistake.
struct Warning {
    Location loc;
    std::string message;  // "Dockerfile:3:1: CMD: …", as errors read
    std::string hint;
};

struct Dockerfile {
    std::string filename;  // as errors name it ("Dockerfile")
    char escape = '\\';
    std::vector<Directive> directives;
    std::vector<Warning> warnings;
    std::vector<ArgData> meta_args;          // ARGs before the first FROM, in order
    std::vector<Location> meta_arg_locs;     // one per meta_args entry
    std::vector<Instruction> instructions;  // from the first FROM on
};

}  // namespace berth::build
