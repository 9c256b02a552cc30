// The build cache: <state root>/build-cache/<key>.json holds the image state
// a step produced (config and layers); its layers live in the image store.
#include "base/error.h"
#include "base/files.h"
#include "base/sha256.h"
#include "build/builder_internal.h"
#include "images/store_detail.h"

#include <filesystem>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::build {
namespace detail {

std::string step_key(const std::string& parent, const Step& step, const std::string& extra) {
    std::string text = "berth-build-v1\n" + parent + "\n" + created_by(step, json::object()) + "\n";
    if (step.inst.kind == Kind::Run) {
        const auto& r = step.inst.as<RunData>();
        for (const auto& h : r.cmd.files) text += "heredoc " + h.name + "\n" + h.content + "\n";
        for (const auto& m : r.mounts) text += "mount " + m.text + "\n";
        text += "network " + r.network + "\n";
    }
    return sha256_hex(text + extra);
}

Cache::Cache(const std::string& root, bool disabled) : dir_(root + "/build-cache"), disabled_(disabled) {
    files::create_directories(dir_);
}

std::optional<ImageState> Cache::find(images::Store& store, const std::string& key) const {
    if (disabled_) return std::nullopt;
    std::string path = dir_ + "/" + key + ".json";
    if (!files::exists(path)) return std::nullopt;
    try {
        json j = images::detail::read_json(path, "build cache entry");
        ImageState st;
        st.config = j.at("config");
        st.cmd_set = j.value("cmd_set", false);
        st.key = key;
        for (const auto& l : j.at("layers")) {
            images::BuiltLayer b{l.at("digest"), l.at("diff_id"), l.at("size"), l.at("media_type")};
            if (!store.has_layer(b)) return std::nullopt;  // `image rm` took it away
            st.layers.push_back(b);
        }
        return st;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged entry is a miss
    }
}

void Cache::put(const ImageState& st) const {
    json layers = json::array();
    for (const auto& l : st.layers)
        layers.push_back({{"digest", l.digest}, {"diff_id", l.diff_id}, {"size", l.size}, {"media_type", l.media_type}});
    json j = {{"config", st.config}, {"layers", layers}, {"cmd_set", st.cmd_set}};
    images::detail::write_atomic(dir_ + "/" + st.key + ".json", j.dump());
}

}  // namespace detail

size_t prune_cache(const std::string& state_root) {
    std::string dir = state_root + "/build-cache";
    if (!files::exists(dir)) return 0;
    std::vector<images::BuiltLayer> layers;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        if (e.path().extension() != ".json") {  // the COPY --from digests
            files::remove(e.path());
            continue;
        }
        try {
            json j = images::detail::read_json(e.path().string(), "build cache entry");
            for (const auto& l : j.at("layers")) layers.push_back({l.at("digest"), l.at("diff_id"), l.at("size"), l.at("media_type")});
        } catch (const std::exception&) {
        }
        files::remove(e.path());
        ++n;
    }
    files::remove_all(dir + "/mounts");
    images::Store(state_root).remove_unused(layers);
    return n;
}

}  // namespace berth::build
