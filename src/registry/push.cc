#include "registry/push.h"

#include "base/error.h"
#include "images/reference.h"
#include "images/store_detail.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/parallel.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

using json = nlohmann::json;

namespace berth::registry {
namespace {

// The blobs of a stored image: its config first, then its layers.
std::vector<std::string> blobs_of(const json& manifest) {
    std::vector<std::string> out{manifest.value("config", json::object()).value("digest", "")};
    for (const auto& l : manifest.value("layers", json::array())) out.push_back(l.value("digest", ""));
    return out;
}

// Repositories of the same registry the store has seen each blob in (pulled from there,
// or pushed there): a blob found there can be mounted instead of uploaded.
std::map<std::string, std::string> mount_sources(const images::Store& store, const images::Reference& target) {
    std::map<std::string, std::string> from;
    for (const auto& rec : store.list()) {
        if (rec.repo_digest.empty()) continue;
        images::Reference r = images::parse_reference(rec.name);
        if (r.domain != target.domain || r.path == target.path) continue;
        json m = json::parse(images::detail::read_all(store.blob_path(rec.manifest)), nullptr, false);
        if (!m.is_object()) continue;
        for (const auto& b : blobs_of(m)) from.emplace(b, r.path);
    }
    return from;
}

struct Pusher {
    images::Store& store;
    Session& session;
    const PushOptions& o;
    std::mutex out_mu;

    // A status of one of the image's blobs (the line "ID: STATUS"), or of the image (blob "",
    // with its own line, "" for none).
    void say(const std::string& image, const std::string& blob, const std::string& status, bool finished = false,
             const std::string& line = {}) {
        if (!o.progress) return;
        std::lock_guard l(out_mu);
        o.progress({image, blob, status, -1, 0, finished, blob.empty() ? line : blob + ": " + status});
    }
    ProgressFn moving(const std::string& image, const std::string& blob) {
        if (!o.progress) return nullptr;
        return [this, image, blob](const std::string&, int64_t done, int64_t total) {
            std::lock_guard l(out_mu);
            o.progress({image, blob, "Pushing", done, total, false, {}});
        };
    }

    PushResult push(const std::string& name) {
        PushResult res;
        res.ref = name;
        try {
            images::Reference ref = images::parse_reference(name);
            if (ref.tag.empty())
                throw Error("cannot push " + name + ": a registry stores a pushed image under a tag",
                            "tag it first: berth image tag " + name + " NAME:TAG");
            auto rec = store.find(name);
            if (!rec) throw Error("no image " + name + " in the store", "pull, load or tag one under that name first");
            std::string bytes = images::detail::read_all(store.blob_path(rec->manifest));
            json manifest = json::parse(bytes);
            std::string type = rec->media_type.empty() ? kOciManifest : rec->media_type;
            std::vector<Endpoint> eps = endpoints(load_settings(), ref.domain);
            Client c(session, ref, {eps.back()});  // never a mirror
            c.want_push();
            auto sources = mount_sources(store, ref);
            std::string image = ref.familiar();
            say(image, "", "Pushing", false, "The push refers to repository [" + ref.domain + "/" + ref.path + "]");
            std::atomic<int> uploaded{0}, mounted{0}, existed{0};
            std::atomic<int64_t> bytes_up{0};
            std::vector<std::pair<std::string, std::string>> todo;  // digest, repository to mount from
            for (const auto& digest : blobs_of(manifest)) {
                if (!store.has_blob(digest)) throw Error("image " + name + ": blob " + digest + " is missing from the store", "pull or load the image again");
                auto src = sources.find(digest);
                todo.emplace_back(digest, src == sources.end() ? "" : src->second);
            }
            auto push_blob = [&](const std::string& digest, const std::string& from) {
                std::string id = digest.substr(7, 12);
                if (c.has_remote_blob(digest)) {
                    ++existed;
                    say(image, id, "Layer already exists", true);
                    return;
                }
                std::string loc = c.start_upload(digest, from);
                if (loc.empty()) {
                    ++mounted;
                    say(image, id, "Mounted from " + from, true);
                    return;
                }
                std::string path = store.blob_path(digest);
                c.upload_blob(loc, path, digest, o.chunk, moving(image, id));
                ++uploaded;
                bytes_up += static_cast<int64_t>(std::filesystem::file_size(path));
                say(image, id, "Pushed", true);
            };
            parallel_for(todo.size(), o.parallel, [&](size_t i) { push_blob(todo[i].first, todo[i].second); });
            std::string got = c.put_manifest(ref.tag, type, bytes);
            if (!got.empty() && got != rec->manifest)
                throw Error("registry " + ref.domain + " stored the manifest of " + name + " as " + got + ", not " + rec->manifest);
            store.set_repo_digest(name, rec->manifest);
            say(image, "", "Pushed " + rec->manifest, true);
            res.ok = true;
            res.digest = rec->manifest;
            res.manifest_size = static_cast<int64_t>(bytes.size());
            res.uploaded = uploaded, res.mounted = mounted, res.existed = existed, res.bytes_uploaded = bytes_up;
        } catch (const Error& e) {
            res.error = e.message();
            res.hint = e.hint();
        } catch (const std::exception& e) {
            res.error = e.what();
        }
        return res;
    }
};

}  // namespace

int64_t push_chunk_from_env() {
    const char* e = std::getenv("BERTH_PUSH_CHUNK_SIZE");
    return e && *e ? std::atoll(e) : 0;
}

std::vector<PushResult> push_images(images::Store& store, const std::vector<std::string>& refs, const PushOptions& o) {
    Session session;
    Pusher p{store, session, o, {}};
    std::vector<PushResult> out;
    for (const auto& r : refs) out.push_back(p.push(r));  // one at a time: later ones may mount from earlier ones
    return out;
}

}  // namespace berth::registry
