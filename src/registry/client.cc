#include "registry/client.h"

#include "base/error.h"
#include "base/sha256.h"
#include "base/fd.h"
#include "images/stream.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <optional>
#include <thread>
#include <unistd.h>

using json = nlohmann::json;

namespace berth::registry {
namespace {

constexpr int kAttempts = 5;
constexpr int64_t kWriteBack = 8 << 20;

const std::string kAccept = std::string("Accept: ") + kOciIndex + ", " + kDockerList + ", " + kOciManifest + ", " +
                            kDockerManifest;

void backoff(int attempt) {
    // 0.25 s, 0.5 s, 1 s, 2 s …
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt, 4)));
}

std::string sha256_of(const std::string& bytes) {
    Sha256 h;
    h.update(bytes.data(), bytes.size());
    return "sha256:" + h.hex();
}

// The registry's own words from an error body ({"errors":[{"code","message"}]}).
std::string registry_says(const Response& r) {
    json j = json::parse(r.body, nullptr, false);
    std::string out;
    if (j.is_object() && j.contains("errors") && j["errors"].is_array())
        for (const auto& e : j["errors"])
            if (e.is_object()) {
                std::string m = e.value("message", e.value("code", ""));
                if (!m.empty()) out += (out.empty() ? "" : "; ") + m;
            }
    if (out.empty() && !r.body.empty() && r.body.size() < 200 && r.body.find('<') == std::string::npos) out = r.body;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

class Lease {
public:
    explicit Lease(Session& s) : s_(s), h_(s.take()) {}
    ~Lease() { s_.give(std::move(h_)); }
    Http& operator*() { return *h_; }

private:
    Session& s_;
    std::unique_ptr<Http> h_;
};

}  // namespace

std::string manifest_type(const std::string& bytes, const std::string& header_type, const std::string& image) {
    json j = json::parse(bytes, nullptr, false);
    if (!j.is_object()) throw Error("the manifest of " + image + " is not valid JSON");
    std::string mt = j.value("mediaType", "");
    if (mt.empty()) mt = header_type.substr(0, header_type.find(';'));
    if (j.value("schemaVersion", 0) == 1 || mt.find("distribution.manifest.v1") != std::string::npos)
        throw Error("image " + image + " has a Docker schema 1 manifest, a format berth does not read",
                    "push the image again with a current client: registries then store a schema 2 or OCI manifest");
    if (mt == kOciIndex || mt == kDockerList || mt == kOciManifest || mt == kDockerManifest) return mt;
    if (mt.empty() || mt == "application/json") {
        if (j.contains("manifests")) return kOciIndex;
        if (j.contains("config") && j.contains("layers")) return kOciManifest;
    }
    throw Error("image " + image + " has a manifest of type \"" + mt + "\", which berth does not read");
}

Session::Session() = default;

std::unique_ptr<Http> Session::take() {
    {
        std::lock_guard g(mu_);
        if (!idle_.empty()) {
            auto h = std::move(idle_.back());
            idle_.pop_back();
            return h;
        }
    }
    return std::make_unique<Http>();
}

void Session::give(std::unique_ptr<Http> h) {
    std::lock_guard g(mu_);
    idle_.push_back(std::move(h));
}

Client::Client(Session& session, const images::Reference& ref, std::vector<Endpoint> endpoints)
    : session_(session), ref_(ref), eps_(std::move(endpoints)), scope_("repository:" + ref.path + ":pull") {}

std::string Client::image() const {
    images::Reference r = ref_;
    return r.familiar();
}

Response Client::call_on(const Endpoint& ep, Request& req) {
    Lease http(session_);
    for (int round = 0;; ++round) {
        Request r = req;
        if (std::string h = session_.auth().header(ep.host, scope_); !h.empty()) r.headers.push_back(h);
        Response resp = (*http).perform(ep, r);
        std::string www = resp.header("www-authenticate");
        if (resp.status == 401 && !www.empty() && round < 3 && session_.auth().answer(*http, ep, scope_, www)) continue;
        return resp;
    }
}

Response Client::call(Request req, bool once) {
    for (int attempt = 0;; ++attempt) {
        const Endpoint& ep = eps_[ep_index_];
        req.url = ep.base() + req.url.substr(req.url.find("/v2/"));
        Response r;
        try {
            r = call_on(ep, req);
        } catch (const TransportError& e) {
            if (ep_index_ + 1 < eps_.size()) {  // a mirror that fails: the next one, then the registry
                ++ep_index_;
                continue;
            }
            if (once || !e.retryable() || attempt + 1 >= kAttempts) throw;
            backoff(attempt);
            continue;
        }
        if (r.status >= 500 && r.status != 501 && !once && attempt + 1 < kAttempts) {
            backoff(attempt);
            continue;
        }
        if (r.status >= 400 && ep_index_ + 1 < eps_.size()) {
            ++ep_index_;
            continue;
        }
        return r;
    }
}

void Client::http_error(const Response& r, const std::string& what) const {
    std::string host = eps_[ep_index_].host, says = registry_says(r);
    std::string tail = says.empty() ? "" : " (" + says + ")";
    switch (r.status) {
    case 404:
        throw Error(what + " not found in registry " + host + tail,
                    "check the image's name and tag; a private image also reads as not found without `berth login " + host + "`");
    case 401:
    case 403:
        throw Error("registry " + host + " denied access to " + image() + tail, "if it is private, run `berth login " + host + "`");
    case 429: {
        std::string after = r.header("retry-after");
        throw Error("registry " + host + " is rate-limiting pulls" + tail,
                    after.empty() ? "wait a while, or log in to raise the limit" : "retry after " + after + " seconds");
    }
    default:
        throw Error("registry " + host + " answered " + std::to_string(r.status) + " for " + what + tail);
    }
}

std::string Client::resolve() {
    std::string ref = ref_.digest.empty() ? ref_.tag : ref_.digest;
    Request req = Request::make("HEAD", "/v2/" + ref_.path + "/manifests/" + ref, {kAccept});
    Response r = call(req);
    if (r.status == 404 || r.status == 401 || r.status == 403 || r.status == 429) http_error(r, "image " + image());
    if (r.status != 200) return "";  // some registries refuse HEAD: fetch the tag instead
    std::string d = r.header("docker-content-digest");
    return d.rfind("sha256:", 0) == 0 ? d : "";
}

Manifest Client::fetch_manifest(const std::string& ref) {
    Request req = Request::make("GET", "/v2/" + ref_.path + "/manifests/" + ref, {kAccept});
    Response r = call(req);
    if (r.status != 200) http_error(r, "image " + image());
    Manifest m;
    m.bytes = r.body;
    m.digest = sha256_of(m.bytes);
    std::string claimed = ref.rfind("sha256:", 0) == 0 ? ref : r.header("docker-content-digest");
    if (claimed.rfind("sha256:", 0) == 0 && claimed != m.digest)
        throw Error("the manifest of " + image() + " from " + endpoint().host + " has digest " + m.digest + ", not " + claimed,
                    "the registry's copy is corrupt, or something on the way altered it");
    m.media_type = manifest_type(m.bytes, r.header("content-type"), image());
    return m;
}

std::string Client::fetch_small_blob(const std::string& digest, int64_t size) {
    Request req = Request::make("GET", "/v2/" + ref_.path + "/blobs/" + digest);
    Response r = call(req);
    if (r.status != 200) http_error(r, "blob " + digest + " of " + image());
    if (sha256_of(r.body) != digest || (size > 0 && static_cast<int64_t>(r.body.size()) != size))
        throw Error("blob " + digest + " of " + image() + " from " + endpoint().host + " does not match its digest",
                    "the registry's copy is corrupt; push the image again");
    return r.body;
}

bool Client::fetch_blob(images::Store& store, const std::string& digest, int64_t size, const ProgressFn& progress,
                        images::LayerStream* follow, const BlobHooks& hooks) {
    if (store.has_blob(digest)) return false;
    UniqueFd lock(store.lock_blob(digest, false));
    if (!lock) {  // another berth (or thread) is fetching it: wait, then reuse
        if (hooks.before_wait) hooks.before_wait();
        lock = UniqueFd(store.lock_blob(digest));
    }
    if (store.has_blob(digest)) return false;
    if (hooks.before_download) hooks.before_download();
    download(store, digest, size, progress, follow, hooks.downloaded);
    return true;
}

void Client::download(images::Store& store, const std::string& digest, int64_t size, const ProgressFn& progress,
                      images::LayerStream* follow, const std::function<void()>& downloaded) {
    std::string path = store.ingest_path(digest);
    for (int attempt = 0;; ++attempt) {
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) throw Error::sys(errno, "open " + path);
        // What a cut or killed download left is hashed and continued, not fetched again.
        std::optional<Sha256> hash(std::in_place);
        int64_t have = 0;
        char buf[1 << 16];
        for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) hash->update(buf, static_cast<size_t>(n)), have += n;
        auto restart = [&] {
            if (::ftruncate(fd.get(), 0) < 0 || ::lseek(fd.get(), 0, SEEK_SET) < 0) throw Error::sys(errno, "truncate " + path);
            hash.emplace();
            have = 0;
            if (follow) follow->restarted();
        };
        if (size > 0 && have > size) restart();
        if (follow) follow->opened(fd.get(), have);
        int64_t flushed = have;  // written back to disk from there on (sync_file_range below)
        bool complete = size > 0 && have == size;
        if (!complete) {
            Request req = Request::make("GET", "/v2/" + ref_.path + "/blobs/" + digest);
            req.range_from = have;
            req.on_full_body = restart;  // the registry ignored the Range
            bool too_big = false;
            req.sink = [&](const char* p, size_t n) {
                if (size > 0 && have + static_cast<int64_t>(n) > size) return !(too_big = true);
                for (size_t off = 0; off < n;) {
                    ssize_t w = ::write(fd.get(), p + off, n - off);
                    if (w < 0 && errno == EINTR) continue;
                    if (w < 0) throw Error::sys(errno, "write " + path);
                    off += static_cast<size_t>(w);
                }
                hash->update(p, n);
                have += static_cast<int64_t>(n);
                if (follow) follow->grew(have);
                // Start writing back every few MiB, so the fsync before the blob is stored
                // (Store::commit_blob) waits for the last few only.
                if (have - flushed >= kWriteBack) {
                    ::sync_file_range(fd.get(), flushed, have - flushed, SYNC_FILE_RANGE_WRITE);
                    flushed = have;
                }
                if (progress) progress(digest, have, size);
                return true;
            };
            Response r;
            try {
                r = call(req, true);
            } catch (const TransportError& e) {
                if (too_big) break;
                if (!e.retryable() || attempt + 1 >= kAttempts) throw Error(e.message() + " (blob " + digest + ")", e.hint());
                backoff(attempt);
                continue;
            }
            if (r.status == 416) {  // what we have is no prefix the registry knows
                restart();
                if (attempt + 1 < kAttempts) continue;
            }
            if (r.status != 200 && r.status != 206) http_error(r, "blob " + digest + " of " + image());
            if (size > 0 && have < size) {
                if (attempt + 1 >= kAttempts) throw Error("blob " + digest + " of " + image() + " came short from " + endpoint().host);
                backoff(attempt);
                continue;
            }
        }
        std::string got = "sha256:" + hash->hex();
        if (got != digest || (size > 0 && have != size)) {
            fd.reset();
            ::unlink(path.c_str());
            throw Error("blob " + digest + " of " + image() + " from " + endpoint().host + " has digest " + got +
                            " (" + std::to_string(have) + " bytes): it does not match",
                        "the registry's copy is corrupt (or was altered on the way); nothing was stored");
        }
        fd.reset();
        if (downloaded) downloaded();
        store.commit_blob(path, digest);
        return;
    }
    ::unlink(path.c_str());
    throw Error("blob " + digest + " of " + image() + " from " + endpoint().host + " is larger than the " +
                    std::to_string(size) + " bytes its manifest says",
                "the registry's copy is corrupt; nothing was stored");
}

}  // namespace berth::registry
