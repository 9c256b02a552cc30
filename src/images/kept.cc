// What a container keeps of its image (store.h: keep_image, kept_image).
#include "base/error.h"
#include "images/store.h"
#include "images/store_detail.h"

#include <unistd.h>

using json = nlohmann::json;

namespace berth::images {

namespace {

// Whether DIR/image.json keeps `image` already: the same name, id (the config's digest, so the
// same config) and layer dirs. A missing or unreadable file does not.
bool kept_already(const std::string& path, const ResolvedImage& image) {
    if (::access(path.c_str(), F_OK) != 0) return false;
    try {
        json j = json::parse(detail::read_all(path));
        return j.at("name").get<std::string>() == image.record.name && j.at("id").get<std::string>() == image.record.id &&
               j.at("layer_dirs").get<std::vector<std::string>>() == image.layer_dirs && j.contains("config");
    } catch (const std::exception&) {
        return false;  // written anew
    }
}

}  // namespace

// Called on every start of a container, in the supervisor's loop: the file is written only when
// missing or different (a new container, a recreate, an image that changed), and without an
// fsync: a file lost to a crash is written again by the container's next start.
void keep_image(const Store& store, const ResolvedImage& image, const std::string& dir) {
    std::string path = dir + "/image.json";
    if (kept_already(path, image)) return;
    json j = {{"name", image.record.name},
              {"id", image.record.id},
              {"config", detail::read_json(store.blob_path(image.record.id), "image config")},
              {"layer_dirs", image.layer_dirs}};
    detail::write_atomic(path, j.dump());
}

std::optional<ResolvedImage> kept_image(const std::string& dir) {
    std::string path = dir + "/image.json";
    if (::access(path.c_str(), F_OK) != 0) return std::nullopt;  // a container made before it was kept
    json j = detail::read_json(path, "the container's image");
    try {
        ResolvedImage img;
        img.record.name = j.at("name").get<std::string>();
        img.record.id = j.at("id").get<std::string>();
        img.config = parse_image_config(j.at("config"));
        img.layer_dirs = j.at("layer_dirs").get<std::vector<std::string>>();
        return img;
    } catch (const json::exception& e) {
        throw Error(path + ": " + e.what(), "recreate the container: berth up -d --force-recreate");
    }
}

}  // namespace berth::images
