// `berth image save`: one tar that is both a `docker save` archive (manifest.json with
// Config, RepoTags, Layers) and an OCI image layout (oci-layout, index.json,
// blobs/sha256/…), the blobs written as the store holds them, so manifest and config
// digests (the image id) survive a save and load.
#include "base/error.h"
#include "base/fd.h"
#include "images/reference.h"
#include "images/store.h"
#include "images/store_detail.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using json = nlohmann::json;

namespace berth::images {
namespace {

using Writer = std::unique_ptr<archive, decltype(&archive_write_free)>;

void add_entry(archive* a, const std::string& name, int64_t size) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) throw Error(std::string("write ") + name + ": " + archive_error_string(a));
}

void add_bytes(archive* a, const std::string& name, const std::string& bytes) {
    add_entry(a, name, static_cast<int64_t>(bytes.size()));
    if (archive_write_data(a, bytes.data(), bytes.size()) < 0) throw Error(std::string("write ") + name + ": " + archive_error_string(a));
}

void add_file(archive* a, const std::string& name, const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) < 0) throw Error::sys(errno, "read " + path);
    add_entry(a, name, st.st_size);
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + path);
        if (archive_write_data(a, buf, static_cast<size_t>(n)) < 0) throw Error(std::string("write ") + name + ": " + archive_error_string(a));
    }
}

}  // namespace

void Store::save(const std::vector<std::string>& names, const std::string& out) const {
    json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", json::array()}};
    json docker = json::array();
    std::vector<std::string> blobs;  // in archive order, each once
    std::set<std::string> seen;
    auto want = [&](const std::string& d) {
        if (seen.insert(d).second) blobs.push_back(d);
        return "blobs/sha256/" + detail::hex_of(d);
    };
    for (const auto& n : names) {
        auto rec = find(n);
        if (!rec) throw Error("no image " + n + " in the store", "`berth image ls` lists the images there are");
        Reference ref = parse_reference(rec->name);
        json m = detail::read_json(blob_path(rec->manifest), "manifest");
        want(rec->manifest);
        json layers = json::array();
        std::string config = want(m["config"].value("digest", ""));
        for (const auto& l : m.value("layers", json::array())) layers.push_back(want(l.value("digest", "")));
        index["manifests"].push_back(
            {{"mediaType", rec->media_type.empty() ? "application/vnd.oci.image.manifest.v1+json" : rec->media_type},
             {"digest", rec->manifest},
             {"size", static_cast<int64_t>(detail::read_all(blob_path(rec->manifest)).size())},
             {"annotations", {{"io.containerd.image.name", rec->name}, {"org.opencontainers.image.ref.name", ref.tag}}}});
        docker.push_back({{"Config", config}, {"RepoTags", {ref.familiar()}}, {"Layers", layers}});
    }
    std::string tmp = out == "-" ? "" : out + ".tmp" + std::to_string(getpid());
    Writer a(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(a.get());
    archive_write_set_bytes_in_last_block(a.get(), 1);  // the same bytes to a file or a pipe
    int rc = tmp.empty() ? archive_write_open_fd(a.get(), STDOUT_FILENO) : archive_write_open_filename(a.get(), tmp.c_str());
    if (rc != ARCHIVE_OK) throw Error("cannot write " + out + ": " + archive_error_string(a.get()));
    try {
        add_bytes(a.get(), "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
        add_bytes(a.get(), "index.json", index.dump());
        add_bytes(a.get(), "manifest.json", docker.dump());
        for (const auto& d : blobs) add_file(a.get(), "blobs/sha256/" + detail::hex_of(d), blob_path(d));
        if (archive_write_close(a.get()) != ARCHIVE_OK) throw Error("cannot write " + out + ": " + archive_error_string(a.get()));
        if (!tmp.empty() && ::rename(tmp.c_str(), out.c_str()) < 0) throw Error::sys(errno, "rename " + tmp + " to " + out);
    } catch (...) {
        if (!tmp.empty()) ::unlink(tmp.c_str());
        throw;
    }
}

}  // namespace berth::images
