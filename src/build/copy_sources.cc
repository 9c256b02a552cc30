// COPY/ADD sources: what a step copies, matched in the context (what
// .dockerignore leaves), a named context, or a stage's or image's tree, with
// --exclude applied; the digest of it all that keys the step in the cache.
#include "base/error.h"
#include "base/fd.h"
#include "base/sha256.h"
#include "build/builder_internal.h"
#include "build/copy_internal.h"
#include "runtime/user.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <functional>
#include <memory>
#include <glob.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::build::detail {

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// The sha256 hex of a file's bytes.
std::string file_sha256(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw Error::sys(errno, "read " + path);
    Sha256 h;
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + path);
        h.update(buf, static_cast<size_t>(n));
    }
    return h.hex();
}

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string base_name(const std::string& rel) {
    auto s = rel.rfind('/');
    return s == std::string::npos ? rel : rel.substr(s + 1);
}

Error step_error(const StepEnv& env, const Step& step, const std::string& what, const std::string& hint) {
    return Error(env.df.filename + ":" + std::to_string(step.inst.loc.line) + ":" + std::to_string(step.inst.loc.column) +
                     ": " + kind_name(step.inst.kind) + ": " + what,
                 hint);
}

namespace {

// `**` in a COPY --parents source: any number of directories (BuildKit's
// include patterns); elsewhere a glob's `*` never crosses a '/'.
std::function<bool(const std::string&)> glob_matcher(const std::string& pattern, bool deep) {
    if (deep && pattern.find("**") != std::string::npos) {
        auto p = std::make_shared<IgnorePattern>(pattern, false);
        return [p](const std::string& rel) { return p->matches(rel); };
    }
    return [pattern](const std::string& rel) { return source_matches(pattern, rel); };
}

std::vector<Source> match_context(Context& ctx, const std::string& src, bool deep) {
    const auto& all = ctx.entries();
    std::string c = clean_source(src);
    std::vector<Source> out;
    auto add = [&](const std::string& rel, const struct stat& st) {
        Source s{rel, 0, st, {}};
        if (S_ISDIR(st.st_mode)) {
            std::string prefix = rel.empty() ? "" : rel + "/";
            auto it = std::lower_bound(all.begin(), all.end(), prefix,
                                       [](const Context::Entry& e, const std::string& p) { return e.rel < p; });
            for (; it != all.end() && it->rel.compare(0, prefix.size(), prefix) == 0; ++it)
                if (it->rel != rel) s.children.push_back(*it);
        }
        out.push_back(std::move(s));
    };
    if (c.empty()) {
        struct stat st {};
        if (::stat(ctx.dir().c_str(), &st) < 0) throw Error::sys(errno, "stat " + ctx.dir());
        add("", st);
    } else if (has_glob(c)) {
        auto match = glob_matcher(c, deep);
        for (const auto& e : all)
            if (match(e.rel)) add(e.rel, e.st);
    } else {
        auto it = std::lower_bound(all.begin(), all.end(), c, [](const Context::Entry& e, const std::string& p) { return e.rel < p; });
        if (it != all.end() && it->rel == c) add(it->rel, it->st);
    }
    return out;
}

std::vector<Source> match_tree(const std::string& root, const std::string& src, bool deep) {
    std::string c = clean_source(src);
    std::vector<std::string> rels;
    if (has_glob(c) && deep && c.find("**") != std::string::npos) {
        auto match = glob_matcher(c, true);
        std::error_code ec;
        for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            std::string rel = it->path().string().substr(root.size() + 1);
            if (match(rel)) rels.push_back(rel);
        }
        std::sort(rels.begin(), rels.end());
    } else if (has_glob(c)) {
        glob_t g{};
        if (::glob((root + "/" + c).c_str(), GLOB_NOSORT, nullptr, &g) == 0)
            for (size_t i = 0; i < g.gl_pathc; ++i) rels.push_back(std::string(g.gl_pathv[i]).substr(root.size() + 1));
        globfree(&g);
        std::sort(rels.begin(), rels.end());
    } else {
        rels.push_back(c);
    }
    std::vector<Source> out;
    std::error_code cec;
    const std::string croot = fs::weakly_canonical(root, cec).string();
    for (const auto& rel : rels) {
        Source s;
        s.rel = rel;
        std::string abs = rel.empty() ? root : root + "/" + rel;
        if (::lstat(abs.c_str(), &s.st) < 0) continue;
        // A symlink on the way must not lead out of the tree (to the host's files).
        std::error_code ec;
        std::string parent = fs::weakly_canonical(fs::path(abs).parent_path(), ec).string();
        if (ec || (parent != croot && parent.rfind(croot + "/", 0) != 0))
            throw Error("\"" + src + "\" goes through a symlink that leads out of the stage's filesystem",
                        "name the path without the symlink");
        if (S_ISDIR(s.st.st_mode)) {
            std::error_code ec;
            for (fs::recursive_directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) {
                Context::Entry e;
                e.rel = it->path().string().substr(root.size() + 1);
                if (::lstat(it->path().c_str(), &e.st) == 0) s.children.push_back(std::move(e));
            }
            std::sort(s.children.begin(), s.children.end(), [](const auto& a, const auto& b) { return a.rel < b.rel; });
        }
        out.push_back(std::move(s));
    }
    return out;
}


}  // namespace
namespace {

// COPY --exclude: patterns (.dockerignore's rules) matched against each path
// relative to the directory it is copied from, and against its whole path.
void exclude(Sources& s, const IgnoreMatcher& m) {
    std::vector<Source> kept;
    for (auto& src : s.list) {
        std::string base = base_name(src.rel);
        if (!src.rel.empty() && (m.excluded(base) || m.excluded(src.rel))) continue;
        size_t cut = src.rel.empty() ? 0 : src.rel.size() + 1;
        std::vector<Context::Entry> children;
        for (auto& c : src.children)
            if (!m.excluded(c.rel.substr(cut)) && !m.excluded(c.rel)) children.push_back(std::move(c));
        src.children = std::move(children);
        kept.push_back(std::move(src));
    }
    s.list = std::move(kept);
}

}  // namespace

Sources find_sources(StepEnv& env, Context& ctx, const Step& step, const std::string& other_root) {
    const auto& d = step.inst.as<CopyData>();
    Sources s;
    s.from_other = !other_root.empty();
    for (const auto& src : d.sources) {
        if (is_url(src) && step.inst.kind == Kind::Add) continue;  // fetched (Context::fetched)
        if (is_url(src)) throw step_error(env, step, "COPY does not fetch " + src, "use ADD for a URL");
        if (src.find("://") != std::string::npos || src.rfind("git@", 0) == 0)
            throw step_error(env, step, "fetching " + src + " is not supported yet", "download it into the context and COPY it");
        // --parents: a `/./` in the path (rsync's --relative marker, as BuildKit) drops what is before it.
        std::string path = src;
        size_t pivot = d.parents ? src.find("/./") : std::string::npos;
        std::string dropped = pivot == std::string::npos ? "" : clean_source(src.substr(0, pivot));
        if (pivot != std::string::npos) path = src.substr(0, pivot) + "/" + src.substr(pivot + 3);
        auto found = s.from_other ? match_tree(other_root, path, d.parents) : match_context(ctx, path, d.parents);
        if (!dropped.empty())
            for (auto& f : found) f.kept = f.rel.size() > dropped.size() ? dropped.size() + 1 : f.rel.size();
        if (found.empty())
            throw step_error(env, step,
                             s.from_other ? "\"" + src + "\" not found in " + d.from
                                          : "\"" + src + "\": not found in the build context or excluded by .dockerignore",
                             s.from_other ? "" : "check the path (relative to the context " + ctx.dir() + ") and .dockerignore");
        for (auto& f : found) s.list.push_back(std::move(f));
    }
    if (!d.excludes.empty()) exclude(s, IgnoreMatcher(d.excludes));
    return s;
}


namespace {

// One entry's part of a COPY digest: name, mode, size (owners too when they are kept), content or link target.
template <class Digest>
void hash_entry(Sha256& h, const std::string& root, const std::string& name, const Context::Entry& e, bool owners,
                const Digest& digest) {
    char meta[128];
    std::snprintf(meta, sizeof meta, " %o %lld", static_cast<unsigned>(e.st.st_mode), static_cast<long long>(e.st.st_size));
    h.update(name + meta);
    if (owners) h.update(" " + std::to_string(e.st.st_uid) + ":" + std::to_string(e.st.st_gid));
    h.update("\n");
    if (S_ISREG(e.st.st_mode)) h.update(digest(e));
    if (S_ISLNK(e.st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlink((root + "/" + e.rel).c_str(), buf, sizeof buf);
        if (n > 0) h.update(buf, static_cast<size_t>(n));
    }
}

// What a COPY --from copies, by content: a change elsewhere in the stage reruns
// nothing. A stage's key names its content, so the digest is kept per key and
// sources (build-cache/from-*) and an unchanged rebuild mounts nothing.
std::string from_digest(StepEnv& env, const Step& step) {
    const auto& d = step.inst.as<CopyData>();
    ImageState src = resolve_from(env, step, d.from);
    std::string memo_key = src.key;
    for (const auto& x : d.sources) memo_key += "\n" + x;
    std::string memo = env.req.state_root + "/build-cache/from-" + sha256_hex(memo_key);
    if (!env.req.no_cache) {
        std::ifstream in(memo);
        std::string known;
        if (in >> known && known.size() == 64) return known;
    }
    ScratchDir dir(env.req.state_root);
    OverlayMount tree(layer_dirs(env.store, src), dir, false);
    Context none(tree.root(), {}, env.req);
    Sources s = find_sources(env, none, step, tree.root());
    Sha256 h;
    auto digest = [&](const Context::Entry& e) { return file_sha256(tree.root() + "/" + e.rel); };
    for (const auto& x : s.list) {
        hash_entry(h, tree.root(), "source " + x.rel, {x.rel, x.st}, true, digest);
        for (const auto& c : x.children) hash_entry(h, tree.root(), c.rel, c, true, digest);
    }
    std::string out = h.hex();
    std::ofstream(memo) << out << "\n";
    return out;
}

}  // namespace

std::string clean_source(std::string_view src) {
    std::string n = fs::path("/" + std::string(src)).lexically_normal().string();
    while (!n.empty() && n.front() == '/') n.erase(0, 1);
    while (!n.empty() && n.back() == '/') n.pop_back();
    if (n == ".") n.clear();
    return n;
}

bool source_matches(std::string_view pattern, std::string_view rel) {
    return ::fnmatch(std::string(pattern).c_str(), std::string(rel).c_str(), FNM_PATHNAME) == 0;
}

std::string copy_target(const std::string& dest, const std::string& source_base, bool dest_is_dir) {
    if (!dest_is_dir) return dest;
    return (dest == "/" ? "" : dest) + "/" + source_base;
}

Context::Context(std::string dir, std::string dockerfile, const BuildRequest& req)
    : dir_(std::move(dir)), dockerfile_(std::move(dockerfile)), req_(req) {}

const std::string& Context::fetched(const std::string& url) {
    std::lock_guard lock(mu_);
    if (auto it = fetched_.find(url); it != fetched_.end()) return it->second;
    if (!req_.fetch) throw Error("fetching " + url + " is not supported here");
    if (!downloads_) downloads_ = std::make_unique<ScratchDir>(req_.state_root);
    std::string file = downloads_->path() + "/" + std::to_string(fetched_.size());
    req_.fetch(url, file);
    return fetched_[url] = file;
}

const std::vector<Context::Entry>& Context::entries() {
    std::lock_guard lock(mu_);
    if (!entries_) {
        entries_.emplace();
        IgnoreMatcher m = load_ignore(dir_, dockerfile_);
        walk_context(dir_, m, [&](const std::string& rel, const struct stat& st) { entries_->push_back({rel, st}); });
        std::sort(entries_->begin(), entries_->end(), [](const Entry& a, const Entry& b) { return a.rel < b.rel; });
    }
    return *entries_;
}

std::string Context::file_digest(const Entry& e) {
    {
        std::lock_guard lock(mu_);
        auto it = digests_.find(e.rel);
        if (it != digests_.end()) return it->second;
    }
    std::string d = file_sha256(dir_ + "/" + e.rel);
    std::lock_guard lock(mu_);
    return digests_[e.rel] = d;
}

std::string copy_digest(StepEnv& env, Context& ctx, const Step& step, const ImageState&) {
    const auto& d = step.inst.as<CopyData>();
    Sha256 h;
    for (const auto& in : d.inline_sources) h.update("inline " + in.name + "\n" + in.content + "\n");
    if (!d.checksum.empty()) {
        if (d.checksum.rfind("sha256:", 0) != 0 || d.checksum.size() != 71)
            throw step_error(env, step, "unsupported --checksum=" + d.checksum, "give sha256: and the 64 hex digits of the file");
        if (d.sources.size() != 1 || !is_url(d.sources[0]))
            throw step_error(env, step, "--checksum checks one URL, not " + std::to_string(d.sources.size()) + " local source(s)",
                             "use it with ADD of one http:// or https:// URL");
    }
    for (const auto& src : d.sources)
        if (is_url(src) && step.inst.kind == Kind::Add) {
            std::string sum;
            try {
                sum = file_sha256(ctx.fetched(src));
            } catch (const Error& e) {
                throw step_error(env, step, e.message(), e.hint());
            }
            std::string want = d.checksum.empty() ? sum : d.checksum.substr(7);
            for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (want != sum)
                throw step_error(env, step, "checksum of " + src + " does not match: expected " + d.checksum + ", got sha256:" + sum,
                                 "the file changed on the server, or the --checksum is wrong");
            h.update("url " + src + " " + sum + "\n");
        }
    std::string named = d.from.empty() ? "" : named_context_dir(env.req, d.from);
    if (!d.from.empty() && named.empty()) {
        h.update("from " + from_digest(env, step));
        return h.hex();
    }
    std::optional<Context> other;
    if (!named.empty()) other.emplace(named, std::string(), env.req);
    Context& c = other ? *other : ctx;
    Sources s = find_sources(env, c, step, {});
    for (const auto& src : s.list) {
        hash_entry(h, c.dir(), "source " + src.rel, {src.rel, src.st}, false, [&](const auto& e) { return c.file_digest(e); });
        for (const auto& ch : src.children)
            hash_entry(h, c.dir(), ch.rel, ch, false, [&](const auto& e) { return c.file_digest(e); });
    }
    return h.hex();
}

}  // namespace berth::build::detail
