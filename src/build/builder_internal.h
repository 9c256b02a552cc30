// What the builder's files (builder.cc, config_step.cc, run_step.cc,
// copy_step.cc, layer.cc, cache.cc, progress.cc) share. Not a public face.
#pragma once

#include "base/fd.h"
#include "build/builder.h"
#include "build/dockerignore.h"
#include "build/stages.h"
#include "images/store.h"
#include "runtime/container.h"
#include "runtime/spec.h"

#include <nlohmann/json.hpp>
#include <csignal>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <atomic>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::build::detail {

inline constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The image a stage has built so far.
struct ImageState {
    nlohmann::json config;                   // the config blob (config, history, …); rootfs is filled at commit
    std::vector<images::BuiltLayer> layers;  // bottom first
    std::string key;                         // the cache key that names this state
    bool cmd_set = false;                    // CMD given in this stage: a later ENTRYPOINT keeps it
};

std::vector<std::string> layer_dirs(const images::Store& store, const ImageState& st);  // top first
// Whether `rel` exists in the image these layer dirs (top first) make (a whiteout hides it).
bool path_in_layers(const std::vector<std::string>& layers, const std::string& rel);
std::string now_rfc3339();
void add_history(ImageState& st, const std::string& created_by, bool empty_layer, const std::string& created = {});

// Config instructions (everything but RUN, COPY, ADD, and WORKDIR's mkdir).
bool is_config_step(Kind k);
void apply_config(ImageState& st, const Step& step);
// The history's created_by text, as BuildKit writes it.
std::string created_by(const Step& step, const nlohmann::json& config);
// The process a shell- or exec-form command line runs, given the config's Shell.
std::vector<std::string> command_argv(const CommandLine& cmd, const nlohmann::json& config);

// A step's scratch directory under <root>/build-tmp/, removed with the object.
// It is flock()ed while it lives: a build killed with -9 leaves it unlocked,
// and the next build sweeps it (sweep_dead_builds).
class ScratchDir {
public:
    explicit ScratchDir(const std::string& root);
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }
    const std::string& name() const { return name_; }  // the last component of path()
    std::string sub(const std::string& name) const;  // made on first use

private:
    std::string path_, name_;
    UniqueFd lock_;
};

// sweep.cc: what builds that died left under <state_root>/build-tmp (scratch dirs no
// live build holds): their build network's bridge and nft table, their RUN
// containers' groups and processes, mounts and files. Returns how many dirs went.
size_t sweep_dead_builds(const BuildRequest& req);
// The id (and cgroup name under berth/) of the RUN container made in scratch dir `scratch_name`.
std::string run_container_id(const std::string& scratch_name);

// An overlay of `lowers` (top first; none: an empty dir) mounted at `merged`,
// with `upper` (empty: read-only). Unmounted when the object goes.
class OverlayMount {
public:
    OverlayMount(const std::vector<std::string>& lowers, const ScratchDir& dir, bool writable);
    ~OverlayMount();
    OverlayMount(const OverlayMount&) = delete;
    OverlayMount& operator=(const OverlayMount&) = delete;
    const std::string& root() const { return merged_; }
    std::string upper() const { return upper_; }

private:
    std::string merged_, upper_;
};

// The upper dir of a step → a layer in the store (the dir itself is moved
// there). Returns nullopt when the upper dir holds nothing.
std::optional<images::BuiltLayer> commit_layer(images::Store& store, const std::string& upper, const ScratchDir& dir);

// Runs `fn` in a child process chrooted into `root` (umask 0), so that the
// image's own symlinks resolve inside it; its exception comes back as an Error.
void run_in_root(const std::string& root, const std::function<void()>& fn);

// Progress lines as BuildKit's plain mode prints them, on stderr.
class Progress {
public:
    explicit Progress(bool quiet, FILE* out = stderr, std::function<void()> on_event = {})  // thread-safe
        : quiet_(quiet), out_(out), on_event_(std::move(on_event)) {}
    int start(const std::string& label);  // "#N label"; returns N
    void output(int n, std::string_view line, double at);
    void cached(int n);
    void done(int n, double secs);
    void error(int n, const std::string& message);
    void note(const std::string& text);

private:
    bool quiet_;
    FILE* out_;
    std::function<void()> on_event_;  // BuildRequest::on_progress
    std::atomic<int> next_{1};
    void event() const {
        if (on_event_) on_event_();
    }
};

// Ctrl-C during a build: SIGINT, SIGTERM and SIGHUP are blocked for its
// length and read from a signalfd, so that the step in progress is stopped
// and everything it made is cleaned up before berth exits (status 130).
class Interrupts {
public:
    Interrupts();
    ~Interrupts();  // the signal mask as it was
    Interrupts(const Interrupts&) = delete;
    Interrupts& operator=(const Interrupts&) = delete;
    int fd() const { return fd_; }
    bool pending() const;  // whether a signal came (read once, remembered; any thread)
    void check() const;    // throws when a signal came

private:
    sigset_t old_{};
    int fd_ = -1;
    mutable std::atomic<bool> hit_{false};
};
[[noreturn]] void throw_interrupted();

class Bases;  // base images (builder.cc)

}  // namespace berth::build::detail
namespace berth::netns { class Networks; }
namespace berth::build::detail {

// RUN's network (network.cc): the build's bridge, made on first use and
// removed with the object; the host's; or none. Thread-safe.
class BuildNetwork {
public:
    explicit BuildNetwork(const BuildRequest& req);
    ~BuildNetwork();
    BuildNetwork(const BuildNetwork&) = delete;
    BuildNetwork& operator=(const BuildNetwork&) = delete;
    // Sets the spec's network, /etc/hosts and resolv.conf for a RUN with
    // --network=`run_network` ("" = the build's), and the hook that plugs it in.
    void configure(runtime::ContainerSpec& spec, const std::string& run_network, runtime::StartHooks& hooks);
    void release(const std::string& container_id);  // its address, once it has ended

private:
    std::string mode(const std::string& run_network) const;
    void ensure_locked();
    const BuildRequest& req_;
    std::mutex mu_;
    std::unique_ptr<ScratchDir> dir_;
    std::unique_ptr<netns::Networks> nets_;
    std::string name_;
};

// What a step runs with.
struct StepEnv {
    images::Store& store;
    const BuildRequest& req;
    const Dockerfile& df;
    Progress& progress;
    int id = 0;                                     // the progress number
    std::string label;                              // "[stage-0 2/4] RUN make"
    std::map<size_t, ImageState>* stages = nullptr; // results of built stages
    const BuildPlan* plan = nullptr;
    Bases* bases = nullptr;
    const Interrupts* interrupts = nullptr;
    BuildNetwork* network = nullptr;
};

// RUN --mount: the runtime's mounts, the variables they add (secret env=,
// SSH_AUTH_SOCK) and the trees of stages they bind, held for the step.
struct RunMounts {
    std::vector<runtime::MountSpec> mounts;
    std::vector<std::string> env;
    std::vector<std::unique_ptr<ScratchDir>> dirs;
    std::vector<std::unique_ptr<OverlayMount>> overlays;  // unmounted before their dirs go
};
RunMounts run_mounts(StepEnv& env, const Step& step);
// The directory of a named context (additional_contexts); "" when `name` is none or an image.
std::string named_context_dir(const BuildRequest& req, const std::string& name);

// RUN: throws Error "Dockerfile:L:C: RUN: … exit code N" with the last output lines.
void run_step(StepEnv& env, const Step& step, ImageState& st);

// The build context: its entries that .dockerignore does not exclude, walked once.
class Context {
public:
    Context(std::string dir, std::string dockerfile, const BuildRequest& req);
    // ADD's URLs, each fetched once per build into a scratch dir: the file's path.
    const std::string& fetched(const std::string& url);
    const std::string& dir() const { return dir_; }
    struct Entry {
        std::string rel;
        struct stat st;
    };
    const std::vector<Entry>& entries();  // sorted by rel
    std::string file_digest(const Entry& e);  // sha256 hex of a regular file's bytes, memoized

private:
    std::string dir_, dockerfile_;
    const BuildRequest& req_;
    std::mutex mu_;  // stages of one wave share the context
    std::unique_ptr<ScratchDir> downloads_;
    std::map<std::string, std::string> fetched_;
    std::optional<std::vector<Entry>> entries_;
    std::map<std::string, std::string> digests_;
};

// A COPY --from value: an earlier stage's result (by name or index) or an image.
ImageState resolve_from(StepEnv& env, const Step& step, const std::string& from);

// COPY/ADD: the digest of what the step copies (content and metadata), for its cache key.
std::string copy_digest(StepEnv& env, Context& ctx, const Step& step, const ImageState& st);
void copy_step(StepEnv& env, Context& ctx, const Step& step, ImageState& st);
// WORKDIR: a layer making the directory when the image lacks it.
void workdir_step(StepEnv& env, const Step& step, ImageState& st);

// Matching and destination rules of COPY, exposed for tests.
bool source_matches(std::string_view pattern, std::string_view rel);
std::string clean_source(std::string_view src);  // "./a/b/" → "a/b", "/" or "." → ""
// Where a source lands: `dest` is a directory when it ends in '/', when
// several sources are copied, or when it exists as a directory.
std::string copy_target(const std::string& dest, const std::string& source_base, bool dest_is_dir);

// The cache (cache.cc).
class Cache {
public:
    Cache(const std::string& root, bool disabled);
    std::optional<ImageState> find(images::Store& store, const std::string& key) const;
    void put(const ImageState& st) const;

private:
    std::string dir_;
    bool disabled_;
};
std::string step_key(const std::string& parent, const Step& step, const std::string& extra);

}  // namespace berth::build::detail
