// RUN --mount: BuildKit's mount forms as the runtime's mounts. bind (from the
// context, a named context, a stage or an image), cache (kept under
// build-cache/mounts), tmpfs, secret (the request's bytes as a file or a
// variable, never in a layer) and ssh (an agent's socket bound in).
#include "base/error.h"
#include "base/files.h"
#include "base/sha256.h"
#include "build/builder_internal.h"

#include <charconv>
#include <filesystem>

namespace fs = std::filesystem;

namespace berth::build::detail {
namespace {

bool inside(const std::string& path, const std::string& dir) {
    std::error_code e1, e2;
    std::string p = fs::weakly_canonical(path, e1).string(), d = fs::weakly_canonical(dir, e2).string();
    return !e1 && !e2 && (p == d || p.rfind(d + "/", 0) == 0);
}

uint32_t number(const std::string& key, const std::string& v, int base, uint32_t fallback) {
    if (v.empty()) return fallback;
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
    if (ec != std::errc() || p != v.data() + v.size()) throw Error("invalid value " + v + " for " + key);
    return n;
}

// "64m", "1g", "4096": bytes.
int64_t size_bytes(const std::string& v) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    std::string unit(p, v.data() + v.size());
    for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : -1;
    if (ec != std::errc() || n < 0 || shift < 0) throw Error("invalid tmpfs size " + v, "give bytes, or a number with k, m or g");
    return n << shift;
}

std::string absolute_target(const std::string& t) { return !t.empty() && t[0] != '/' ? "/" + t : t; }

void bind_mount(StepEnv& env, const Step& step, const Mount& m, runtime::MountSpec& ms, RunMounts& out) {
    std::string rel = clean_source(m.source);
    if (m.from.empty()) {
        ms.source = env.req.context_dir + (rel.empty() ? "" : "/" + rel);
        if (!inside(ms.source, env.req.context_dir))  // a symlink must not lead out of the context
            throw Error("RUN --mount source " + m.source + " leads out of the build context");
    } else if (std::string dir = named_context_dir(env.req, m.from); !dir.empty()) {
        ms.source = dir + (rel.empty() ? "" : "/" + rel);
        if (!inside(ms.source, dir)) throw Error("RUN --mount source " + m.source + " leads out of the context " + m.from);
    } else {
        // A stage or an image: its tree, writable over a scratch upper dir when rw (the writes are dropped, as BuildKit).
        ImageState src = resolve_from(env, step, m.from);
        auto& scratch = out.dirs.emplace_back(std::make_unique<ScratchDir>(env.req.state_root));
        auto& tree = out.overlays.emplace_back(std::make_unique<OverlayMount>(layer_dirs(env.store, src), *scratch, !m.readonly));
        ms.source = tree->root() + (rel.empty() ? "" : "/" + rel);
        if (!inside(ms.source, tree->root())) throw Error("RUN --mount source " + m.source + " leads out of " + m.from);
    }
    if (!files::exists(ms.source)) throw Error("RUN --mount source " + (m.source.empty() ? "/" : m.source) + " not found" +
                                                (m.from.empty() ? " in the build context" : " in " + m.from));
    ms.read_only = m.readonly;
}

// false: an optional secret the build was not given (no mount, as BuildKit).
bool secret_mount(StepEnv& env, const Mount& m, runtime::MountSpec& ms, RunMounts& out) {
    std::string id = !m.id.empty() ? m.id : !m.source.empty() ? m.source : fs::path(m.target).filename().string();
    auto it = env.req.secrets.find(id);
    if (it == env.req.secrets.end()) {
        if (m.required)
            throw Error("secret " + id + " is required but was not given",
                        "give it with `berth build --secret id=" + id + ",src=FILE` or compose's build.secrets");
        return false;
    }
    if (!m.env.empty()) out.env.push_back(m.env + "=" + it->second);
    if (!m.env.empty() && m.target.empty()) return false;
    ms.type = runtime::MountSpec::Type::File;
    ms.target = m.target.empty() ? "/run/secrets/" + id : absolute_target(m.target);
    ms.content = it->second;
    ms.mode = number("mode", m.mode, 8, 0400);
    ms.file_uid = number("uid", m.uid, 10, 0);
    ms.file_gid = number("gid", m.gid, 10, 0);
    ms.read_only = true;
    return true;
}

bool ssh_mount(StepEnv& env, const Mount& m, runtime::MountSpec& ms, RunMounts& out, size_t& agents) {
    std::string id = m.id.empty() ? "default" : m.id;
    auto it = env.req.ssh.find(id);
    if (it == env.req.ssh.end()) {
        if (m.required)
            throw Error("ssh agent " + id + " is required but was not given",
                        "give it with `berth build --ssh " + id + "` (with SSH_AUTH_SOCK set) or compose's build.ssh");
        return false;
    }
    if (!files::exists(it->second)) throw Error("ssh agent " + id + ": no socket at " + it->second);
    ms.source = it->second;
    ms.target = m.target.empty() ? "/run/buildkit/ssh_agent." + std::to_string(agents++) : absolute_target(m.target);
    ms.read_only = false;
    out.env.push_back("SSH_AUTH_SOCK=" + ms.target);
    return true;
}

}  // namespace

std::string named_context_dir(const BuildRequest& req, const std::string& name) {
    auto it = req.contexts.find(name);
    if (it == req.contexts.end() || it->second.rfind("docker-image://", 0) == 0) return {};
    return it->second;
}

RunMounts run_mounts(StepEnv& env, const Step& step) {
    const auto& r = step.inst.as<RunData>();
    RunMounts out;
    size_t agents = 0;
    for (const auto& m : r.mounts) {
        runtime::MountSpec ms;
        ms.target = absolute_target(m.target);
        switch (m.type) {
        case MountType::Cache: {
            std::string id = m.id.empty() ? m.target : m.id;
            ms.source = env.req.state_root + "/build-cache/mounts/" + sha256_hex(id).substr(0, 32);
            files::create_directories(ms.source);
            ms.read_only = m.readonly;
            break;
        }
        case MountType::Tmpfs:
            ms.type = runtime::MountSpec::Type::Tmpfs;
            if (!m.size.empty()) ms.size = size_bytes(m.size);
            break;
        case MountType::Bind: bind_mount(env, step, m, ms, out); break;
        case MountType::Secret:
            if (!secret_mount(env, m, ms, out)) continue;
            break;
        case MountType::Ssh:
            if (!ssh_mount(env, m, ms, out, agents)) continue;
            break;
        }
        out.mounts.push_back(std::move(ms));
    }
    return out;
}

}  // namespace berth::build::detail
