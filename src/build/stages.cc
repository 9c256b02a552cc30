#include "build/stages.h"

#include "base/error.h"
#include "base/strings.h"
#include "build/expand.h"
#include "build/parser.h"

#include <algorithm>
#include <set>
#include <sys/utsname.h>

namespace berth::build {
namespace {

const std::set<std::string> kProxyArgs = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                          "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

void set_var(std::vector<KeyValue>& vars, const std::string& k, const std::string& v) {
    for (auto& kv : vars)
        if (kv.key == k) {
            kv.value = v;
            return;
        }
    vars.push_back({k, v});
}

const std::string* find_var(const std::vector<KeyValue>& vars, const std::string& k) {
    for (const auto& kv : vars)
        if (kv.key == k) return &kv.value;
    return nullptr;
}

bool is_digits(const std::string& s) {
    return !s.empty() && s.size() < 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What docker's signal.ParseSignal accepts on Linux: a number, or a name with or without SIG.
bool valid_signal(const std::string& s) {
    if (is_digits(s)) return std::stoul(s) >= 1 && std::stoul(s) <= 64;
    std::string n = s;
    for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (n.rfind("SIG", 0) == 0) n.erase(0, 3);
    static const std::set<std::string> names = {
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
        "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
        "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX", "UNUSED"};
    if (names.count(n)) return true;
    for (const char* rt : {"RTMIN+", "RTMAX-"})
        if (n.rfind(rt, 0) == 0 && is_digits(n.substr(6)) && std::stoul(n.substr(6)) <= 15) return true;
    return false;
}

class Planner {
public:
    Planner(const Dockerfile& df, const BuildOptions& opt) : df_(df), opt_(opt) {}

    BuildPlan run() {
        resolve_meta_args();
        collect_stage_names();
        for (size_t i = 0; i < starts_.size(); ++i) plan_.stages.push_back(plan_stage(i));
        resolve_target();
        order();
        for (const auto& [k, v] : opt_.build_args)
            if (!consumed_.count(k) && !kProxyArgs.count(k) && !meta_.count(k)) plan_.unused_args.push_back(k);
        return std::move(plan_);
    }

private:
    const Dockerfile& df_;
    const BuildOptions& opt_;
    BuildPlan plan_;
    std::map<std::string, std::string> meta_;  // global scope, builtins included
    std::vector<size_t> starts_;               // instruction index of each FROM
    std::set<std::string> consumed_;

    [[noreturn]] void fail(const Location& loc, std::string_view what, const std::string& msg,
                           const std::string& hint = {}) const {
        std::string m = df_.filename + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": ";
        if (!what.empty()) m += std::string(what) + ": ";
        throw Error(m + msg, hint);
    }

    std::string expand(const std::string& word, const Lookup& env, const Location& loc, Kind kind,
                       ExpandOptions o = {}) const {
        o.escape = df_.escape;
        try {
            return expand_word(word, env, o);
        } catch (const Error& e) {
            fail(loc, kind_name(kind), e.message(), e.hint());
        }
    }

    void resolve_meta_args() {
        meta_ = opt_.builtin_args;
        Lookup env = [this](const std::string& n) -> std::optional<std::string> {
            auto it = meta_.find(n);
            return it == meta_.end() ? std::nullopt : std::optional(it->second);
        };
        for (size_t i = 0; i < df_.meta_args.size(); ++i)
            for (const auto& a : df_.meta_args[i].args) {
                auto given = opt_.build_args.find(a.name);
                if (given != opt_.build_args.end()) {
                    meta_[a.name] = given->second;
                    consumed_.insert(a.name);
                } else if (a.value) {
                    meta_[a.name] = expand(*a.value, env, df_.meta_arg_locs[i], Kind::Arg);
                }
            }
    }

    void collect_stage_names() {
        for (size_t i = 0; i < df_.instructions.size(); ++i)
            if (df_.instructions[i].kind == Kind::From) starts_.push_back(i);
        std::map<std::string, Location> seen;
        for (size_t s : starts_) {
            const auto& in = df_.instructions[s];
            const std::string& n = in.as<FromData>().stage_name;
            if (n.empty()) continue;
            if (seen.count(n))
                fail(in.loc, "FROM", "duplicate stage name \"" + n + "\"",
                     "it is already the name of the stage at line " + std::to_string(seen[n].line));
            seen[n] = in.loc;
        }
    }

    std::optional<size_t> stage_by_name(const std::string& n, size_t limit) const {
        std::string l = n;
        for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (size_t i = 0; i < limit && i < starts_.size(); ++i)
            if (df_.instructions[starts_[i]].as<FromData>().stage_name == l) return i;
        return std::nullopt;
    }

    std::vector<std::string> stage_names() const {
        std::vector<std::string> out;
        for (size_t s : starts_)
            if (auto& n = df_.instructions[s].as<FromData>().stage_name; !n.empty()) out.push_back(n);
        return out;
    }

    // A --from / from= value: a stage (by name or index) or an image.
    void add_source(Stage& st, const std::string& from, DepKind kind, const Instruction& in) {
        std::optional<size_t> idx;
        if (is_digits(from)) {
            size_t n = std::stoul(from);
            if (n >= starts_.size())
                fail(in.loc, kind_name(in.kind), "unknown stage " + from + " in --from",
                     "stages are numbered from 0 to " + std::to_string(starts_.size() - 1));
            idx = n;
        } else {
            idx = stage_by_name(from, starts_.size());
        }
        if (!idx) {
            bool plain = from.find_first_of(":/@.") == std::string::npos;
            std::string close = closest_match(from, stage_names());
            if (plain && !close.empty())
                fail(in.loc, kind_name(in.kind), "unknown stage \"" + from + "\" in --from",
                     "did you mean \"" + close + "\"? (to copy from an image of that name, give its tag: " + from +
                         ":latest)");
            st.images.push_back(from);
            return;
        }
        if (*idx == st.index)
            fail(in.loc, kind_name(in.kind), "circular dependency detected on stage: " + st.display(),
                 "a stage cannot copy from itself");
        st.deps.push_back({*idx, kind, in.loc.line});
    }

    Stage plan_stage(size_t si) {
        const Instruction& from = df_.instructions[starts_[si]];
        const auto& fd = from.as<FromData>();
        Stage st;
        st.index = si;
        st.name = fd.stage_name;
        st.loc = from.loc;
        Lookup meta = [this](const std::string& n) -> std::optional<std::string> {
            auto it = meta_.find(n);
            return it == meta_.end() ? std::nullopt : std::optional(it->second);
        };
        st.base = expand(fd.image, meta, from.loc, Kind::From);
        st.platform = expand(fd.platform, meta, from.loc, Kind::From);
        if (st.base.empty())
            fail(from.loc, "FROM", "base name (" + fd.image + ") should not be blank",
                 "give the ARG a default before the first FROM, or pass --build-arg");
        if (auto b = stage_by_name(st.base, si)) {
            st.base_stage = b;
            st.deps.push_back({*b, DepKind::Base, from.loc.line});
            st.env = plan_.stages[*b].env;
        } else if (opt_.image_env && st.base != "scratch") {
            st.env = opt_.image_env(st.base);
        }

        std::vector<KeyValue> args;
        Lookup env = [&](const std::string& n) -> std::optional<std::string> {
            if (auto* v = find_var(st.env, n)) return *v;
            if (auto* v = find_var(args, n)) return *v;
            return std::nullopt;
        };
        size_t end = si + 1 < starts_.size() ? starts_[si + 1] : df_.instructions.size();
        std::vector<Instruction> body;
        // Docker's rule: the triggers of the base (an image's OnBuild, or a stage's own ONBUILD lines)
        // run first in the stage built on it; they are spent there, never passed further down.
        if (st.base_stage) body = triggers(stage_triggers(plan_.stages[*st.base_stage]), "stage " + st.base, from);
        else if (opt_.image_onbuild && st.base != "scratch") body = triggers(opt_.image_onbuild(st.base), st.base, from);
        for (size_t i = starts_[si] + 1; i < end; ++i) body.push_back(df_.instructions[i]);
        for (const Instruction& inst : body) {
            Step step{inst, {}, st.env};
            for (const auto& a : args)
                if (!find_var(st.env, a.key)) step.args.push_back(a);
            for (const auto& [k, v] : opt_.build_args)
                if (kProxyArgs.count(k) && !find_var(args, k)) step.args.push_back({k, v});
            expand_step(st, step.inst, env, args);
            st.steps.push_back(std::move(step));
        }
        return st;
    }

    // The OnBuild of a stage's image: its own ONBUILD lines (those it inherited ran at its start).
    static std::vector<std::string> stage_triggers(const Stage& base) {
        std::vector<std::string> out;
        for (const auto& step : base.steps)
            if (step.inst.kind == Kind::Onbuild) out.push_back(step.inst.as<OnbuildData>().expression);
        return out;
    }

    // A base's ONBUILD triggers as instructions at its FROM line (as docker runs them).
    std::vector<Instruction> triggers(const std::vector<std::string>& exprs, const std::string& image, const Instruction& from) {
        std::vector<Instruction> out;
        for (const auto& expr : exprs) {
            Dockerfile t;
            try {
                t = parse_dockerfile("FROM scratch\n" + expr + "\n", df_.filename);
            } catch (const Error& e) {
                fail(from.loc, "FROM", "the ONBUILD trigger \"" + expr + "\" of " + image + " does not parse: " + e.message());
            }
            if (t.instructions.size() != 2 || t.instructions[1].kind == Kind::From || t.instructions[1].kind == Kind::Onbuild)
                fail(from.loc, "FROM", "the ONBUILD trigger \"" + expr + "\" of " + image + " is not one instruction");
            Instruction in = t.instructions[1];
            in.loc = from.loc;
            in.original = "ONBUILD " + in.original;
            out.push_back(std::move(in));
        }
        return out;
    }

    void expand_step(Stage& st, Instruction& in, const Lookup& env, std::vector<KeyValue>& args) {
        auto x = [&](std::string& s) { s = expand(s, env, in.loc, in.kind); };
        switch (in.kind) {
        case Kind::Env:
        case Kind::Label: {
            auto& d = in.as<PairsData>();
            for (auto& kv : d.pairs) x(kv.key), x(kv.value);  // all against the env before the line
            if (in.kind == Kind::Env)
                for (const auto& kv : d.pairs) set_var(st.env, kv.key, kv.value);
            break;
        }
        case Kind::Arg:
            for (auto& a : in.as<ArgData>().args) {
                auto given = opt_.build_args.find(a.name);
                if (given != opt_.build_args.end()) {
                    a.value = given->second;
                    consumed_.insert(a.name);
                } else if (a.value) {
                    x(*a.value);
                } else if (auto m = meta_.find(a.name); m != meta_.end()) {
                    a.value = m->second;
                }
                if (a.value) set_var(args, a.name, *a.value);
            }
            break;
        case Kind::Add:
        case Kind::Copy: {
            auto& d = in.as<CopyData>();
            for (auto& s : d.sources) x(s);
            x(d.dest), x(d.chown), x(d.chmod), x(d.checksum), x(d.from);
            for (auto& e : d.excludes) x(e);
            for (auto& h : d.inline_sources)
                if (h.expand) {
                    ExpandOptions o;
                    o.process_quotes = false;
                    o.raw_escapes = true;
                    h.content = expand(h.content, env, in.loc, in.kind, o);
                }
            if (!d.from.empty()) add_source(st, d.from, DepKind::CopyFrom, in);
            break;
        }
        case Kind::Expose: {
            auto& d = in.as<WordsData>();
            std::vector<std::string> ports;
            for (const auto& w : d.words) {
                ExpandOptions o;
                o.escape = df_.escape;
                try {
                    for (auto& p : expand_words(w, env, o)) ports.push_back(std::move(p));
                } catch (const Error& e) {
                    fail(in.loc, "EXPOSE", e.message());
                }
            }
            for (const auto& p : ports) check_port(p, in);
            d.words = std::move(ports);
            break;
        }
        case Kind::Volume:
            for (auto& w : in.as<WordsData>().words) x(w);
            break;
        case Kind::User:
        case Kind::Workdir: x(in.as<StringData>().value); break;
        case Kind::StopSignal: {
            std::string& sig = in.as<StringData>().value;
            x(sig);
            if (!valid_signal(sig))
                fail(in.loc, "STOPSIGNAL", "invalid signal \"" + sig + "\"", "use a name such as SIGTERM or SIGQUIT, or a number");
            break;
        }
        case Kind::Run:
            for (auto& m : in.as<RunData>().mounts) {
                x(m.target), x(m.source), x(m.from), x(m.id), x(m.mode), x(m.uid), x(m.gid), x(m.size), x(m.env);
                if (!m.from.empty()) add_source(st, m.from, DepKind::MountFrom, in);
            }
            break;
        default: break;  // RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/MAINTAINER/ONBUILD stay as written
        }
    }

    void check_port(const std::string& p, const Instruction& in) const {
        std::string num = p, proto;
        if (size_t slash = p.find('/'); slash != std::string::npos) num = p.substr(0, slash), proto = p.substr(slash + 1);
        std::string lo = num, hi;
        if (size_t dash = num.find('-'); dash != std::string::npos) lo = num.substr(0, dash), hi = num.substr(dash + 1);
        auto port_ok = [](const std::string& s) { return is_digits(s) && std::stoul(s) <= 65535; };
        std::string lp = proto;
        for (char& c : lp) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool ok = port_ok(lo) && (hi.empty() || (port_ok(hi) && std::stoul(hi) >= std::stoul(lo))) &&
                  (lp.empty() || lp == "tcp" || lp == "udp" || lp == "sctp");
        if (!ok) fail(in.loc, "EXPOSE", "invalid port \"" + p + "\"", "write PORT[/tcp|udp|sctp] or FROM-TO/PROTO, e.g. 8080/tcp");
    }

    void resolve_target() {
        if (opt_.target.empty()) {
            plan_.target = starts_.size() - 1;
            return;
        }
        auto t = stage_by_name(opt_.target, starts_.size());
        if (!t) {
            Location at{1, 1, 1};
            std::string close = closest_match(opt_.target, stage_names());
            std::string names = join(stage_names(), ", ");
            fail(at, "", "target stage \"" + opt_.target + "\" could not be found",
                 !close.empty() ? "did you mean \"" + close + "\"?"
                 : names.empty() ? "no stage has a name: add AS <name> to a FROM line"
                                 : "the named stages are " + names);
        }
        plan_.target = *t;
    }

    // Depth-first from the target; a grey node met again is a cycle.
    void order() {
        std::vector<int> mark(plan_.stages.size(), 0);
        std::function<void(size_t)> visit = [&](size_t s) {
            if (mark[s] == 2) return;
            const Stage& st = plan_.stages[s];
            if (mark[s] == 1) fail(st.loc, "FROM", "circular dependency detected on stage: " + st.display());
            mark[s] = 1;
            for (const auto& d : st.deps) visit(d.stage);
            mark[s] = 2;
            plan_.order.push_back(s);
        };
        visit(plan_.target);
    }
};

}  // namespace

std::vector<std::vector<size_t>> BuildPlan::waves() const {
    std::map<size_t, size_t> wave_of;
    std::vector<std::vector<size_t>> out;
    for (size_t s : order) {  // dependencies come first in `order`
        size_t w = 0;
        for (const auto& d : stages[s].deps) w = std::max(w, wave_of.at(d.stage) + 1);
        wave_of[s] = w;
        if (out.size() <= w) out.resize(w + 1);
        out[w].push_back(s);
    }
    return out;
}

std::string Stage::display() const { return name.empty() ? "stage-" + std::to_string(index) : name; }

std::map<std::string, std::string> platform_args() {
    struct utsname u {};
    std::string machine = ::uname(&u) == 0 ? u.machine : "x86_64";
    std::string arch = machine, variant;
    if (machine == "x86_64") arch = "amd64";
    else if (machine == "aarch64" || machine == "arm64") arch = "arm64";
    else if (machine == "i686" || machine == "i386") arch = "386";
    else if (machine.rfind("armv7", 0) == 0) arch = "arm", variant = "v7";
    else if (machine.rfind("armv6", 0) == 0) arch = "arm", variant = "v6";
    std::string platform = "linux/" + arch + (variant.empty() ? "" : "/" + variant);
    std::map<std::string, std::string> out;
    for (std::string p : {"TARGET", "BUILD"}) {
        out[p + "PLATFORM"] = platform;
        out[p + "OS"] = "linux";
        out[p + "ARCH"] = arch;
        out[p + "VARIANT"] = variant;
    }
    return out;
}

BuildPlan plan_build(const Dockerfile& df, const BuildOptions& opt) { return Planner(df, opt).run(); }

}  // namespace berth::build
