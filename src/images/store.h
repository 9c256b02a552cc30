// The image store under $BERTH_ROOT: an OCI image layout in images/
// (oci-layout, index.json naming each image by its normalized reference,
// blobs/sha256/…) and every layer extracted once into layers/<diff_id hex>/,
// shared by all containers as overlay lower dirs. Index updates take an
// exclusive flock on images/index.lock and are written atomically.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::images {

struct ImageConfig {
    std::optional<std::vector<std::string>> entrypoint, cmd;  // unset differs from empty
    std::vector<std::string> env;                             // "K=V"
    std::string working_dir, user, stop_signal;
    std::vector<std::string> exposed_ports;                   // "80/tcp"
    std::map<std::string, std::string> labels;
    struct Healthcheck {
        std::vector<std::string> test;
        int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // ns
        int retries = 0;
    };
    std::optional<Healthcheck> healthcheck;
};

ImageConfig parse_image_config(const nlohmann::json& config_blob);

struct ImageRecord {
    std::string name;       // normalized reference
    std::string id;         // sha256:… of the config blob
    std::string manifest;   // sha256:… of the manifest blob
    int64_t size = 0;       // bytes of layer blobs
    int64_t created = 0;    // unix seconds it was stored
    std::string media_type;   // of the manifest; empty: OCI manifest
    std::string repo_digest;  // what the registry named it by when pulled (index or manifest)
};

struct ResolvedImage {
    ImageRecord record;
    ImageConfig config;
    std::vector<std::string> layer_dirs;  // top-most first, for overlay's lowerdir
};

// A layer the image builder made: its blob (in blobs/) and its tree (in layers/).
struct BuiltLayer {
    std::string digest;   // of the blob
    std::string diff_id;  // of the uncompressed tar
    int64_t size = 0;     // bytes of the blob
    std::string media_type = "application/vnd.oci.image.layer.v1.tar";
};

struct PruneReport {
    std::vector<std::string> untagged;  // names removed (prune -a)
    std::vector<std::string> deleted;   // ids of the images whose blobs went
    int64_t reclaimed = 0;              // bytes of blobs and extracted layers removed
    // "NAME: why" for each image whose manifest or config could not be read: then no
    // extracted layer is removed (and no blob either when a manifest is unreadable).
    std::vector<std::string> unreadable;
};

// The store's extracted layers (the hex of their diff_id) that the overlay mounts of process
// `pid` stack, read from /proc/PID/mountinfo: a running container's root filesystem keeps
// using the layers of the image it started from after its name moved on to another image.
std::set<std::string> layers_mounted_by(int pid);

class Store;
// What a container keeps of its image when it is made, as Docker keeps it with the
// container (images/kept.cc): the image's name, id, config blob and layer dirs, in
// DIR/image.json. `exec` reads it there, so removing or re-pointing the image's
// name (image rm -f, a new pull) changes nothing for a container that runs. Called at every
// start: it writes the file only when it is missing or keeps another image, and without an fsync.
void keep_image(const Store& store, const ResolvedImage& image, const std::string& dir);
// What DIR/image.json says; nullopt when there is none (a container made before).
std::optional<ResolvedImage> kept_image(const std::string& dir);

class Store {
public:
    explicit Store(std::string root);  // the state root ($BERTH_ROOT)

    // `docker import`: one layer from a root filesystem tarball.
    ImageRecord import_rootfs(const std::string& tarball, const std::string& name);
    // `docker load`: an OCI image layout or `docker save` archive; returns the names loaded.
    std::vector<std::string> load_archive(const std::string& archive);
    // `docker save` (images/save.cc): a docker-save archive that is also an OCI layout, to
    // a file ("-": standard output).
    void save(const std::vector<std::string>& names, const std::string& out) const;
    std::vector<ImageRecord> list() const;
    // `docker image prune` (images/prune.cc): blobs and layers no name reaches; with all,
    // also every image whose normalized name is not in in_use. Layers in `mounted` (the hex
    // of their diff_id, as layers_mounted_by() finds them) stay whatever names reach them.
    PruneReport prune(bool all, const std::set<std::string>& in_use, const std::set<std::string>& mounted = {});
    // An flock'd fd on the ingest lock: pulls and loads hold it shared while they store
    // blobs not yet named, prune exclusively. Close it to unlock.
    int hold_ingest(bool exclusive = false) const;
    // `docker image rm`: the name goes; so do the layers no other image uses, except those in
    // `mounted` (the layers running containers stack, as layers_mounted_by() finds them). Holds
    // the ingest lock, so a pull or build storing layers not yet named keeps them.
    void remove(const std::string& name, const std::set<std::string>& mounted = {});
    ImageRecord tag(const std::string& source, const std::string& target);  // `docker tag`
    ResolvedImage resolve(const std::string& name) const;
    nlohmann::json inspect(const std::string& name) const;
    bool has(const std::string& name) const;
    std::optional<ImageRecord> find(const std::string& name) const;

    // Pulling (images/ingest.cc). A blob is written to ingest_path() under
    // lock_blob() while it is hashed, then commit_blob() renames it into
    // blobs/ once its digest is verified: nothing unverified is ever in blobs/.
    std::string blob_path(const std::string& digest) const;
    bool has_blob(const std::string& digest) const;
    std::string ingest_path(const std::string& digest) const;  // the partial download
    // An flock'd fd; close to unlock. Without wait, -1 when another holds it.
    int lock_blob(const std::string& digest, bool wait = true) const;
    // The flock'd fd that keeps others from extracting a layer; without wait, -1 when held.
    // Whoever holds it first removes the layer's temporary directories that an extraction
    // killed midway (kill -9) left: only the holder of this lock extracts that layer.
    int lock_layer(const std::string& diff_id, bool wait) const;
    void commit_blob(const std::string& tmp, const std::string& digest);
    std::string put_blob_bytes(const std::string& bytes);      // returns its digest
    // Names an image whose manifest, config and layer blobs are all in blobs/:
    // extracts each layer not yet extracted, checking its diff_id against the
    // config, then adds the name to the index.
    ImageRecord add_pulled(const std::string& name, const std::string& manifest_digest,
                           const std::string& media_type, const std::string& repo_digest);
    // Extracts one stored layer blob (if its diff_id is not extracted yet), checking the
    // diff_id in the same pass; a puller calls it as each layer arrives.
    void ensure_layer_checked(const std::string& blob_digest, const std::string& diff_id);
    // After a push: the registry knows the image by this digest (a later push may mount from it).
    void set_repo_digest(const std::string& name, const std::string& digest);

    // The image builder (images/built.cc). adopt_layer() moves a layer blob
    // written at `blob_file` into blobs/ and its tree `tree` (an overlay upper
    // dir: whiteouts as 0/0 devices) into layers/, unless either is there already
    // (then the file or tree is removed). commit_built() names an image made of
    // such layers (bottom first): its config blob (rootfs.diff_ids filled in
    // here), manifest and index entries, one per name, without re-reading layers.
    void adopt_layer(const std::string& blob_file, const std::string& tree, const BuiltLayer& layer);
    ImageRecord commit_built(const std::vector<std::string>& names, const nlohmann::json& config,
                             const std::vector<BuiltLayer>& layers);
    std::string layer_dir(const std::string& diff_id) const;
    bool has_layer(const BuiltLayer& layer) const;  // both its blob and its tree are present
    // An image's config blob as stored, and its layers (bottom first).
    nlohmann::json config_json(const std::string& name, std::vector<BuiltLayer>* layers = nullptr) const;
    // Removes these layers' trees and blobs unless an image in the index uses them.
    void remove_unused(const std::vector<BuiltLayer>& layers);

private:
    // The layers the index's images use; nullopt when one cannot be read (then any may be in use).
    std::optional<std::set<std::string>> used_diff_ids(const nlohmann::json& index) const;
    std::string put_blob_file(const std::string& path, const std::string& expect_digest = {});
    std::string put_blob_json(const nlohmann::json& j);
    std::string ensure_layer(const std::string& blob_digest);  // returns the diff_id
    // Stores an image's blobs and layers; commit_images() then names them in the index.
    // config_file: where the config came from, kept as is when it names these layers.
    ImageRecord stage_image(const std::string& name, const nlohmann::json& config,
                            const std::vector<std::string>& layer_blobs, const std::string& config_file = {});
    void commit_images(const std::vector<ImageRecord>& records);
    std::vector<ImageRecord> stage_archive(const std::string& archive);  // load_archive's work
    class Rollback;
    nlohmann::json read_index() const;
    void write_index(const nlohmann::json& index) const;

    std::string root_, images_, layers_;
    std::vector<std::string> added_;  // blobs and layer dirs this import/load created
};

}  // namespace berth::images
