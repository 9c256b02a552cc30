// The OCI distribution API for one repository: resolve a tag with a HEAD of
// its manifest (Docker-Content-Digest), fetch manifests and indexes by digest
// (verified), and stream blobs into the store's ingest area while hashing
// them, resuming a cut download with HTTP Range, renaming a blob into the
// store only once its digest is right. Authentication and retries with
// backoff are handled here; errors name the image, the registry and the fix.
#pragma once

#include "images/reference.h"
#include "images/store.h"
#include "images/stream.h"
#include "registry/auth.h"
#include "registry/http.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace berth::registry {

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

struct Manifest {
    std::string digest, media_type, bytes;
    bool is_index() const { return media_type == kOciIndex || media_type == kDockerList; }
};

// The media type of a manifest's bytes (its mediaType field, else the header's); throws
// berth::Error for schema 1 and for what is not a manifest.
std::string manifest_type(const std::string& bytes, const std::string& header_type, const std::string& image);

// A pool of HTTP connections with one Authenticator, shared by the threads of a pull.
class Session {
public:
    Session();
    std::unique_ptr<Http> take();
    void give(std::unique_ptr<Http> h);
    Authenticator& auth() { return auth_; }

private:
    std::mutex mu_;
    std::vector<std::unique_ptr<Http>> idle_;
    Authenticator auth_;
};

// Bytes moved, for progress lines and the pull benchmark.
using ProgressFn = std::function<void(const std::string& digest, int64_t done, int64_t total)>;

class Client {
public:
    Client(Session& session, const images::Reference& ref, std::vector<Endpoint> endpoints);

    // The digest a tag (or the reference's digest) names, by HEAD; "" if the registry
    // gives none (then fetch() the tag).
    std::string resolve();
    // A manifest or index by digest or tag, its digest checked.
    Manifest fetch_manifest(const std::string& digest_or_tag);
    // A small blob (a config) by digest, checked, into the store; returns its bytes.
    std::string fetch_small_blob(const std::string& digest, int64_t size);
    // A blob into the store; safe against other processes. False when it was there already
    // (or another thread or process stored it while this one waited). With follow, a layer
    // is extracted from the blob as it arrives; before_download runs once the blob is locked
    // and still missing (a puller takes a download slot there, not while it waits);
    // before_wait runs when another thread or process holds the blob's lock, before waiting;
    // downloaded once all its bytes arrived and were verified, before the blob is synced and
    // stored (a puller gives its slot back there: the next download need not wait for a sync).
    struct BlobHooks {
        std::function<void()> before_download, before_wait, downloaded;
    };
    bool fetch_blob(images::Store& store, const std::string& digest, int64_t size, const ProgressFn& progress,
                    images::LayerStream* follow = nullptr, const BlobHooks& hooks = {});

    // Pushing (registry/upload.cc). want_push() asks for push access from then on.
    void want_push();
    bool has_remote_blob(const std::string& digest);  // a HEAD of the blob
    // Starts an upload: with from_repo, asks the registry to mount the blob from that
    // repository of the same registry. "" when it mounted it, else the upload's location.
    std::string start_upload(const std::string& digest, const std::string& from_repo = "");
    // Sends a stored blob to an upload location: in one PUT when it is at most chunk bytes,
    // else in PATCHes of chunk bytes and a closing PUT ?digest=.
    void upload_blob(std::string location, const std::string& path, const std::string& digest, int64_t chunk,
                     const ProgressFn& progress = nullptr);
    // PUTs a manifest under a tag; returns the digest the registry gives it.
    std::string put_manifest(const std::string& tag, const std::string& media_type, const std::string& bytes);

    const Endpoint& endpoint() const { return eps_[ep_index_]; }
    std::string image() const;  // for messages: "127.0.0.1:5000/app:1"

private:
    Response call(Request req, bool once = false);  // once: no retries here (download() resumes)
    Response call_on(const Endpoint& ep, Request& req);
    [[noreturn]] void http_error(const Response& r, const std::string& what) const;
    void download(images::Store& store, const std::string& digest, int64_t size, const ProgressFn& progress,
                  images::LayerStream* follow, const std::function<void()>& downloaded);

    Session& session_;
    images::Reference ref_;
    std::vector<Endpoint> eps_;
    size_t ep_index_ = 0;
    std::string scope_;
};

}  // namespace berth::registry
