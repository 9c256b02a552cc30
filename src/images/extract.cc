#include "images/extract.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "base/sha256.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sched.h>
#include <vector>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::images {

const char* archive_message(archive* a) {
    const char* m = archive_error_string(a);
    return m ? m : "unreadable archive (libarchive gave no reason)";
}

namespace {

using ReadArchive = std::unique_ptr<archive, decltype(&archive_read_free)>;
using WriteArchive = std::unique_ptr<archive, decltype(&archive_write_free)>;

ReadArchive open_read(const std::string& path, bool raw) {
    ReadArchive a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    if (raw) archive_read_support_format_raw(a.get());
    else archive_read_support_format_tar(a.get()), archive_read_support_format_gnutar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
        throw Error("cannot read " + path + ": " + archive_message(a.get()));
    return a;
}

// The entry's path made relative and checked: no absolute path, no "..".
std::string safe_relative(const char* raw, const char* what) {
    std::string p = raw ? raw : "";
    if (p.empty()) throw Error(std::string(what) + " has an empty name");
    if (p[0] == '/') throw Error(std::string(what) + " \"" + p + "\" is an absolute path");
    std::string out;
    for (const auto& part : fs::path(p)) {
        std::string s = part.string();
        if (s == "..") throw Error(std::string(what) + " \"" + p + "\" points outside the layer (\"..\")");
        if (s == "." || s.empty()) continue;
        out += (out.empty() ? "" : "/") + s;
    }
    return out;
}

// No component of dir/rel's parent may be a symlink (a whiteout must not follow one out).
void check_no_symlink_parents(const std::string& dir, const std::string& rel) {
    std::string cur = dir;
    fs::path parent = fs::path(rel).parent_path();
    for (const auto& part : parent) {
        cur += "/" + part.string();
        struct stat st {};
        if (::lstat(cur.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
            throw Error("layer entry \"" + rel + "\" goes through the symlink " + cur.substr(dir.size() + 1));
    }
}

std::string temp_sibling(const std::string& dest) {
    std::random_device rd;
    char buf[32];
    snprintf(buf, sizeof buf, ".tmp-%08x", rd());
    return (fs::path(dest).parent_path() / (fs::path(dest).filename().string() + buf)).string();
}

// A layer blob read through a LayerSource (a download still arriving) as a libarchive source.
// An exception from the source is kept and rethrown once libarchive returns.
struct Streamed {
    explicit Streamed(const LayerSource& s) : source(s) {}
    static la_ssize_t read(archive* a, void* ud, const void** out) {
        auto* s = static_cast<Streamed*>(ud);
        try {
            *out = s->buf.data();
            return static_cast<la_ssize_t>(s->source(s->buf.data(), s->buf.size()));
        } catch (...) {
            s->error = std::current_exception();
            archive_set_error(a, EIO, "the layer's bytes stopped coming");
            return -1;
        }
    }
    void rethrow() {
        if (error) std::rethrow_exception(error);
    }
    const LayerSource& source;
    std::vector<char> buf = std::vector<char>(1 << 17);
    std::exception_ptr error;
};

ReadArchive open_raw(Streamed& s, const std::string& what) {
    ReadArchive a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    if (archive_read_open(a.get(), &s, nullptr, &Streamed::read, nullptr) != ARCHIVE_OK) {
        s.rethrow();
        throw Error("cannot read " + what + ": " + archive_message(a.get()));
    }
    return a;
}

// A layer's decompressed bytes as a libarchive read source for the tar reader, hashed on the
// way: the diff_id comes out of the same single decompression pass as the files.
struct Decompressed {
    Decompressed(ReadArchive r, const std::string& p, Streamed* s = nullptr) : raw(std::move(r)), path(p), streamed(s) {
        archive_entry* e = nullptr;
        if (archive_read_next_header(raw.get(), &e) != ARCHIVE_OK) fail();
    }
    explicit Decompressed(const std::string& p) : Decompressed(open_read(p, true), p) {}
    [[noreturn]] void fail() {
        if (streamed) streamed->rethrow();
        throw Error("cannot read " + path + ": " + archive_message(raw.get()));
    }
    static la_ssize_t read(archive* a, void* ud, const void** out) {
        auto* d = static_cast<Decompressed*>(ud);
        la_ssize_t n = archive_read_data(d->raw.get(), d->buf.data(), d->buf.size());
        if (n < 0) {
            archive_set_error(a, EIO, "%s", archive_message(d->raw.get()));
            return -1;
        }
        d->hash.update(d->buf.data(), static_cast<size_t>(n));
        *out = d->buf.data();
        return n;
    }
    std::string finish() {  // hashes what the tar reader left (padding after its end)
        la_ssize_t n;
        while ((n = archive_read_data(raw.get(), buf.data(), buf.size())) > 0) hash.update(buf.data(), static_cast<size_t>(n));
        if (n < 0) fail();
        return "sha256:" + hash.hex();
    }
    ReadArchive raw;
    std::string path;
    Streamed* streamed;
    Sha256 hash;
    std::vector<char> buf = std::vector<char>(1 << 17);
};

ReadArchive open_tar(Decompressed& d) {
    ReadArchive a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    if (archive_read_open(a.get(), &d, nullptr, &Decompressed::read, nullptr) != ARCHIVE_OK)
        throw Error("cannot read " + d.path + ": " + archive_message(a.get()));
    return a;
}

void own_working_directory() {
    thread_local bool own = false;
    if (own || ::gettid() == ::getpid()) return;
    if (::unshare(CLONE_FS) < 0) throw Error::sys(errno, "unshare the working directory of a thread");
    own = true;
}

void extract_into(const std::string& path, const std::string& dir, bool whiteouts, Decompressed* source = nullptr) {
    ReadArchive in = source ? open_tar(*source) : open_read(path, false);
    WriteArchive out(archive_write_disk_new(), archive_write_free);
    archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_OWNER |
                                                  ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                  ARCHIVE_EXTRACT_XATTR);
    // libarchive writes relative to the working directory (and reads the umask by setting it):
    // a thread other than the main one takes its own, so layers extract in parallel.
    own_working_directory();
    UniqueFd cwd(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (::chdir(dir.c_str()) < 0) throw Error::sys(errno, "chdir " + dir);
    struct Back {
        int fd;
        ~Back() {
            if (fd >= 0 && ::fchdir(fd) < 0) {
            }
        }
    } back{cwd.get()};

    archive_entry* e = nullptr;
    for (;;) {
        int r = archive_read_next_header(in.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            if (source && source->streamed) source->streamed->rethrow();
            throw Error("cannot read " + path + ": " + archive_message(in.get()));
        }
        std::string rel = safe_relative(archive_entry_pathname(e), "layer entry");
        if (rel.empty()) continue;  // "./"
        if (const char* link = archive_entry_hardlink(e)) {
            std::string target = safe_relative(link, "hard link target");
            archive_entry_set_hardlink(e, target.c_str());
        }
        std::string base = fs::path(rel).filename().string();
        if (whiteouts && base.rfind(".wh.", 0) == 0) {
            check_no_symlink_parents(dir, rel);
            std::string parent = fs::path(rel).parent_path().string();
            std::string pdir = parent.empty() ? dir : dir + "/" + parent;
            files::create_directories(pdir);
            if (base == ".wh..wh..opq") {
                if (::setxattr(pdir.c_str(), "trusted.overlay.opaque", "y", 1, 0) < 0)
                    throw Error::sys(errno, "mark " + pdir + " opaque");
            } else {
                std::string victim = pdir + "/" + base.substr(4);
                ::unlink(victim.c_str());
                if (::mknod(victim.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0)
                    throw Error::sys(errno, "whiteout " + victim);
            }
            continue;
        }
        archive_entry_set_pathname(e, rel.c_str());
        r = archive_write_header(out.get(), e);
        if (r < ARCHIVE_WARN)
            throw Error("refusing layer entry \"" + rel + "\": " + archive_message(out.get()));
        if (archive_entry_size(e) > 0) {
            const void* buf;
            size_t size;
            la_int64_t offset;
            while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK)
                if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_OK)
                    throw Error("write " + rel + ": " + archive_message(out.get()));
            if (r != ARCHIVE_EOF) {
                if (source && source->streamed) source->streamed->rethrow();
                throw Error("read " + rel + ": " + archive_message(in.get()));
            }
        }
        if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN)
            throw Error("write " + rel + ": " + archive_message(out.get()));
    }
    if (archive_write_close(out.get()) < ARCHIVE_WARN) throw Error(std::string("finish: ") + archive_message(out.get()));
}

}  // namespace

std::string file_digest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::sys(errno, "read " + path);
    Sha256 h;
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) h.update(buf, static_cast<size_t>(in.gcount()));
    return "sha256:" + h.hex();
}

std::string uncompressed_digest(const std::string& path) {
    ReadArchive a = open_read(path, true);
    archive_entry* e = nullptr;
    Sha256 h;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
        throw Error("cannot read " + path + ": " + archive_message(a.get()));
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) h.update(buf, static_cast<size_t>(n));
    if (n < 0) throw Error("cannot read " + path + ": " + archive_message(a.get()));
    return "sha256:" + h.hex();
}

namespace {

// Extracts into a temporary sibling of dest, renamed into place once everything (and the
// diff_id, where one is expected) is right.
void extract_checked(const std::string& archive, const std::string& dest, const std::string& expect_diff_id,
                     const std::function<std::unique_ptr<Decompressed>()>& open) {
    std::string tmp = temp_sibling(dest);
    files::create_directories(tmp);
    try {
        if (expect_diff_id.empty()) {
            extract_into(archive, tmp, true);
        } else {
            std::unique_ptr<Decompressed> source = open();
            extract_into(archive, tmp, true, source.get());
            if (std::string got = source->finish(); got != expect_diff_id)
                throw Error("it decompresses to " + got + " but the image config says " + expect_diff_id,
                            "the image is corrupt in the registry; push it again");
        }
        if (::rename(tmp.c_str(), dest.c_str()) < 0) throw Error::sys(errno, "rename layer into " + dest);
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw;
    }
}

}  // namespace

void extract_layer(const std::string& archive, const std::string& dest, const std::string& expect_diff_id) {
    extract_checked(archive, dest, expect_diff_id, [&] { return std::make_unique<Decompressed>(archive); });
}

void extract_layer(const LayerSource& source, const std::string& what, const std::string& dest, const std::string& expect_diff_id) {
    Streamed s(source);
    extract_checked(what, dest, expect_diff_id, [&] { return std::make_unique<Decompressed>(open_raw(s, what), what, &s); });
    s.rethrow();
}

void extract_plain(const std::string& archive, const std::string& dest) { extract_into(archive, dest, false); }

}  // namespace berth::images
