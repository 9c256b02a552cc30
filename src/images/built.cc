// The store's side of the image builder: adopting layers a build step wrote,
// and naming built images (see store.h).
#include "images/store.h"

#include "base/error.h"
#include "base/files.h"
#include "images/reference.h"
#include "images/store_detail.h"

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::images {

using namespace detail;

std::string Store::layer_dir(const std::string& diff_id) const { return layers_ + "/" + hex_of(diff_id); }

bool Store::has_layer(const BuiltLayer& l) const {
    return files::exists(blob_path(l.digest)) && files::exists(layer_dir(l.diff_id));
}

void Store::adopt_layer(const std::string& blob_file, const std::string& tree, const BuiltLayer& l) {
    std::string blob = blob_path(l.digest);
    if (files::exists(blob)) files::remove(blob_file);
    else files::rename(blob_file, blob);
    std::string dir = layer_dir(l.diff_id);
    if (files::exists(dir)) {
        files::remove_all(tree);
        return;
    }
    std::error_code ec;
    fs::rename(tree, dir, ec);
    if (ec && ec.value() != EEXIST && ec.value() != ENOTEMPTY)
        throw Error::sys(ec.value(), "store layer " + l.diff_id);
    if (ec) files::remove_all(tree);  // another build stored the same layer first
}

ImageRecord Store::commit_built(const std::vector<std::string>& names, const json& config_in,
                                const std::vector<BuiltLayer>& layers) {
    if (names.empty()) throw Error("a built image needs a name");
    json config = config_in;
    json diff_ids = json::array(), descs = json::array();
    int64_t size = 0;
    for (const auto& l : layers) {
        if (!has_layer(l)) throw Error("built layer " + l.diff_id + " is missing from the store", "build again with --no-cache");
        diff_ids.push_back(l.diff_id);
        descs.push_back({{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}});
        size += l.size;
    }
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    std::string config_digest = put_blob_json(config);
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                 {"digest", config_digest},
                                 {"size", files::file_size(blob_path(config_digest))}}},
                     {"layers", descs}};
    std::string manifest_digest = put_blob_json(manifest);
    std::vector<ImageRecord> recs;
    for (const auto& n : names)
        recs.push_back(ImageRecord{normalize_name(n), config_digest, manifest_digest, size,
                                   static_cast<int64_t>(std::time(nullptr)), {}, {}});
    commit_images(recs);
    added_.clear();  // nothing to roll back: the blobs are content-addressed and now named
    return recs.front();
}

json Store::config_json(const std::string& name, std::vector<BuiltLayer>* layers) const {
    auto rec = find(name);
    if (!rec) throw Error("image " + name + " not found");
    json config = read_json(blob_path(rec->id), "image config");
    if (layers) {
        json manifest = read_json(blob_path(rec->manifest), "manifest");
        auto diff_ids = config["rootfs"].value("diff_ids", json::array());
        auto descs = manifest.value("layers", json::array());
        if (diff_ids.size() != descs.size()) throw Error("image " + name + ": its manifest and config list different layers");
        for (size_t i = 0; i < descs.size(); ++i)
            layers->push_back({descs[i].value("digest", ""), diff_ids[i].get<std::string>(),
                               descs[i].value("size", int64_t{0}),
                               descs[i].value("mediaType", "application/vnd.oci.image.layer.v1.tar")});
    }
    return config;
}

// nullopt when an image's manifest or config cannot be read: its layers cannot be told
// from the others, so every layer may be in use (warned, naming the image).
std::optional<std::set<std::string>> Store::used_diff_ids(const json& index) const {
    std::set<std::string> keep;
    bool complete = true;
    for (const auto& d : index.value("manifests", json::array())) {
        try {
            json m = read_json(blob_path(d.value("digest", "")), "manifest");
            json c = read_json(blob_path(m.at("config").at("digest").get<std::string>()), "image config");
            for (const auto& id : c.at("rootfs").at("diff_ids")) keep.insert(hex_of(id.get<std::string>()));
        } catch (const std::exception& e) {
            std::string name = d.contains("annotations") ? d["annotations"].value(kRefName, "") : "";
            spdlog::warn("cannot read image {}: {}; no layer is removed", name.empty() ? d.value("digest", "") : name, e.what());
            complete = false;
        }
    }
    if (!complete) return std::nullopt;
    return keep;
}

void Store::remove_unused(const std::vector<BuiltLayer>& layers) {
    auto keep = used_diff_ids(read_index());
    if (!keep) return;
    for (const auto& l : layers) {
        try {
            if (keep->count(hex_of(l.diff_id))) continue;
            files::remove_all(layer_dir(l.diff_id));
            std::error_code ec;
            fs::remove(blob_path(l.digest), ec);
        } catch (const Error&) {
            // a malformed entry names nothing to remove
        }
    }
}

}  // namespace berth::images
