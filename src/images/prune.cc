// `berth image prune`: what no image name reaches any more (the manifests, configs and
// layer blobs of images whose name moved on to a newer image, or that were removed), and
// with `all` also every named image no container uses. Pulls and loads hold the ingest
// lock shared while their blobs are not yet named; prune takes it exclusively.
#include "base/error.h"
#include "base/fd.h"
#include "images/reference.h"
#include "images/store.h"
#include "images/store_detail.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::images {
namespace {

int64_t tree_size(const fs::path& p) {
    std::error_code ec;
    int64_t n = 0;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += static_cast<int64_t>(it->file_size(ec));
    return n;
}

bool is_hex64(std::string_view s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The image an index entry names, as a person writes it (its digest when it has no usable name).
std::string familiar_name(const json& entry) {
    std::string digest = entry.value("digest", "");
    try {
        return parse_reference(entry.at("annotations").at(detail::kRefName).get<std::string>()).familiar();
    } catch (const std::exception&) {
        return digest;
    }
}

}  // namespace

std::set<std::string> layers_mounted_by(int pid) {
    std::set<std::string> out;
    std::ifstream f("/proc/" + std::to_string(pid) + "/mountinfo");
    std::string line;
    while (std::getline(f, line)) {  // "… - TYPE SOURCE SUPER_OPTIONS"
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream rest(line.substr(dash + 3));
        std::string type, source, opts;
        rest >> type >> source >> opts;
        if (type != "overlay") continue;
        for (size_t at = 0; at < opts.size();) {
            size_t end = std::min(opts.find(',', at), opts.size());
            std::string_view opt(opts.data() + at, end - at);
            at = end + 1;
            if (opt.rfind("lowerdir=", 0) != 0) continue;
            opt.remove_prefix(9);
            for (size_t p = 0; p <= opt.size();) {  // DIR:DIR:…; a layer dir is named by its hex
                size_t q = std::min(opt.find(':', p), opt.size());
                std::string_view dir = opt.substr(p, q - p);
                p = q + 1;
                if (auto slash = dir.rfind('/'); slash != std::string_view::npos && is_hex64(dir.substr(slash + 1)))
                    out.emplace(dir.substr(slash + 1));
            }
        }
    }
    return out;
}

int Store::hold_ingest(bool exclusive) const {
    return detail::FileLock(images_ + "/ingest.lock", exclusive ? LOCK_EX : LOCK_SH).release();
}

PruneReport Store::prune(bool all, const std::set<std::string>& in_use, const std::set<std::string>& mounted) {
    UniqueFd ingest(hold_ingest(true));
    PruneReport rep;
    std::set<std::string> keep_blobs, keep_layers = mounted;  // a running container's root filesystem
    bool keep_all_blobs = false, keep_all_layers = false;
    {
        detail::IndexLock lock(images_);
        json index = read_index();
        json& ms = index["manifests"];
        for (auto it = ms.begin(); it != ms.end();) {
            std::string name = (*it)["annotations"].value(detail::kRefName, "");
            if (all && !in_use.count(name)) {
                rep.untagged.push_back(parse_reference(name).familiar());
                it = ms.erase(it);
                continue;
            }
            ++it;
        }
        if (!rep.untagged.empty()) write_index(index);
        // An image whose manifest or config cannot be read keeps what it may use:
        // its layers cannot be told from the others (they are named by the
        // config's diff_ids), nor its blobs without its manifest.
        for (const auto& d : ms) {
            std::string md = d.value("digest", "");
            keep_blobs.insert(md);
            bool manifest_read = false;
            try {
                json m = detail::read_json(blob_path(md), "manifest");
                std::string cd = m.at("config").at("digest").get<std::string>();
                keep_blobs.insert(cd);
                for (const auto& l : m.value("layers", json::array())) keep_blobs.insert(l.at("digest").get<std::string>());
                manifest_read = true;
                json c = detail::read_json(blob_path(cd), "image config");
                for (const auto& id : c.at("rootfs").at("diff_ids")) keep_layers.insert(detail::hex_of(id.get<std::string>()));
            } catch (const std::exception& e) {
                rep.unreadable.push_back(familiar_name(d) + ": " + e.what());
                keep_all_layers = true;
                keep_all_blobs = keep_all_blobs || !manifest_read;
            }
        }
    }
    if (keep_all_blobs) return rep;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(images_ + "/blobs/sha256", ec)) {
        std::string digest = "sha256:" + e.path().filename().string();
        if (keep_blobs.count(digest) || !e.is_regular_file()) continue;
        int64_t size = static_cast<int64_t>(e.file_size());
        if (size < (1 << 20)) {  // a manifest whose image is gone: report that image's id
            json m = json::parse(detail::read_all(e.path()), nullptr, false);
            std::string id = m.is_object() && m.contains("layers") && m.contains("config") && m["config"].is_object()
                                 ? m["config"].value("digest", "") : "";
            if (!id.empty() && std::find(rep.deleted.begin(), rep.deleted.end(), id) == rep.deleted.end()) rep.deleted.push_back(id);
        }
        if (fs::remove(e.path(), ec)) rep.reclaimed += size;
    }
    if (keep_all_layers) return rep;
    for (const auto& e : fs::directory_iterator(layers_, ec)) {
        std::string h = e.path().filename().string();
        if (h.size() != 64 || keep_layers.count(h)) continue;
        int64_t size = tree_size(e.path());
        fs::remove_all(e.path(), ec);
        if (!ec) rep.reclaimed += size;
    }
    return rep;
}

}  // namespace berth::images
