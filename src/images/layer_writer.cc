#include "images/layer_writer.h"

#include "base/dir.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/sha256.h"
#include "images/extract.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace berth::images {
namespace {

using WriteArchive = std::unique_ptr<archive, decltype(&archive_write_free)>;
using Entry = std::unique_ptr<archive_entry, decltype(&archive_entry_free)>;

// Where libarchive's output goes: a file, hashed and counted on the way.
struct Sink {
    int fd = -1;
    Sha256 hash;
    int64_t bytes = 0;
    int err = 0;

    static la_ssize_t write(archive*, void* self, const void* buf, size_t len) {
        auto* s = static_cast<Sink*>(self);
        const char* p = static_cast<const char*>(buf);
        size_t left = len;
        while (left > 0) {
            ssize_t n = ::write(s->fd, p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                s->err = errno;
                return -1;
            }
            p += n, left -= static_cast<size_t>(n);
        }
        s->hash.update(buf, len);
        s->bytes += static_cast<int64_t>(len);
        return static_cast<la_ssize_t>(len);
    }
};

void check(archive* a, int r, const std::string& what) {
    if (r < ARCHIVE_WARN) throw Error(what + ": " + archive_message(a));
}

// Calls `fn` with each block of the file's bytes.
template <class Fn> void read_chunks(const std::string& path, int flags, Fn&& fn) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags));
    if (!fd) throw Error::sys(errno, "open " + path);
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + path);
        if (n == 0) return;
        fn(buf, static_cast<size_t>(n));
    }
}

bool is_overlay_xattr(const std::string& name) {
    return name.rfind("trusted.overlay.", 0) == 0 || name.rfind("user.overlay.", 0) == 0;
}

std::string xattr_value(const std::string& path, const char* name) {
    ssize_t n = ::lgetxattr(path.c_str(), name, nullptr, 0);
    if (n < 0) return {};
    std::string v(static_cast<size_t>(n), '\0');
    n = ::lgetxattr(path.c_str(), name, v.data(), v.size());
    v.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return v;
}

bool is_opaque(const std::string& path) {
    return xattr_value(path, "trusted.overlay.opaque") == "y" || xattr_value(path, "user.overlay.opaque") == "y";
}

void add_xattrs(archive_entry* e, const std::string& path) {
    ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
    if (n <= 0) return;
    std::string names(static_cast<size_t>(n), '\0');
    n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n <= 0) return;
    std::vector<std::string> list;
    for (size_t i = 0; i < static_cast<size_t>(n);) {
        std::string name(names.c_str() + i);
        i += name.size() + 1;
        if (!name.empty() && !is_overlay_xattr(name)) list.push_back(std::move(name));
    }
    std::sort(list.begin(), list.end());
    for (const auto& name : list) {
        std::string v = xattr_value(path, name.c_str());
        archive_entry_xattr_add_entry(e, name.c_str(), v.data(), v.size());
    }
}

class TarWriter {
public:
    TarWriter(std::string root, Sink& sink, const LayerOptions& opt)
        : root_(std::move(root)), opt_(opt), a_(archive_write_new(), archive_write_free) {
        archive_write_set_format_pax_restricted(a_.get());
        archive_write_set_bytes_in_last_block(a_.get(), 1);
        check(a_.get(), archive_write_open2(a_.get(), &sink, nullptr, &Sink::write, nullptr, nullptr), "open layer");
    }

    void run() {
        walk("");
        check(a_.get(), archive_write_close(a_.get()), "finish layer");
    }

private:
    std::string root_;
    const LayerOptions& opt_;
    WriteArchive a_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;

    Entry entry(const std::string& rel, const struct stat& st) {
        Entry e(archive_entry_new(), archive_entry_free);
        archive_entry_set_pathname(e.get(), rel.c_str());
        archive_entry_set_mode(e.get(), st.st_mode);
        archive_entry_set_uid(e.get(), st.st_uid);
        archive_entry_set_gid(e.get(), st.st_gid);
        if (opt_.zero_mtimes) archive_entry_set_mtime(e.get(), 0, 0);
        else archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        return e;
    }

    void empty_file(const std::string& rel) {
        Entry e(archive_entry_new(), archive_entry_free);
        archive_entry_set_pathname(e.get(), rel.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0600);
        archive_entry_set_size(e.get(), 0);
        archive_entry_set_mtime(e.get(), 0, 0);
        check(a_.get(), archive_write_header(a_.get(), e.get()), "write " + rel);
    }

    void copy_data(const std::string& path, const std::string& rel) {
        read_chunks(path, O_NOFOLLOW, [&](const char* buf, size_t n) {
            if (archive_write_data(a_.get(), buf, n) < 0) check(a_.get(), ARCHIVE_FATAL, "write " + rel);
        });
    }

    void add(const std::string& rel, const std::string& path, const struct stat& st) {
        std::string parent = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/') + 1);
        std::string base = rel.substr(parent.size());
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            empty_file(parent + ".wh." + base);  // overlay whiteout: the name was deleted
            return;
        }
        if (S_ISSOCK(st.st_mode)) return;  // tar cannot hold a socket; docker skips them too
        Entry e = entry(rel, st);
        add_xattrs(e.get(), path);
        bool data = false;
        if (S_ISREG(st.st_mode)) {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            auto seen = st.st_nlink > 1 ? links_.find(key) : links_.end();
            if (seen != links_.end()) {
                archive_entry_set_hardlink(e.get(), seen->second.c_str());
                archive_entry_set_size(e.get(), 0);
            } else {
                if (st.st_nlink > 1) links_[key] = rel;
                archive_entry_set_size(e.get(), st.st_size);
                data = st.st_size > 0;
            }
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
            if (n < 0) throw Error::sys(errno, "readlink " + path);
            target.resize(static_cast<size_t>(n));
            archive_entry_set_symlink(e.get(), target.c_str());
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
            archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
        }
        check(a_.get(), archive_write_header(a_.get(), e.get()), "write " + rel);
        if (data) copy_data(path, rel);
        if (S_ISDIR(st.st_mode)) {
            if (is_opaque(path)) empty_file(rel + "/.wh..wh..opq");
            walk(rel);
        }
    }

    void walk(const std::string& rel) {
        std::vector<std::string> names = sorted_dir_entries(rel.empty() ? root_ : root_ + "/" + rel);
        for (const auto& n : names) {
            std::string r = rel.empty() ? n : rel + "/" + n;
            std::string path = root_ + "/" + r;
            struct stat st {};
            if (::lstat(path.c_str(), &st) < 0) throw Error::sys(errno, "stat " + path);
            add(r, path, st);
        }
    }
};

// Compresses `tar` into `sink` with gzip, no timestamp in the header.
void gzip_file(const std::string& tar, Sink& sink) {
    WriteArchive a(archive_write_new(), archive_write_free);
    archive_write_set_format_raw(a.get());
    archive_write_add_filter_gzip(a.get());
    archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
    archive_write_set_bytes_in_last_block(a.get(), 1);
    check(a.get(), archive_write_open2(a.get(), &sink, nullptr, &Sink::write, nullptr, nullptr), "open gzip");
    Entry e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), "layer.tar");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    check(a.get(), archive_write_header(a.get(), e.get()), "gzip layer");
    read_chunks(tar, 0, [&](const char* buf, size_t n) {
        if (archive_write_data(a.get(), buf, n) < 0) check(a.get(), ARCHIVE_FATAL, "gzip layer");
    });
    check(a.get(), archive_write_close(a.get()), "finish gzip");
}

struct TempFile {
    std::string path;
    UniqueFd fd;
    explicit TempFile(std::string p) : path(std::move(p)) {
        fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) throw Error::sys(errno, "create " + path);
    }
    ~TempFile() {
        if (!path.empty()) ::unlink(path.c_str());
    }
    void keep_as(const std::string& dest) {
        if (::fsync(fd.get()) < 0) throw Error::sys(errno, "sync " + path);
        if (::rename(path.c_str(), dest.c_str()) < 0) throw Error::sys(errno, "rename " + path + " to " + dest);
        path.clear();
    }
};

}  // namespace

LayerInfo write_layer(const std::string& upper, const std::string& out, const LayerOptions& opt) {
    struct stat st {};
    if (::stat(upper.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error("cannot write a layer of " + upper + ": not a directory");
    LayerInfo info;
    TempFile tar(out + ".tar.tmp");
    Sink tar_sink;
    tar_sink.fd = tar.fd.get();
    try {
        TarWriter(upper, tar_sink, opt).run();
    } catch (Error& e) {
        if (tar_sink.err) throw Error::sys(tar_sink.err, "write " + tar.path);
        throw e.wrap("layer of " + upper);
    }
    info.diff_id = "sha256:" + tar_sink.hash.hex();
    if (!opt.gzip) {
        info.digest = info.diff_id;
        info.size = tar_sink.bytes;
        tar.keep_as(out);
        return info;
    }
    TempFile gz(out + ".gz.tmp");
    Sink gz_sink;
    gz_sink.fd = gz.fd.get();
    gzip_file(tar.path, gz_sink);
    if (gz_sink.err) throw Error::sys(gz_sink.err, "write " + gz.path);
    info.digest = "sha256:" + gz_sink.hash.hex();
    info.size = gz_sink.bytes;
    gz.keep_as(out);
    return info;
}

}  // namespace berth::images
