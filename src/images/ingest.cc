// The store's side of pulling: partial downloads in images/ingest/, blob
// locks, verified blobs renamed into blobs/, and pulled images named once
// every layer is extracted and its diff_id checked.
#include "base/error.h"
#include "base/fd.h"
#include "images/extract.h"
#include "images/reference.h"
#include "images/store.h"
#include "images/store_detail.h"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::images {
using namespace detail;

namespace {

int lock_file(const std::string& path) { return FileLock(path, LOCK_EX).release(); }

}  // namespace

bool Store::has_blob(const std::string& digest) const { return fs::exists(blob_path(digest)); }

std::string Store::ingest_path(const std::string& digest) const {
    fs::create_directories(images_ + "/ingest");
    return images_ + "/ingest/" + hex_of(digest) + ".partial";
}

namespace {

int try_lock_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) throw Error::sys(errno, "open " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) return -1;
    return fd.release();
}

}  // namespace

int Store::lock_blob(const std::string& digest, bool wait) const {
    fs::create_directories(images_ + "/ingest");
    std::string path = images_ + "/ingest/" + hex_of(digest) + ".lock";
    return wait ? lock_file(path) : try_lock_file(path);
}

void Store::commit_blob(const std::string& tmp, const std::string& digest) {
    std::string dest = blob_path(digest);
    UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd && ::fsync(fd.get()) < 0) throw Error::sys(errno, "sync " + tmp);
    if (::rename(tmp.c_str(), dest.c_str()) < 0) throw Error::sys(errno, "store blob " + digest);
}

std::string Store::put_blob_bytes(const std::string& bytes) {
    std::random_device rd;
    std::string tmp = images_ + "/ingest/bytes.tmp" + std::to_string(getpid()) + "-" + std::to_string(rd());
    fs::create_directories(images_ + "/ingest");
    write_atomic(tmp, bytes);
    std::string d = file_digest(tmp);
    if (has_blob(d)) {
        fs::remove(tmp);
        return d;
    }
    commit_blob(tmp, d);
    return d;
}

int Store::lock_layer(const std::string& diff_id, bool wait) const {
    fs::create_directories(images_ + "/ingest");
    mark_top_directory(layers_);  // for stores made before Store() marked it
    std::string path = images_ + "/ingest/layer-" + hex_of(diff_id) + ".lock";
    int fd = wait ? lock_file(path) : try_lock_file(path);
    if (fd < 0) return fd;
    std::string stale = hex_of(diff_id) + ".tmp-";  // extract.cc's temp_sibling()
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(layers_, ec))
        if (e.path().filename().string().rfind(stale, 0) == 0) fs::remove_all(e.path(), ec);
    return fd;
}

void Store::ensure_layer_checked(const std::string& blob_digest, const std::string& diff_id) {
    std::string dir = layers_ + "/" + hex_of(diff_id);
    if (fs::exists(dir)) return;
    // Layers extract in parallel (each thread has its own working directory: extract.cc);
    // other processes, and a LayerStream, are kept out by the layer's flock.
    UniqueFd lock(lock_layer(diff_id, true));
    if (fs::exists(dir)) return;  // another berth extracted it while we waited
    try {
        extract_layer(blob_path(blob_digest), dir, diff_id);
    } catch (Error& e) {
        throw e.wrap("layer " + blob_digest);
    }
}

ImageRecord Store::add_pulled(const std::string& name, const std::string& manifest_digest,
                              const std::string& media_type, const std::string& repo_digest) {
    json manifest = read_json(blob_path(manifest_digest), "manifest");
    std::string config_digest = manifest["config"].value("digest", "");
    json config = read_json(blob_path(config_digest), "image config");
    json diff_ids = config.value("rootfs", json::object()).value("diff_ids", json::array());
    json layers = manifest.value("layers", json::array());
    if (diff_ids.size() != layers.size())
        throw Error("image " + name + ": the manifest has " + std::to_string(layers.size()) +
                    " layers but the config lists " + std::to_string(diff_ids.size()) + " diff_ids");
    ImageRecord rec{normalize_name(name), config_digest, manifest_digest, 0, static_cast<int64_t>(std::time(nullptr)),
                    media_type, repo_digest};
    for (size_t i = 0; i < layers.size(); ++i) {
        ensure_layer_checked(layers[i].value("digest", ""), diff_ids[i].get<std::string>());
        rec.size += layers[i].value("size", int64_t{0});
    }
    commit_images({rec});
    return rec;
}

void Store::set_repo_digest(const std::string& name, const std::string& digest) {
    auto rec = find(name);
    if (!rec) return;
    rec->repo_digest = digest;
    commit_images({*rec});
}

}  // namespace berth::images
