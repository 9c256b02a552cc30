// Typing one logical line into an Instruction: arguments and flags per kind.
#include "base/error.h"
#include "base/strings.h"
#include "build/parse_internal.h"

#include <algorithm>

namespace berth::build::detail {
namespace {

struct KindName {
    const char* name;
    Kind kind;
};
constexpr KindName kKinds[] = {
    {"FROM", Kind::From},       {"RUN", Kind::Run},           {"CMD", Kind::Cmd},
    {"LABEL", Kind::Label},     {"EXPOSE", Kind::Expose},     {"ENV", Kind::Env},
    {"ADD", Kind::Add},         {"COPY", Kind::Copy},         {"ENTRYPOINT", Kind::Entrypoint},
    {"VOLUME", Kind::Volume},   {"USER", Kind::User},         {"WORKDIR", Kind::Workdir},
    {"ARG", Kind::Arg},         {"ONBUILD", Kind::Onbuild},   {"STOPSIGNAL", Kind::StopSignal},
    {"HEALTHCHECK", Kind::Healthcheck}, {"SHELL", Kind::Shell}, {"MAINTAINER", Kind::Maintainer},
};

// Everything the per-kind parsers need, errors located.
struct Req {
    const Ctx& ctx;
    const LogicalLine& line;
    Kind kind;
    std::vector<std::string> flags;
    std::string args;  // after the flags
    std::vector<Heredoc> heredocs;

    [[noreturn]] void fail(const std::string& msg, const std::string& hint = {}, std::string_view near = {}) const {
        detail::fail(ctx, line, kind_name(kind), msg, hint, near);
    }
    FlagValues flag_values(const std::vector<FlagSpec>& specs) const {
        try {
            return parse_flags(flags, specs);
        } catch (const Error& e) {
            std::string near;
            for (const auto& f : flags)
                if (e.message().find(f.substr(0, f.find('='))) != std::string::npos) near = f.substr(0, f.find('='));
            fail(e.message(), e.hint(), near);
        }
    }
    void no_flags() const { (void)flag_values({}); }
    std::optional<std::vector<std::string>> json() const {
        try {
            return parse_json_array(args);
        } catch (const Error& e) {
            fail(e.message(), e.hint());
        }
    }
};

// Docker's parseWords: blank-separated words, quotes and escapes kept as written.
std::vector<std::string> parse_words(std::string_view rest, char escape) {
    enum { Spaces, Word, Quote } phase = Spaces;
    std::vector<std::string> words;
    std::string w;
    char quote = 0;
    bool blank_ok = false;
    for (size_t pos = 0; pos <= rest.size(); ++pos) {
        bool end = pos == rest.size();
        char ch = end ? 0 : rest[pos];
        if (phase == Spaces) {
            if (end) break;
            if (is_blank(ch)) continue;
            phase = Word;
        }
        if (end) {
            if (blank_ok || !w.empty()) words.push_back(w);
            break;
        }
        if (phase == Word) {
            if (is_blank(ch)) {
                phase = Spaces;
                if (blank_ok || !w.empty()) words.push_back(w);
                w.clear();
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') quote = ch, blank_ok = true, phase = Quote;
            if (ch == escape) {
                if (pos + 1 == rest.size()) continue;
                w += ch;
                ch = rest[++pos];
            }
            w += ch;
            continue;
        }
        if (ch == quote) phase = Word;
        if (ch == escape && quote != '\'') {
            if (pos + 1 == rest.size()) {
                phase = Word;
                continue;
            }
            w += ch;
            ch = rest[++pos];
        }
        w += ch;
    }
    return words;
}

std::vector<std::string> split_blanks(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_blank(s[i])) ++i;
        size_t j = i;
        while (j < s.size() && !is_blank(s[j])) ++j;
        if (j > i) out.emplace_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// `['echo', 'x']`, `["a" "b"]`: meant as exec form, but not JSON.
bool looks_like_json(std::string_view s) {
    if (s.empty() || s[0] != '[') return false;
    size_t i = 1;
    while (i < s.size() && is_blank(s[i])) ++i;
    return i < s.size() && (s[i] == '"' || s[i] == '\'');
}

CommandLine command_line(const Req& r) {
    CommandLine c;
    if (auto j = r.json()) {
        c.args = std::move(*j);
        c.json = true;
        return c;
    }
    if (r.args.empty()) r.fail(std::string(kind_name(r.kind)) + " requires at least one argument",
                               std::string("write ") + kind_name(r.kind) + " [\"executable\", \"arg\"] or " +
                                   kind_name(r.kind) + " command text");
    if (looks_like_json(r.args) && r.ctx.warnings) {
        const LogicalLine& l = r.line;
        r.ctx.warnings->push_back(
            {l.loc,
             r.ctx.filename + ":" + std::to_string(l.loc.line) + ":" + std::to_string(l.loc.column) + ": " +
                 kind_name(r.kind) + ": the arguments look like a JSON array but are not valid JSON: they run as a "
                 "shell command",
             "JSON needs double quotes, commas between elements and a closing ]: [\"echo\", \"hi\"]"});
    }
    c.args = {r.args};
    c.files = r.heredocs;
    return c;
}

PairsData parse_pairs(const Req& r) {
    const char* name = kind_name(r.kind);
    PairsData d;
    auto words = parse_words(r.args, r.ctx.escape);
    if (words.empty()) r.fail(std::string(name) + " requires at least one argument",
                              std::string("write ") + name + " key=value");
    if (words[0].find('=') == std::string::npos) {
        // Legacy `ENV key value with spaces`.
        std::string_view a = r.args;
        size_t i = 0;
        while (i < a.size() && !is_blank(a[i])) ++i;
        std::string key(a.substr(0, i));
        std::string_view value = a.substr(i);
        while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
        if (value.empty())
            r.fail(std::string(name) + " must have two arguments", std::string("write ") + name + " " + key + "=value");
        d.pairs.push_back({key, std::string(value)});
        d.legacy = true;
        return d;
    }
    for (const auto& w : words) {
        size_t eq = w.find('=');
        if (eq == std::string::npos)
            r.fail("Syntax error - can't find = in \"" + w + "\". Must be of the form: name=value",
                   "quote values with spaces: " + std::string(name) + " key=\"a b\"", w);
        if (eq == 0) r.fail(std::string(name) + " names can not be blank", {}, w);
        d.pairs.push_back({w.substr(0, eq), w.substr(eq + 1)});
    }
    return d;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 644, 0755.
bool octal_mode(std::string_view v) {
    return (v.size() == 3 || v.size() == 4) && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '7'; });
}

// u+x, go-w, a=rX, comma-separated clauses: [ugoa]*[-+=][rwxXst]*.
bool symbolic_mode(std::string_view v) {
    size_t i = 0;
    for (;;) {
        while (i < v.size() && std::string_view("ugoa").find(v[i]) != std::string_view::npos) ++i;
        if (i == v.size() || std::string_view("-+=").find(v[i]) == std::string_view::npos) return false;
        ++i;
        while (i < v.size() && std::string_view("rwxXst").find(v[i]) != std::string_view::npos) ++i;
        if (i == v.size()) return true;
        if (v[i] != ',') return false;
        ++i;
    }
}

// docker's ^[a-z][a-z0-9-_.]*$
bool valid_stage_name(std::string_view n) {
    if (n.empty() || n[0] < 'a' || n[0] > 'z') return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_' || c == '.';
    });
}

void check_chmod(const Req& r, const std::string& v) {
    if (v.empty() || v.find('$') != std::string::npos) return;
    if (!octal_mode(v) && !symbolic_mode(v))
        r.fail("invalid --chmod value \"" + v + "\"", "use an octal mode such as 755 or 0644", "--chmod");
}

CopyData parse_copy(const Req& r) {
    bool add = r.kind == Kind::Add;
    std::vector<FlagSpec> specs = {{"chown", FlagType::String}, {"chmod", FlagType::String},
                                   {"link", FlagType::Bool},    {"exclude", FlagType::Strings}};
    if (add) {
        specs.push_back({"keep-git-dir", FlagType::Bool});
        specs.push_back({"checksum", FlagType::String});
        specs.push_back({"unpack", FlagType::Bool});
    } else {
        specs.push_back({"from", FlagType::String});
        specs.push_back({"parents", FlagType::Bool});
    }
    FlagValues f = r.flag_values(specs);
    CopyData d;
    std::vector<std::string> args;
    if (auto j = r.json()) args = std::move(*j), d.json = true;
    else args = split_blanks(r.args);
    const char* name = kind_name(r.kind);
    if (args.size() < 2)
        r.fail(std::string(name) + " requires at least two arguments, but only " + std::to_string(args.size()) +
                   " was provided. Destination could not be determined",
               std::string("write ") + name + " <source>... <destination>");
    d.dest = args.back();
    args.pop_back();
    if (!d.json && heredoc_word(d.dest)) r.fail(std::string(name) + " cannot accept a heredoc as a destination");
    for (auto& a : args) {
        std::optional<Heredoc> h;
        if (!d.json) {
            try {
                h = heredoc_word(a);
            } catch (const Error& e) {
                r.fail(e.message(), e.hint(), a);
            }
        }
        if (!h) {
            d.sources.push_back(std::move(a));
            continue;
        }
        for (const auto& doc : r.heredocs)
            if (doc.name == h->name) h->content = doc.content;
        d.inline_sources.push_back(std::move(*h));
    }
    d.chown = f.get("chown");
    d.chmod = f.get("chmod");
    check_chmod(r, d.chmod);
    d.link = f.on("link");
    if (f.has("exclude")) d.excludes = f.values.at("exclude");
    if (add) {
        d.checksum = f.get("checksum");
        if (f.has("keep-git-dir")) d.keep_git_dir = f.on("keep-git-dir");
        if (f.has("unpack")) d.unpack = f.on("unpack");
    } else {
        d.from = f.get("from");
        d.parents = f.on("parents");
    }
    return d;
}

FromData parse_from(const Req& r) {
    FlagValues f = r.flag_values({{"platform", FlagType::String}});
    auto args = split_blanks(r.args);
    FromData d;
    if (args.size() == 3 && lower(args[1]) == "as") {
        d.stage_name = lower(args[2]);
        if (!valid_stage_name(d.stage_name))
            r.fail("invalid name for build stage: \"" + args[2] + "\", name can't start with a number or contain symbols",
                   "use lowercase letters, digits, '-', '_' and '.', starting with a letter", args[2]);
    } else if (args.size() != 1) {
        r.fail(args.empty() ? "FROM requires either one or three arguments"
                            : "FROM requires either one or three arguments, got " + std::to_string(args.size()),
               "write FROM <image> [AS <name>]");
    }
    d.image = args[0];
    d.platform = f.get("platform");
    return d;
}

RunData parse_run(const Req& r) {
    FlagValues f = r.flag_values({{"mount", FlagType::Strings}, {"network", FlagType::String},
                                  {"security", FlagType::String}});
    RunData d;
    if (f.has("mount")) {
        for (const auto& m : f.values.at("mount")) {
            try {
                d.mounts.push_back(parse_mount(m));
            } catch (const Error& e) {
                r.fail("--mount=" + m + ": " + e.message(), e.hint(), "--mount");
            }
        }
    }
    d.network = f.get("network");
    if (!d.network.empty() && d.network != "default" && d.network != "none" && d.network != "host")
        r.fail("unsupported network mode \"" + d.network + "\"", "use --network=default, none or host", "--network");
    d.security = f.get("security");
    if (!d.security.empty() && d.security != "sandbox" && d.security != "insecure")
        r.fail("unsupported security mode \"" + d.security + "\"", "use --security=sandbox or insecure", "--security");
    d.cmd = command_line(r);
    return d;
}

std::chrono::nanoseconds interval(const Req& r, const FlagValues& f, const char* name) {
    std::string v = f.get(name);
    if (v.empty()) return std::chrono::nanoseconds(0);
    std::chrono::nanoseconds d;
    try {
        d = parse_duration(v);
    } catch (const Error& e) {
        r.fail("--" + std::string(name) + ": " + e.message(), e.hint(), std::string("--") + name);
    }
    if (d.count() != 0 && d < std::chrono::milliseconds(1))
        r.fail("Interval \"" + std::string(name) + "\" cannot be less than 1ms", {}, std::string("--") + name);
    return d;
}

HealthcheckData parse_healthcheck(Req r) {
    HealthcheckData d;
    std::string_view a = r.args;
    size_t sep = 0;
    while (sep < a.size() && !is_blank(a[sep])) ++sep;
    std::string typ = upper(a.substr(0, sep));
    if (typ.empty()) r.fail("HEALTHCHECK requires at least one argument", "write HEALTHCHECK CMD <command> or HEALTHCHECK NONE");
    std::string rest(trim_blanks(a.substr(sep)));
    if (typ == "NONE") {
        if (!rest.empty()) r.fail("HEALTHCHECK NONE takes no arguments", {}, rest);
        r.no_flags();
        d.none = true;
        d.test = {"NONE"};
        return d;
    }
    FlagValues f = r.flag_values({{"interval", FlagType::String}, {"timeout", FlagType::String},
                                  {"start-period", FlagType::String}, {"start-interval", FlagType::String},
                                  {"retries", FlagType::String}});
    if (typ != "CMD") r.fail("Unknown type \"" + typ + "\" in HEALTHCHECK (try CMD)", "write HEALTHCHECK CMD <command>");
    r.args = rest;
    if (auto j = r.json()) {
        if (j->empty()) r.fail("Missing command after HEALTHCHECK CMD");
        d.test = {"CMD"};
        d.test.insert(d.test.end(), j->begin(), j->end());
    } else {
        if (rest.empty()) r.fail("Missing command after HEALTHCHECK CMD", "write HEALTHCHECK CMD <command>");
        d.test = {"CMD-SHELL", rest};
    }
    d.interval = interval(r, f, "interval");
    d.timeout = interval(r, f, "timeout");
    d.start_period = interval(r, f, "start-period");
    d.start_interval = interval(r, f, "start-interval");
    std::string retries = f.get("retries");
    if (!retries.empty()) {
        std::string_view digits = retries;
        if (digits[0] == '-' || digits[0] == '+') digits.remove_prefix(1);
        if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), is_digit)) r.fail("--retries: invalid number \"" + retries + "\"", {}, "--retries");
        d.retries = std::stoi(retries);
        if (d.retries < 0) r.fail("--retries cannot be negative (" + retries + ")", {}, "--retries");
    }
    return d;
}

StringData one_string(const Req& r) {
    r.no_flags();
    if (r.args.empty())
        r.fail(std::string(kind_name(r.kind)) + " requires exactly one argument",
               std::string("write ") + kind_name(r.kind) + " <value>");
    return {r.args};
}

Payload parse_payload(const Req& r) {
    switch (r.kind) {
    case Kind::From: return parse_from(r);
    case Kind::Run: return parse_run(r);
    case Kind::Cmd:
    case Kind::Entrypoint: r.no_flags(); return CmdData{command_line(r)};
    case Kind::Label:
    case Kind::Env: r.no_flags(); return parse_pairs(r);
    case Kind::Add:
    case Kind::Copy: return parse_copy(r);
    case Kind::Expose: {
        r.no_flags();
        WordsData d{split_blanks(r.args), false};
        if (d.words.empty()) r.fail("EXPOSE requires at least one argument", "write EXPOSE 80 or EXPOSE 53/udp");
        return d;
    }
    case Kind::Volume: {
        r.no_flags();
        WordsData d;
        if (auto j = r.json()) d.words = std::move(*j), d.json = true;
        else d.words = split_blanks(r.args);
        if (d.words.empty()) r.fail("VOLUME requires at least one argument", "write VOLUME /data");
        for (const auto& w : d.words)
            if (trim_blanks(w).empty()) r.fail("VOLUME specified can not be an empty string");
        return d;
    }
    case Kind::User:
    case Kind::Workdir:
    case Kind::StopSignal:
    case Kind::Maintainer: return one_string(r);
    case Kind::Arg: {
        r.no_flags();
        ArgData d;
        for (const auto& w : parse_words(r.args, r.ctx.escape)) {
            size_t eq = w.find('=');
            if (eq == 0) r.fail("ARG names can not be blank", "write ARG name=value", w);
            if (eq == std::string::npos) d.args.push_back({w, std::nullopt});
            else d.args.push_back({w.substr(0, eq), w.substr(eq + 1)});
        }
        if (d.args.empty()) r.fail("ARG requires at least one argument", "write ARG NAME or ARG NAME=default");
        return d;
    }
    case Kind::Healthcheck: return parse_healthcheck(r);
    case Kind::Shell: {
        r.no_flags();
        auto j = r.json();
        if (!j) {
            if (r.args.empty()) r.fail("SHELL requires at least one argument", "write SHELL [\"/bin/sh\", \"-c\"]");
            r.fail("SHELL requires the arguments to be in JSON form", "write SHELL [\"/bin/bash\", \"-c\"]");
        }
        if (j->empty()) r.fail("SHELL requires at least one argument", "write SHELL [\"/bin/sh\", \"-c\"]");
        return ShellData{std::move(*j)};
    }
    case Kind::Onbuild: break;
    }
    return StringData{};
}

}  // namespace

Instruction parse_instruction(const Ctx& ctx, const LogicalLine& line, std::vector<Heredoc> heredocs) {
    auto [kw, rest] = split_keyword(line.text);
    std::string up = upper(kw);
    Instruction in;
    in.keyword = kw;
    in.loc = line.loc;
    in.original = line.text;
    const KindName* found = nullptr;
    for (const auto& k : kKinds)
        if (up == k.name) found = &k;
    if (!found) {
        std::vector<std::string> names;
        for (const auto& k : kKinds) names.push_back(k.name);
        std::string close = closest_match(up, names);
        fail(ctx, line, "", "unknown instruction: " + kw,
             close.empty() ? "instructions are FROM, RUN, COPY, ADD, CMD, ENTRYPOINT, ENV, ARG, …"
                           : "did you mean " + close + "?");
    }
    in.kind = found->kind;
    if (in.kind == Kind::Onbuild) {
        auto [inner_kw, inner_rest] = split_keyword(rest);
        std::string iu = upper(inner_kw);
        if (iu.empty()) fail(ctx, line, "ONBUILD", "ONBUILD requires at least one argument", "write ONBUILD <instruction>");
        if (iu == "ONBUILD") fail(ctx, line, "ONBUILD", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (iu == "FROM" || iu == "MAINTAINER") fail(ctx, line, "ONBUILD", iu + " isn't allowed as an ONBUILD trigger");
        LogicalLine sub = line;
        sub.text = rest;
        size_t shift = line.text.size() - rest.size();
        sub.loc.column += static_cast<int>(shift);
        sub.first_len = line.first_len > shift ? line.first_len - shift : 0;
        OnbuildData d;
        d.expression = rest;
        for (const auto& h : heredocs) d.expression += "\n" + h.content + h.name;
        d.trigger = std::make_shared<const Instruction>(parse_instruction(ctx, sub, std::move(heredocs)));
        in.data = std::move(d);
        return in;
    }
    FlagWords fw = extract_flags(rest, ctx.escape);
    Req r{ctx, line, in.kind, std::move(fw.flags), std::move(fw.rest), std::move(heredocs)};
    in.data = parse_payload(r);
    return in;
}

}  // namespace berth::build::detail
