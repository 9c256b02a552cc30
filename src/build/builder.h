// The image builder: a Dockerfile, its context and options → an image in
// berth's store (images/store.h), built on berth's own runtime.
//
// build_image() parses the Dockerfile, plans the stages the target needs
// (build/stages.h) and runs their steps in order: config instructions edit the
// image config as docker writes it; RUN runs in a container (runtime/) over
// the layers below with a fresh upper dir; COPY/ADD write into an overlay of
// the layers below. Each filesystem step's upper dir becomes a layer. Steps
// are cached under <state root>/build-cache/ by their parent, instruction,
// the build args they see and (COPY/ADD) the content of what they copy.
// Knows no compose: the CLI turns `build:` into a BuildRequest.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::build {

struct BuildRequest {
    std::string state_root;          // $BERTH_ROOT: the image store and the cache live there
    std::string runtime_dir;         // $BERTH_RUNTIME_DIR: its networks.lock orders subnet choices
    std::string context_dir;         // absolute
    std::string dockerfile;          // path of the Dockerfile; relative: to context_dir
    std::string dockerfile_inline;   // the Dockerfile's text, instead of a file
    std::map<std::string, std::string> build_args;
    std::string target;              // a stage name; "" = the last stage
    std::map<std::string, std::string> labels;  // added to the image's labels
    std::vector<std::string> tags;   // the names the image is stored under (at least one)
    bool no_cache = false;
    bool pull = false;               // pull base images even when present
    bool quiet = false;              // no progress output
    bool parallel = true;            // independent stages at once (false: one after the other)
    std::string title;               // names the build in progress lines ("web")
    // RUN --mount=type=secret: id → the secret's bytes (never in a layer nor a cache key).
    std::map<std::string, std::string> secrets;
    // RUN --mount=type=ssh: id ("default") → the path of an SSH agent's socket on this host.
    std::map<std::string, std::string> ssh;
    std::string network;                   // RUN's network: ""/"default" (the build bridge), "none", "host"
    bool allow_host_network = false;       // RUN --network=host (compose's entitlements: network.host)
    std::vector<std::string> extra_hosts;  // "host:ip" (or host=ip) added to RUN's /etc/hosts
    std::optional<int64_t> shm_size;       // RUN's /dev/shm, bytes
    // Named contexts (`COPY --from=NAME`, `FROM NAME`, `RUN --mount=from=NAME`):
    // name → an absolute directory, or docker-image://REF for an image.
    std::map<std::string, std::string> contexts;
    // Makes a base image present in the store (pulling it); `always` with --pull.
    // Unset: a base image that is not in the store is an error.
    std::function<void(const std::string& image, bool always)> ensure_base;
    // Called at each progress event (a step begins, prints a line, ends), quiet or not, from
    // the building thread: `berth up` under systemd extends its start timeout with it.
    std::function<void()> on_progress;
    // Fetches a URL (`ADD https://…`) into a file; unset: ADD of a URL is an error.
    std::function<void(const std::string& url, const std::string& file)> fetch;
};

struct BuildResult {
    std::string id;  // sha256:… of the image config
    int steps = 0, cached = 0;
};

// Throws berth::Error: "Dockerfile:LINE:COL: INSTRUCTION: what failed" for a
// step that failed (a RUN's last output lines and exit code in the message).
BuildResult build_image(const BuildRequest& req);

// Empties the build cache and removes the layers only it kept; returns the entries removed.
size_t prune_cache(const std::string& state_root);

}  // namespace berth::build
