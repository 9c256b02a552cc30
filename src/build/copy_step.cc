// COPY and ADD: sources from the context (what .dockerignore leaves), a stage
// or an image, copied by docker's rules into an overlay of the layers below.
// The copying runs chrooted in the image (run_in_root), so the image's own
// symlinks on the destination path resolve inside it.
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
#include <glob.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::build::detail {
namespace {

// The file name ADD gives a URL's content: the last segment of its path.
std::string url_file_name(const std::string& url) {
    std::string path = url.substr(url.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    auto slash = path.find('/');
    path = slash == std::string::npos ? "" : path.substr(slash);
    while (!path.empty() && path.back() == '/') path.pop_back();
    std::string name = path.substr(path.rfind('/') + 1);
    return name;
}


bool is_archive(const std::string& path) {
    archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    bool ok = false;
    if (archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK) {
        archive_entry* e = nullptr;
        ok = archive_read_next_header(a, &e) == ARCHIVE_OK;
    }
    archive_read_free(a);
    return ok;
}

// Unpacks the archive open at `fd` into the current directory (in the chroot).
void unpack(int fd, const std::string& dest) {
    if (::chdir(dest.c_str()) < 0) throw Error::sys(errno, "chdir " + dest);
    archive* a = archive_read_new();
    archive* w = archive_write_disk_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                          ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    std::string err;
    if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) err = archive_error_string(a);
    archive_entry* e = nullptr;
    while (err.empty()) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) err = archive_error_string(a);
        else if (archive_write_header(w, e) != ARCHIVE_OK) err = std::string(archive_entry_pathname(e)) + ": " + archive_error_string(w);
        else {
            const void* buf;
            size_t size;
            la_int64_t off;
            while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(w, buf, size, off) != ARCHIVE_OK) break;
            archive_write_finish_entry(w);
        }
    }
    archive_write_free(w);
    archive_read_free(a);
    if (!err.empty()) throw Error("unpack archive: " + err);
}

// What the copy of one entry does to its target, in the chroot.
struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
    bool keep = false;  // keep the source's owner (COPY --from without --chown)
    std::optional<mode_t> mode;
};

void mkdir_p(const std::string& path) {
    std::string cur;
    for (const auto& part : fs::path(path)) {
        if (part == "/") continue;
        cur += "/" + part.string();
        struct stat st {};
        if (::stat(cur.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) throw Error("cannot copy to " + path + ": " + cur + " is not a directory");
            continue;
        }
        if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) throw Error::sys(errno, "mkdir " + cur);
    }
}

void copy_data(int in, int out, const std::string& what) {
    for (;;) {
        ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n == 0) return;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) throw Error::sys(errno, "copy " + what);
        break;
    }
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(in, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + what);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
            if (w < 0) throw Error::sys(errno, "write " + what);
            off += w;
        }
    }
}

void clear_target(const std::string& dst, bool want_dir) {
    struct stat st {};
    if (::lstat(dst.c_str(), &st) < 0) return;
    if (S_ISDIR(st.st_mode)) {
        if (!want_dir) throw Error("cannot copy to " + dst + ": a directory is there");
        return;
    }
    if (::unlink(dst.c_str()) < 0) throw Error::sys(errno, "replace " + dst);
}

void copy_entry(int root, const std::string& rel, const struct stat& st, const std::string& dst, const Owner& o) {
    uid_t uid = o.keep ? st.st_uid : o.uid;
    gid_t gid = o.keep ? st.st_gid : o.gid;
    mode_t mode = o.mode ? *o.mode : (st.st_mode & 07777);
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (S_ISDIR(st.st_mode)) {
        clear_target(dst, true);
        struct stat cur {};
        if (::lstat(dst.c_str(), &cur) == 0) return;  // an existing directory keeps its metadata
        if (::mkdir(dst.c_str(), mode) < 0) throw Error::sys(errno, "mkdir " + dst);
        if (::lchown(dst.c_str(), uid, gid) < 0 || ::chmod(dst.c_str(), mode) < 0) throw Error::sys(errno, "chown " + dst);
        return;
    }
    clear_target(dst, false);
    if (S_ISREG(st.st_mode)) {
        UniqueFd in(::openat(root, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!in) throw Error::sys(errno, "open " + rel);
        UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw Error::sys(errno, "create " + dst);
        copy_data(in.get(), out.get(), rel);
        if (::fchown(out.get(), uid, gid) < 0 || ::fchmod(out.get(), mode) < 0) throw Error::sys(errno, "chown " + dst);
        ::futimens(out.get(), times);
    } else if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(root, rel.c_str(), buf, sizeof buf);
        if (n < 0) throw Error::sys(errno, "readlink " + rel);
        if (::symlink(std::string(buf, static_cast<size_t>(n)).c_str(), dst.c_str()) < 0) throw Error::sys(errno, "symlink " + dst);
        ::lchown(dst.c_str(), uid, gid);
        ::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
        if (::mkfifo(dst.c_str(), mode) < 0) throw Error::sys(errno, "mkfifo " + dst);
        ::lchown(dst.c_str(), uid, gid);
    }  // sockets and devices of a context are not copied, as docker
}

std::string read_text(const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A file of the image these layers (top first) make, read from the top-most that has it; "" when none does.
std::string layer_file_text(const std::vector<std::string>& layers, const std::string& rel) {
    for (const auto& l : layers) {
        std::string p = l + "/" + rel;
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return read_text(p.c_str());
    }
    return {};
}

// `users`: the image's /etc/passwd and /etc/group when not read in the chroot (--link copies into an empty tree).
Owner resolve_owner(const CopyData& d, bool from_other, const std::optional<std::pair<std::string, std::string>>& users) {
    Owner o;
    o.keep = from_other && d.chown.empty();
    if (!d.chown.empty()) {
        std::string u = d.chown, g;
        if (auto c = u.find(':'); c != std::string::npos) g = u.substr(c + 1), u = u.substr(0, c);
        bool numeric = !u.empty() && u.find_first_not_of("0123456789") == std::string::npos;
        auto r = users ? runtime::resolve_user(d.chown, {}, users->first, users->second)
                       : runtime::resolve_user(d.chown, {}, read_text("/etc/passwd"), read_text("/etc/group"));
        o.uid = r.uid;
        o.gid = g.empty() && numeric ? r.uid : r.gid;
    }
    if (!d.chmod.empty()) {
        unsigned m = 0;
        auto [p, ec] = std::from_chars(d.chmod.data(), d.chmod.data() + d.chmod.size(), m, 8);
        if (ec != std::errc() || p != d.chmod.data() + d.chmod.size() || m > 07777)
            throw Error("invalid --chmod=" + d.chmod, "give an octal mode such as 0755");
        o.mode = m;
    }
    return o;
}

std::string dest_path(const CopyData& d, const ImageState& st, bool* slash) {
    std::string dest = d.dest;
    *slash = !dest.empty() && (dest.back() == '/' || dest == "." || (dest.size() >= 2 && dest.compare(dest.size() - 2, 2, "/.") == 0));
    if (dest.empty() || dest[0] != '/') {
        std::string wd = st.config.value("config", nlohmann::json::object()).value("WorkingDir", std::string());
        dest = (wd.empty() ? "/" : wd) + "/" + dest;
    }
    std::string n = fs::path(dest).lexically_normal().string();
    while (n.size() > 1 && n.back() == '/') n.pop_back();
    return n;
}
}  // namespace

void copy_step(StepEnv& env, Context& main_ctx, const Step& step, ImageState& st) {
    const auto& d = step.inst.as<CopyData>();
    ScratchDir dir(env.req.state_root);
    // --from: the stage's or image's tree, read-only.
    std::unique_ptr<ScratchDir> other_dir;
    std::unique_ptr<OverlayMount> other;
    std::string named = d.from.empty() ? "" : named_context_dir(env.req, d.from);
    std::optional<Context> named_ctx;
    if (!named.empty()) named_ctx.emplace(named, std::string(), env.req);
    Context& ctx = named_ctx ? *named_ctx : main_ctx;
    if (!d.from.empty() && named.empty()) {
        ImageState src = resolve_from(env, step, d.from);
        other_dir = std::make_unique<ScratchDir>(env.req.state_root);
        other = std::make_unique<OverlayMount>(layer_dirs(env.store, src), *other_dir, false);
    }
    Sources s = find_sources(env, ctx, step, other ? other->root() : std::string());
    std::string root_dir = other ? other->root() : ctx.dir();
    UniqueFd root(::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw Error::sys(errno, "open " + root_dir);
    // ADD unpacks local tar archives.
    std::map<std::string, UniqueFd> archives;
    if (step.inst.kind == Kind::Add)
        for (const auto& src : s.list)
            if (S_ISREG(src.st.st_mode) && is_archive(root_dir + "/" + src.rel))
                archives[src.rel] = UniqueFd(::openat(root.get(), src.rel.c_str(), O_RDONLY | O_CLOEXEC));
    // ADD's URLs: fetched files, opened before the chroot.
    std::vector<std::pair<std::string, UniqueFd>> urls;
    for (const auto& src : d.sources)
        if (is_url(src) && step.inst.kind == Kind::Add) {
            std::string name = url_file_name(src);
            UniqueFd fd(::open(ctx.fetched(src).c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) throw Error::sys(errno, "open the download of " + src);
            urls.emplace_back(name, std::move(fd));
        }
    bool slash = false;
    std::string dest = dest_path(d, st, &slash);
    size_t count = s.list.size() + d.inline_sources.size() + urls.size();
    bool wildcard = std::any_of(d.sources.begin(), d.sources.end(), [](const std::string& x) { return has_glob(x); });

    // --link: the files land in a layer of their own, made over an empty tree
    // (the layers below are neither read nor followed), as BuildKit's linked copies.
    std::vector<std::string> below = layer_dirs(env.store, st);
    std::optional<std::pair<std::string, std::string>> users;
    if (d.link && !d.chown.empty()) users.emplace(layer_file_text(below, "etc/passwd"), layer_file_text(below, "etc/group"));
    std::optional<OverlayMount> target;
    target.emplace(d.link ? std::vector<std::string>{} : below, dir, true);
    try {
        run_in_root(target->root(), [&] {
            Owner o = resolve_owner(d, s.from_other, users);
            struct stat dst {};
            bool dest_dir = d.parents || slash || count > 1 || wildcard || (::stat(dest.c_str(), &dst) == 0 && S_ISDIR(dst.st_mode));
            auto parent_of = [](const std::string& p) { return fs::path(p).parent_path().string(); };
            auto under = [](const std::string& dir, const std::string& rel) { return (dir == "/" ? "" : dir) + "/" + rel; };
            for (const auto& src : s.list) {
                if (S_ISDIR(src.st.st_mode)) {
                    // --parents keeps the directory's own path under the destination.
                    std::string kept = src.rel.substr(src.kept);
                    std::string to = d.parents && !kept.empty() ? under(dest, kept) : dest;
                    mkdir_p(parent_of(to));
                    copy_entry(root.get(), src.rel.empty() ? "." : src.rel, src.st, to, o);
                    size_t cut = src.rel.empty() ? 0 : src.rel.size() + 1;
                    for (const auto& c : src.children) copy_entry(root.get(), c.rel, c.st, under(to, c.rel.substr(cut)), o);
                    continue;
                }
                if (auto a = archives.find(src.rel); a != archives.end()) {
                    mkdir_p(dest);
                    unpack(a->second.get(), dest);
                    continue;
                }
                std::string kept = src.rel.substr(src.kept);
                std::string t = d.parents && !kept.empty() ? under(dest, kept) : copy_target(dest, base_name(src.rel), dest_dir);
                mkdir_p(parent_of(t));
                copy_entry(root.get(), src.rel, src.st, t, o);
            }
            for (const auto& [name, fd] : urls) {
                if (name.empty() && dest_dir) throw Error("cannot tell a file name from the URL: give ADD a file as destination");
                std::string t = copy_target(dest, name, dest_dir);
                mkdir_p(parent_of(t));
                clear_target(t, false);
                UniqueFd out(::open(t.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, o.mode.value_or(0600)));
                if (!out) throw Error::sys(errno, "create " + t);
                copy_data(fd.get(), out.get(), t);
                if (::fchown(out.get(), o.uid, o.gid) < 0) throw Error::sys(errno, "chown " + t);
            }
            for (const auto& in : d.inline_sources) {
                std::string t = copy_target(dest, in.name, dest_dir);
                mkdir_p(parent_of(t));
                clear_target(t, false);
                UniqueFd out(::open(t.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, o.mode.value_or(0644)));
                if (!out) throw Error::sys(errno, "create " + t);
                if (::write(out.get(), in.content.data(), in.content.size()) != static_cast<ssize_t>(in.content.size()))
                    throw Error::sys(errno, "write " + t);
                ::fchown(out.get(), o.uid, o.gid);
            }
        });
    } catch (const Error& e) {
        throw step_error(env, step, e.message(), e.hint());
    }
    std::string upper = target->upper();
    target.reset();  // unmounted before its upper dir is read
    if (auto l = commit_layer(env.store, upper, dir)) st.layers.push_back(*l);
}

void workdir_step(StepEnv& env, const Step& step, ImageState& st) {
    std::string wd = step.inst.as<StringData>().value;
    nlohmann::json& c = st.config["config"];
    if (!c.is_object()) c = nlohmann::json::object();
    if (wd.empty() || wd[0] != '/') {
        std::string cur = c.value("WorkingDir", std::string());
        wd = (cur.empty() ? "/" : cur) + "/" + wd;
    }
    wd = fs::path(wd).lexically_normal().string();
    while (wd.size() > 1 && wd.back() == '/') wd.pop_back();
    c["WorkingDir"] = wd;
    if (wd == "/" || path_in_layers(layer_dirs(env.store, st), wd.substr(1))) return;
    ScratchDir dir(env.req.state_root);
    std::optional<OverlayMount> target;
    target.emplace(layer_dirs(env.store, st), dir, true);
    try {
        run_in_root(target->root(), [&] { mkdir_p(wd); });
    } catch (const Error& e) {
        throw step_error(env, step, e.message(), e.hint());
    }
    std::string upper = target->upper();
    target.reset();
    if (auto l = commit_layer(env.store, upper, dir)) st.layers.push_back(*l);
}

}  // namespace berth::build::detail
