#include "registry/pull.h"

#include "base/error.h"
#include "base/fd.h"
#include "images/reference.h"
#include "images/store_detail.h"
#include "images/stream.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/parallel.h"
#include "registry/platform.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdio>
#include <optional>
#include <mutex>
#include <set>
#include <thread>

using json = nlohmann::json;

namespace berth::registry {
namespace {

std::string human(int64_t b) {
    char buf[32];
    if (b >= 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1fMB", b / 1e6);
    else if (b >= 1000) std::snprintf(buf, sizeof buf, "%.1fkB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(b));
    return buf;
}

// A counting semaphore over the blobs in flight, granted in the order of tickets (ticket()
// when a blob is listed: an image's layers in manifest order), not in the order threads
// happen to start or wake. With more blobs than slots, the base layer (usually the one of
// many small files, the slowest to extract) is fetched first and extracted while the others
// download, instead of being left to the end, as the race left it in bench/pull_bench.sh
// (its download and whole extraction then came after the others'). A ticket is in line from
// ticket() until acquire() or leave(): a blob found stored, or one whose lock another thread
// or process holds, leaves the line (waiting for that lock in line could deadlock two
// processes) and, if it must download after all, joins it again at acquire().
class Slots {
public:
    explicit Slots(int n) : free_(n) {}
    uint64_t ticket() {
        std::lock_guard l(mu_);
        in_line_.insert(next_ticket_);
        return next_ticket_++;
    }
    void acquire(uint64_t ticket) {
        std::unique_lock l(mu_);
        in_line_.insert(ticket);
        cv_.wait(l, [&] { return free_ > 0 && *in_line_.begin() == ticket; });
        in_line_.erase(in_line_.begin());
        --free_;
        if (free_ > 0 && !in_line_.empty()) cv_.notify_all();  // the next in line may go too
    }
    void leave(uint64_t ticket) {
        {
            std::lock_guard l(mu_);
            if (in_line_.erase(ticket) == 0) return;
        }
        cv_.notify_all();
    }
    void release() {
        {
            std::lock_guard l(mu_);
            ++free_;
        }
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int free_;
    uint64_t next_ticket_ = 0;
    std::set<uint64_t> in_line_;
};

bool known_layer_type(const std::string& t) {
    return t.empty() || t == "application/vnd.oci.image.layer.v1.tar" || t == "application/vnd.oci.image.layer.v1.tar+gzip" ||
           t == "application/vnd.oci.image.layer.v1.tar+zstd" || t == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
           t == "application/vnd.docker.image.rootfs.diff.tar" ||
           t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
           t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

// Whether a stored image is for the platform asked for ("" is this machine's): the same
// index digest pulled for another platform is not up to date.
bool stored_platform_fits(const images::ImageRecord& rec, const std::string& platform, const images::Store& store) {
    json cfg = json::parse(images::detail::read_all(store.blob_path(rec.id)), nullptr, false);
    if (!cfg.is_object()) return false;
    std::string have = cfg.value("os", "linux") + "/" + cfg.value("architecture", "") +
                       (cfg.value("variant", "").empty() ? "" : "/" + cfg.value("variant", ""));
    Platform want = platform.empty() ? host_platform() : parse_platform(platform);
    try {
        return parse_platform(have).str() == parse_platform(want.str()).str();
    } catch (const Error&) {
        return false;
    }
}

struct Puller {
    images::Store& store;
    Session& session;
    const Settings& settings;
    Slots& slots;
    const PullOptions& o;
    std::mutex out_mu;

    // A status of an image (blob "") or of one of its blobs, as the line "NAME  [BLOB  ]STATUS".
    // "Waiting" shows on a terminal only (its line is empty).
    void say(const std::string& name, const std::string& blob, const std::string& status, bool finished = false) {
        if (!o.progress) return;
        std::string line = status == "Waiting" ? "" : name + "  " + (blob.empty() ? "" : blob + "  ") + status;
        std::lock_guard l(out_mu);
        o.progress({name, blob, status, -1, 0, finished, line});
    }
    ProgressFn moving(const std::string& name, const std::string& blob) {
        if (!o.progress) return nullptr;
        return [this, name, blob](const std::string&, int64_t done, int64_t total) {
            std::lock_guard l(out_mu);
            o.progress({name, blob, "Downloading", done, total, false, {}});
        };
    }

    PullResult pull(const PullRequest& req) {
        PullResult res;
        res.ref = req.ref;
        try {
            images::Reference ref = images::parse_reference(req.ref);
            std::string name = ref.familiar();
            Client c(session, ref, endpoints(settings, ref.domain));
            say(name, "", "Pulling");
            // The HEAD tells whether a stored image is up to date; with none stored, the GET of
            // the manifest must come anyway and names its digest itself: one round trip less.
            auto existing = store.find(req.ref);
            std::string target = !ref.digest.empty() ? ref.digest : existing ? c.resolve() : "";
            if (existing && !target.empty() && existing->repo_digest == target && stored_platform_fits(*existing, req.platform, store)) {
                res.ok = true;
                res.digest = target;
                say(name, "", "Up to date (" + target.substr(0, 19) + ")", true);
                return res;
            }
            Manifest m = c.fetch_manifest(target.empty() ? ref.tag : target);
            if (target.empty()) target = m.digest;
            if (m.is_index()) {
                Platform want = req.platform.empty() ? host_platform() : parse_platform(req.platform);
                json desc = choose_manifest(json::parse(m.bytes), want, name);
                m = c.fetch_manifest(desc.value("digest", ""));
                if (m.is_index()) throw Error("image " + name + ": an index names another index for " + want.str() + ", which berth does not follow");
            }
            json mj = json::parse(m.bytes);
            json config = mj.value("config", json::object());
            fetch_all(c, name, {config}, {});
            json cfg = json::parse(images::detail::read_all(store.blob_path(config.value("digest", ""))), nullptr, false);
            json diff_ids = cfg.is_object() ? cfg.value("rootfs", json::object()).value("diff_ids", json::array()) : json::array();
            std::vector<json> layers;
            for (const auto& l : mj.value("layers", json::array())) {
                std::string t = l.value("mediaType", "");
                if (!known_layer_type(t)) throw Error("image " + name + " has a layer of type \"" + t + "\", which berth cannot unpack");
                layers.push_back(l);
            }
            if (diff_ids.size() != layers.size())
                throw Error("image " + name + ": the manifest has " + std::to_string(layers.size()) + " layers but its config lists " +
                            std::to_string(diff_ids.size()) + " diff_ids");
            fetch_all(c, name, layers, diff_ids.get<std::vector<std::string>>());
            if (store.put_blob_bytes(m.bytes) != m.digest) throw Error("the manifest of " + name + " changed while stored");
            say(name, "", "Extracting");
            store.add_pulled(req.ref, m.digest, m.media_type, target);
            res.ok = res.updated = true;
            res.digest = target;
            say(name, "", "Pulled " + target, true);
        } catch (const Error& e) {
            res.error = e.message();
            res.hint = e.hint();
        } catch (const std::exception& e) {
            res.error = e.what();
        }
        return res;
    }

    // Fetches the blobs in parallel; with diff_ids (one per blob), each layer is extracted while
    // its blob downloads (images::LayerStream), or once it is stored.
    void fetch_all(Client& c, const std::string& name, const std::vector<json>& blobs, const std::vector<std::string>& diff_ids) {
        for (const auto& b : blobs)
            if (b.value("digest", "").rfind("sha256:", 0) != 0)
                throw Error("image " + name + " names a blob by \"" + b.value("digest", "") + "\": berth checks sha256 digests only");
        struct Tickets {  // whatever happens, none is left in line (it would hold up the rest)
            Slots& s;
            std::vector<uint64_t> t;
            ~Tickets() {
                for (uint64_t x : t) s.leave(x);
            }
        } tickets{slots, {}};
        for (size_t i = 0; i < blobs.size(); ++i) tickets.t.push_back(slots.ticket());
        parallel_for(blobs.size(), static_cast<int>(blobs.size()), [&](size_t i) {
            struct Leave {
                Slots& s;
                uint64_t t;
                ~Leave() { s.leave(t); }
            } leave{slots, tickets.t[i]};
            std::string digest = blobs[i].value("digest", "");
            int64_t size = blobs[i].value("size", int64_t{0});
            std::string diff_id = i < diff_ids.size() ? diff_ids[i] : "";
            std::optional<images::LayerStream> follow;
            if (!diff_id.empty()) follow.emplace(store, diff_id, "layer " + digest);
            std::string short_id = digest.substr(7, 12);
            bool fetched = false;
            if (!store.has_blob(digest)) {
                say(name, short_id, "Waiting");
                // A slot is taken once this thread is the one to download the blob: one that
                // waits for another thread's (or process's) download of it holds none, nor one
                // whose bytes all arrived and are being synced.
                bool held = false;
                struct Release {
                    Slots& s;
                    bool& held;
                    ~Release() {
                        if (held) s.release();
                    }
                } release{slots, held};
                Client::BlobHooks hooks;
                hooks.before_download = [&] {
                    slots.acquire(tickets.t[i]);
                    held = true;
                };
                hooks.before_wait = [&] { slots.leave(tickets.t[i]); };
                hooks.downloaded = [&] {  // the sync of the blob holds no slot
                    if (held) slots.release();
                    held = false;
                };
                fetched = c.fetch_blob(store, digest, size, moving(name, short_id), follow ? &*follow : nullptr, hooks);
            }
            slots.leave(tickets.t[i]);  // already stored, or fetched: out of line before extracting
            say(name, short_id, fetched ? "Downloaded " + human(size) : "Already exists", diff_id.empty() || !fetched);
            if (diff_id.empty()) return;
            bool streamed = false;
            try {
                streamed = follow->finish();
            } catch (Error& e) {
                throw e.wrap("layer " + digest);
            }
            if (!streamed) store.ensure_layer_checked(digest, diff_id);
            if (fetched) say(name, short_id, "Pull complete", true);
        });
    }
};

}  // namespace

std::vector<PullResult> pull_images(images::Store& store, const std::vector<PullRequest>& reqs, const PullOptions& o) {
    Settings settings = load_settings();
    UniqueFd ingest(store.hold_ingest());  // no prune while blobs are stored but unnamed
    Session session;
    Slots slots(std::max(1, o.parallel));
    Puller p{store, session, settings, slots, o, {}};
    std::vector<PullResult> results(reqs.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < reqs.size(); ++i) threads.emplace_back([&, i] { results[i] = p.pull(reqs[i]); });
    for (auto& t : threads) t.join();
    return results;
}

}  // namespace berth::registry
