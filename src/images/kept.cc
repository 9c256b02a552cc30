// What a container keeps of its image (store.h: keep_image, kept_image).
#include "base/error.h"
#include "base/fd.h"
#include "images/store.h"
#include "images/store_detail.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

using json = nlohmann::json;

namespace berth::images {

void keep_image(const Store& store, const ResolvedImage& image, const std::string& dir) {
    json j = {{"name", image.record.name},
              {"id", image.record.id},
              {"config", detail::read_json(store.blob_path(image.record.id), "image config")},
              {"layer_dirs", image.layer_dirs}};
    std::string path = dir + "/image.json", tmp = path + ".tmp";
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) throw Error::sys(errno, "write " + tmp);
        write_all(fd.get(), j.dump());
        if (::fsync(fd.get()) < 0) throw Error::sys(errno, "write " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw Error::sys(errno, "write " + path);
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
