// Reading a Dockerfile into logical lines: directives, comments,
// continuations, here-document bodies; then the stage-level rules.
#include "build/parser.h"

#include "base/error.h"
#include "build/parse_internal.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace berth::build {
namespace detail {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string upper(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    return r;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    return r;
}

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

void fail(const Ctx& ctx, const LogicalLine& l, std::string_view what, const std::string& message,
          const std::string& hint, std::string_view near) {
    int col = l.loc.column;
    if (!near.empty()) {
        size_t at = l.text.find(near);
        if (at != std::string::npos && at < l.first_len) col += static_cast<int>(at);
    }
    std::string m = ctx.filename + ":" + std::to_string(l.loc.line) + ":" + std::to_string(col) + ": ";
    if (!what.empty()) m += std::string(what) + ": ";
    throw Error(m + message, hint);
}

}  // namespace detail

namespace {

using namespace detail;

struct Line {
    std::string_view text;  // without the line ending
    bool has_newline;
};

std::vector<Line> split_lines(std::string_view text) {
    std::vector<Line> out;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        bool has_nl = nl != std::string_view::npos;
        text.remove_prefix(has_nl ? nl + 1 : text.size());
        while (!l.empty() && (l.back() == '\r')) l.remove_suffix(1);
        out.push_back({l, has_nl});
    }
    return out;
}

std::string_view ltrim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    return s;
}

bool is_comment(std::string_view l) {
    l = ltrim(l);
    return !l.empty() && l[0] == '#';
}

// `# name = value` at the top of the file; nullopt ends the directive block.
std::optional<Directive> directive_of(std::string_view l) {
    l = ltrim(l);
    if (l.empty() || l[0] != '#') return std::nullopt;
    l = ltrim(l.substr(1));
    size_t i = 0;
    if (i >= l.size() || !std::isalpha(static_cast<unsigned char>(l[0]))) return std::nullopt;
    while (i < l.size() && std::isalnum(static_cast<unsigned char>(l[i]))) ++i;
    std::string name = lower(l.substr(0, i));
    std::string_view rest = ltrim(l.substr(i));
    if (rest.empty() || rest[0] != '=') return std::nullopt;
    std::string_view value = trim_blanks(rest.substr(1));
    if (value.empty()) return std::nullopt;
    if (name != "syntax" && name != "escape" && name != "check") return std::nullopt;
    return Directive{name, std::string(value), 0};
}

// Strips a trailing continuation token; true when the line continues.
bool trim_continuation(std::string& s, char escape) {
    size_t end = s.size();
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t')) --end;
    if (end == 0 || s[end - 1] != escape) return false;
    if (end >= 2 && s[end - 2] == escape) return false;  // an escaped escape token
    s.erase(end - 1);
    return true;
}

class Reader {
public:
    Reader(std::string_view text, const std::string& filename) : lines_(split_lines(text)) { ctx_.filename = filename; }

    Dockerfile run() {
        Dockerfile df;
        df.filename = ctx_.filename;
        read_directives(df);
        df.escape = ctx_.escape;
        ctx_.warnings = &df.warnings;
        while (next_logical()) {
            std::vector<Heredoc> docs;
            if (wants_heredocs(cur_.text, ctx_.escape) && cur_.text.find("<<") != std::string::npos)
                docs = read_heredocs();
            add(df, parse_instruction(ctx_, cur_, std::move(docs)));
        }
        if (df.instructions.empty()) {
            LogicalLine at{{}, {std::max(1, static_cast<int>(lines_.size())), 1, 0}, 0};
            if (df.meta_args.empty()) fail(ctx_, at, "", "file with no instructions", "a Dockerfile starts with FROM <image>");
            fail(ctx_, at, "", "no FROM instruction: the ARGs are never used", "add FROM <image> after the ARGs");
        }
        return df;
    }

private:
    std::vector<Line> lines_;
    size_t i_ = 0;
    Ctx ctx_;
    LogicalLine cur_;

    void read_directives(Dockerfile& df) {
        for (; i_ < lines_.size(); ++i_) {
            auto d = directive_of(lines_[i_].text);
            if (!d) break;
            d->line = static_cast<int>(i_) + 1;
            LogicalLine at{{}, {d->line, 1, d->line}, 0};
            for (const auto& seen : df.directives)
                if (seen.name == d->name)
                    fail(ctx_, at, "", "only one " + d->name + " parser directive can be used",
                         "remove the second '# " + d->name + "=' line");
            if (d->name == "escape") {
                if (d->value != "\\" && d->value != "`")
                    fail(ctx_, at, "", "invalid escape token '" + d->value + "' does not match ` or \\",
                         "use '# escape=\\' (the default) or '# escape=`'");
                ctx_.escape = d->value[0];
            }
            df.directives.push_back(std::move(*d));
        }
    }

    // The next instruction's logical line; false at the end of the file.
    bool next_logical() {
        for (; i_ < lines_.size(); ++i_) {
            std::string_view raw = lines_[i_].text;
            std::string_view t = ltrim(raw);
            if (t.empty() || t[0] == '#') continue;
            cur_ = LogicalLine{};
            cur_.loc.line = static_cast<int>(i_) + 1;
            cur_.loc.column = static_cast<int>(raw.size() - t.size()) + 1;
            std::string text(t);
            bool more = trim_continuation(text, ctx_.escape);
            cur_.first_len = text.size();
            ++i_;
            while (more && i_ < lines_.size()) {
                std::string_view next = lines_[i_++].text;
                if (is_comment(next) || ltrim(next).empty()) continue;
                std::string piece(next);
                more = trim_continuation(piece, ctx_.escape);
                text += piece;
            }
            cur_.text = std::move(text);
            cur_.loc.end_line = static_cast<int>(i_);
            if (trim_blanks(cur_.text).empty()) continue;  // a lone continuation token
            return true;
        }
        return false;
    }

    std::vector<Heredoc> read_heredocs() {
        std::vector<Heredoc> docs;
        try {
            docs = heredocs_in_line(cur_.text);
        } catch (const Error& e) {
            fail(ctx_, cur_, upper(split_keyword(cur_.text).first), e.message(), e.hint());
        }
        for (Heredoc& h : docs) {
            bool done = false;
            while (i_ < lines_.size()) {
                const Line& l = lines_[i_++];
                std::string_view body = l.text;
                if (h.chomp) body.remove_prefix(std::min(body.find_first_not_of('\t'), body.size()));
                if (body == h.name) {
                    done = true;
                    break;
                }
                h.content.append(body);
                if (l.has_newline) h.content += '\n';
            }
            if (!done)
                fail(ctx_, cur_, upper(split_keyword(cur_.text).first),
                     "unterminated heredoc <<" + h.name + ": no line '" + h.name + "' ends it",
                     "end the here-document with a line holding only " + h.name);
        }
        cur_.loc.end_line = static_cast<int>(i_);
        return docs;
    }

    void add(Dockerfile& df, Instruction in) {
        if (df.instructions.empty() && in.kind != Kind::From) {
            if (in.kind == Kind::Arg) {
                df.meta_args.push_back(in.as<ArgData>());
                df.meta_arg_locs.push_back(in.loc);
                return;
            }
            fail(ctx_, cur_, kind_name(in.kind), "no build stage in current context",
                 "the first instruction must be FROM (only ARG may come before it)");
        }
        df.instructions.push_back(std::move(in));
    }
};

}  // namespace

const char* kind_name(Kind k) {
    switch (k) {
    case Kind::From: return "FROM";
    case Kind::Run: return "RUN";
    case Kind::Cmd: return "CMD";
    case Kind::Label: return "LABEL";
    case Kind::Expose: return "EXPOSE";
    case Kind::Env: return "ENV";
    case Kind::Add: return "ADD";
    case Kind::Copy: return "COPY";
    case Kind::Entrypoint: return "ENTRYPOINT";
    case Kind::Volume: return "VOLUME";
    case Kind::User: return "USER";
    case Kind::Workdir: return "WORKDIR";
    case Kind::Arg: return "ARG";
    case Kind::Onbuild: return "ONBUILD";
    case Kind::StopSignal: return "STOPSIGNAL";
    case Kind::Healthcheck: return "HEALTHCHECK";
    case Kind::Shell: return "SHELL";
    case Kind::Maintainer: return "MAINTAINER";
    }
    return "?";
}

const char* mount_type_name(MountType t) {
    switch (t) {
    case MountType::Bind: return "bind";
    case MountType::Cache: return "cache";
    case MountType::Tmpfs: return "tmpfs";
    case MountType::Secret: return "secret";
    case MountType::Ssh: return "ssh";
    }
    return "?";
}

Dockerfile parse_dockerfile(std::string_view text, const std::string& filename) {
    return Reader(text, filename).run();
}

Dockerfile load_dockerfile(const std::string& path, const std::string& display) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        Error e = Error::sys(errno, "cannot read the Dockerfile " + path);
        e.set_hint("give the build's `dockerfile:` relative to its context, or write the file");
        throw e;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_dockerfile(ss.str(), display.empty() ? path : display);
}

}  // namespace berth::build
