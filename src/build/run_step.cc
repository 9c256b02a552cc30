// RUN: a command in a container of berth's runtime over the image's layers,
// its upper dir becoming the step's layer.
#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "base/sha256.h"
#include "build/builder_internal.h"
#include "runtime/container.h"
#include "runtime/user.h"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <random>
#include <sys/stat.h>
#include <csignal>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::build::detail {
namespace {

constexpr size_t kTailLines = 12;

// The paths the runtime makes as mount points; those the image lacks are
// taken out of the layer again when the command left them empty (BuildKit's
// mount stubs).
const char* const kStubs[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf", "dev", "proc", "sys", "etc"};

void remove_stubs(const std::string& upper, const std::vector<std::string>& missing) {
    for (const auto& rel : missing) {
        std::string p = upper + "/" + rel;
        struct stat st {};
        if (::lstat(p.c_str(), &st) < 0) continue;
        if (S_ISREG(st.st_mode) && st.st_size == 0) ::unlink(p.c_str());
        else if (S_ISDIR(st.st_mode)) ::rmdir(p.c_str());  // only when empty
    }
}

// The shell script a shell-form RUN runs: the line, then its here-documents as the shell reads them.
std::vector<std::string> run_argv(const RunData& r, const nlohmann::json& config) {
    if (r.cmd.json || r.cmd.files.empty()) return command_argv(r.cmd, config);
    std::string line = r.cmd.args.empty() ? "" : r.cmd.args.front();
    std::string trimmed = line;
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.pop_back();
    CommandLine c;
    if (r.cmd.files.size() == 1 && trimmed.rfind("<<", 0) == 0 && trimmed.find(' ') == std::string::npos) {
        c.args = {r.cmd.files[0].content};  // `RUN <<EOF`: the body is the script
    } else {
        std::string script = line + "\n";
        for (const auto& h : r.cmd.files) script += h.content + h.name + "\n";
        c.args = {script};
    }
    return command_argv(c, config);
}

}  // namespace

void run_step(StepEnv& env, const Step& step, ImageState& st) {
    const auto& r = step.inst.as<RunData>();
    ScratchDir dir(env.req.state_root);
    std::vector<std::string> lowers = layer_dirs(env.store, st);
    if (lowers.empty()) lowers.push_back(dir.sub("empty"));
    RunMounts mounts;
    try {
        mounts = run_mounts(env, step);
    } catch (const Error& e) {
        throw Error(env.df.filename + ":" + std::to_string(step.inst.loc.line) + ":" + std::to_string(step.inst.loc.column) +
                        ": RUN: " + e.message(),
                    e.hint());
    }
    std::vector<std::string> missing;
    std::vector<std::string> stubs(std::begin(kStubs), std::end(kStubs));
    for (const auto& m : mounts.mounts) {  // mount points too, deepest first
        std::vector<std::string> chain;
        for (fs::path p = fs::path(clean_source(m.target)); !p.empty(); p = p.parent_path()) chain.push_back(p.string());
        stubs.insert(stubs.begin(), chain.begin(), chain.end());
    }
    for (const auto& s : stubs)
        if (!path_in_layers(lowers, s)) missing.push_back(s);

    const nlohmann::json& c = st.config.value("config", nlohmann::json::object());
    runtime::ContainerSpec spec;
    spec.id = run_container_id(dir.name());  // the sweep of a killed build finds its group by it
    spec.state_dir = dir.path() + "/ctr";
    spec.layers = lowers;
    spec.argv = run_argv(r, st.config);
    spec.env = c.value("Env", std::vector<std::string>{});
    for (const auto& a : step.args) spec.env.push_back(a.key + "=" + a.value);
    if (std::none_of(spec.env.begin(), spec.env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; }))
        spec.env.push_back(kDefaultPath);
    spec.cwd = c.value("WorkingDir", std::string());
    if (spec.cwd.empty()) spec.cwd = "/";
    auto user = runtime::resolve_user_in_layers(c.value("User", std::string()), {}, lowers);
    spec.uid = user.uid, spec.gid = user.gid, spec.groups = user.groups;
    spec.hostname = "buildkitsandbox";
    spec.die_with_parent = true;  // this thread waits for it below
    spec.mounts = std::move(mounts.mounts);
    spec.env.insert(spec.env.end(), mounts.env.begin(), mounts.env.end());
    if (env.req.shm_size) spec.shm_size = *env.req.shm_size;
    runtime::StartHooks hooks;
    try {
        if (r.security == "insecure")
            throw Error("RUN --security=insecure is not supported", "berth runs every RUN with the default capabilities and seccomp filter");
        if (env.network) env.network->configure(spec, r.network, hooks);
    } catch (const Error& e) {
        throw Error(env.df.filename + ":" + std::to_string(step.inst.loc.line) + ":" + std::to_string(step.inst.loc.column) +
                        ": RUN: " + e.message(),
                    e.hint());
    }
    struct Release {
        BuildNetwork* n;
        std::string id;
        ~Release() { if (n) n->release(id); }
    } release{env.network, spec.id};

    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw Error::sys(errno, "pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    auto t0 = std::chrono::steady_clock::now();
    runtime::Container ctr = runtime::Container::start(spec, runtime::Stdio{-1, wr.get(), wr.get()}, hooks);
    wr.reset();
    std::deque<std::string> tail;
    std::string partial;
    auto line = [&](std::string s) {
        double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        env.progress.output(env.id, s, at);
        tail.push_back(std::move(s));
        if (tail.size() > kTailLines) tail.pop_front();
    };
    char buf[8192];
    bool interrupted = false;
    for (;;) {
        pollfd fds[2] = {{rd.get(), POLLIN, 0}, {env.interrupts ? env.interrupts->fd() : -1, POLLIN, 0}};
        // A timeout: another stage's thread may have read the signal first.
        if (::poll(fds, 2, env.interrupts ? 200 : -1) < 0 && errno != EINTR) throw Error::sys(errno, "poll");
        if (env.interrupts && env.interrupts->pending() && !interrupted) {
            interrupted = true;
            ctr.kill(SIGKILL);  // its output ends with it; then everything is cleaned up
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        partial.append(buf, static_cast<size_t>(n));
        for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
            line(partial.substr(0, nl));
            partial.erase(0, nl + 1);
        }
    }
    if (!partial.empty()) line(partial);
    runtime::ExitStatus status = ctr.wait();
    ctr.teardown(false);
    if (interrupted) throw_interrupted();
    if (status.code != 0) {
        std::string cmd;
        for (const auto& a : spec.argv) cmd += (cmd.empty() ? "" : " ") + a;
        std::string what = "process \"" + cmd + "\" did not complete successfully: " + status.reason();
        env.progress.error(env.id, what);
        std::string msg = env.df.filename + ":" + std::to_string(step.inst.loc.line) + ":" +
                          std::to_string(step.inst.loc.column) + ": RUN: " + what;
        if (!tail.empty()) {
            msg += "\n------\n > " + env.label + ":\n";
            for (const auto& l : tail) msg += l + "\n";
            msg += "------";
        }
        Error e(msg);
        throw e;
    }
    std::string upper = spec.state_dir + "/upper";
    remove_stubs(upper, missing);
    if (auto l = commit_layer(env.store, upper, dir)) st.layers.push_back(*l);
}

}  // namespace berth::build::detail
