// build_image(): the stages the target needs, in order, each step cached or run.
#include "build/builder.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "base/sha256.h"
#include "build/builder_internal.h"
#include "build/parser.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

using json = nlohmann::json;

namespace berth::build {
namespace detail {
namespace {

bool digits(const std::string& s) {
    return !s.empty() && s.size() < 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string lowercase(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

// Base images, present in the store (pulled through the request's ensure_base).
class Bases {
public:
    Bases(images::Store& store, const BuildRequest& req) : store_(store), req_(req) {}

    // A named context (additional_contexts) that is an image: its reference; else `name`.
    std::string image_of(const std::string& name) const {
        auto it = req_.contexts.find(name);
        if (it == req_.contexts.end()) return name;
        const std::string prefix = "docker-image://";
        if (it->second.rfind(prefix, 0) != 0)
            throw Error("the context " + name + " is a directory, not an image", "COPY --from=" + name + " its files instead");
        return it->second.substr(prefix.size());
    }

    ImageState state(const std::string& named) {
        std::string name = image_of(named);
        std::lock_guard lock(mu_);
        if (name == "scratch") {
            ImageState st;
            auto args = platform_args();
            st.config = {{"architecture", args["TARGETARCH"]}, {"os", "linux"}, {"config", json::object()},
                         {"history", json::array()}};
            st.key = sha256_hex("scratch");
            default_path(st.config);
            return st;
        }
        ensure_locked(name);
        ImageState st;
        st.config = store_.config_json(name, &st.layers);
        st.config.erase("rootfs");
        st.key = sha256_hex("image " + store_.find(name)->id);
        default_path(st.config);
        return st;
    }

    // The base's Env, with the default PATH when it has none (BuildKit and buildah add it too).
    static void default_path(json& config) {
        json& env = config["config"]["Env"];
        if (!env.is_array()) env = json::array();
        for (const auto& e : env)
            if (e.is_string() && e.get<std::string>().rfind("PATH=", 0) == 0) return;
        env.push_back(kDefaultPath);
    }

    void ensure(const std::string& name) {
        std::string image = image_of(name);
        std::lock_guard lock(mu_);
        ensure_locked(image);
    }

private:
    void ensure_locked(const std::string& name) {
        if (name == "scratch") return;
        if (auto f = failed_.find(name); f != failed_.end()) throw f->second;  // one attempt per build
        if (!done_.insert(name).second) return;
        try {
            if (req_.ensure_base && (req_.pull || !store_.has(name))) req_.ensure_base(name, req_.pull);
            if (!store_.has(name))
                throw Error("base image " + name + " not found",
                            "pull it (`berth pull`), or make it with `berth image import` / `berth image load`");
        } catch (const Error& e) {
            failed_.emplace(name, e);
            throw;
        }
    }

    images::Store& store_;
    const BuildRequest& req_;
    std::set<std::string> done_;
    std::map<std::string, Error> failed_;
    std::mutex mu_;  // stages of one wave build at once
};

ImageState resolve_from(StepEnv& env, const Step& step, const std::string& from) {
    std::string lower = lowercase(from);
    for (const auto& s : env.plan->stages) {
        bool match = digits(from) ? s.index == std::stoul(from) : (!s.name.empty() && s.name == lower);
        if (!match) continue;
        auto it = env.stages->find(s.index);
        if (it == env.stages->end())
            throw Error(env.df.filename + ":" + std::to_string(step.inst.loc.line) + ": stage " + from + " is not built yet");
        return it->second;
    }
    return env.bases->state(from);
}

class Builder {
public:
    Builder(const BuildRequest& req, const Dockerfile& df, const BuildPlan& plan, images::Store& store, Bases& bases)
        : req_(req), df_(df), plan_(plan), store_(store), bases_(bases), progress_(req.quiet, stderr, req.on_progress),
          cache_(req.state_root, req.no_cache), ctx_(req.context_dir, req.dockerfile, req) {}

    BuildResult run() {
        // The stages of a wave need only stages of earlier waves: they build at once,
        // each in a thread of its own; results_ changes only between waves.
        for (const auto& wave : plan_.waves()) {
            std::vector<ImageState> out(wave.size());
            std::vector<std::exception_ptr> errors(wave.size());
            std::vector<std::thread> threads;
            for (size_t i = 1; i < wave.size(); ++i)
                if (req_.parallel) threads.emplace_back([&, i] { build_into(wave[i], out[i], errors[i]); });
            build_into(wave[0], out[0], errors[0]);
            for (size_t i = 1; i < wave.size() && !req_.parallel && !errors[i - 1]; ++i) build_into(wave[i], out[i], errors[i]);
            for (auto& t : threads) t.join();
            for (auto& e : errors)
                if (e) std::rethrow_exception(e);
            for (size_t i = 0; i < wave.size(); ++i) results_[wave[i]] = std::move(out[i]);
        }
        interrupts_.check();
        ImageState fin = results_.at(plan_.target);
        for (const auto& [k, v] : req_.labels) fin.config["config"]["Labels"][k] = v;
        images::ImageRecord rec = store_.commit_built(req_.tags, fin.config, fin.layers);
        for (const auto& t : req_.tags) progress_.note("naming to " + t + " done");
        result_.id = rec.id;
        result_.steps = steps_;
        result_.cached = cached_;
        return result_;
    }

private:
    void build_into(size_t index, ImageState& out, std::exception_ptr& error) {
        try {
            out = stage(plan_.stages[index]);
        } catch (...) {
            error = std::current_exception();
        }
    }

    ImageState stage(const Stage& st) {
        ImageState s;
        try {
            s = st.base_stage ? results_.at(*st.base_stage) : bases_.state(st.base);
        } catch (const Error& e) {
            throw Error(df_.filename + ":" + std::to_string(st.loc.line) + ":" + std::to_string(st.loc.column) + ": FROM: " +
                            e.message(),
                        e.hint());
        }
        s.cmd_set = false;
        // The base's ONBUILD triggers (an image's or a stage's) are the stage's first steps (plan_build):
        // spent, not inherited.
        if (s.config["config"].is_object()) s.config["config"].erase("OnBuild");
        size_t total = 1;
        for (const auto& step : st.steps) total += is_config_step(step.inst.kind) ? 0 : 1;
        std::string name = st.display();
        int id = progress_.start("[" + name + " 1/" + std::to_string(total) + "] FROM " + st.base);
        progress_.done(id, 0);
        size_t at = 1;
        for (const auto& step : st.steps) {
            ++steps_;
            if (is_config_step(step.inst.kind)) {
                apply_config(s, step);
                add_history(s, created_by(step, s.config), true);
                s.key = step_key(s.key, step, "");
                continue;
            }
            std::string label = "[" + name + " " + std::to_string(++at) + "/" + std::to_string(total) + "] " + first_line(step);
            fs_step(s, step, label);
        }
        return s;
    }

    static std::string first_line(const Step& step) {
        std::string t = step.inst.original;
        if (auto nl = t.find('\n'); nl != std::string::npos) t = t.substr(0, nl) + " …";
        return t;
    }

    void fs_step(ImageState& s, const Step& step, const std::string& label) {
        interrupts_.check();
        StepEnv env{store_, req_, df_, progress_, progress_.start(label), label, &results_, &plan_, &bases_, &interrupts_, &network_};
        auto t0 = std::chrono::steady_clock::now();
        std::string extra;
        Kind k = step.inst.kind;
        if (k == Kind::Copy || k == Kind::Add) {
            extra = copy_digest(env, ctx_, step, s);
        }
        std::string key = step_key(s.key, step, extra);
        if (auto hit = cache_.find(store_, key)) {
            s = *hit;
            progress_.cached(env.id);
            ++cached_;
            return;
        }
        size_t before = s.layers.size();
        std::string by = created_by(step, s.config);
        // COPY --link: its layer does not depend on the ones below, so it is
        // cached by what it copies and where alone, and reused over a changed parent.
        bool link = (k == Kind::Copy || k == Kind::Add) && step.inst.as<CopyData>().link;
        std::string link_key = link ? step_key("link " + s.config["config"].value("WorkingDir", std::string()), step, extra) : "";
        std::optional<ImageState> linked = link ? cache_.find(store_, link_key) : std::nullopt;
        if (linked) s.layers.insert(s.layers.end(), linked->layers.begin(), linked->layers.end());
        else if (k == Kind::Run) run_step(env, step, s);
        else if (k == Kind::Workdir) workdir_step(env, step, s);
        else copy_step(env, ctx_, step, s);
        if (link && !linked) {
            ImageState own;
            own.config = json::object();
            own.layers.assign(s.layers.begin() + static_cast<std::ptrdiff_t>(before), s.layers.end());
            own.key = link_key;
            cache_.put(own);
        }
        add_history(s, by, s.layers.size() == before, now_rfc3339());
        s.key = key;
        cache_.put(s);
        if (linked) {
            progress_.cached(env.id);
            ++cached_;
            return;
        }
        progress_.done(env.id, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }

    const BuildRequest& req_;
    const Dockerfile& df_;
    const BuildPlan& plan_;
    images::Store& store_;
    Bases& bases_;
    Progress progress_;
    Cache cache_;
    Context ctx_;
    std::map<size_t, ImageState> results_;
    BuildResult result_;
    std::atomic<int> steps_{0}, cached_{0};
    Interrupts interrupts_;
    BuildNetwork network_{req_};
};

}  // namespace detail

BuildResult build_image(const BuildRequest& req) {
    if (req.tags.empty()) throw Error("a build needs an image name");
    // What a build killed mid-way left (its bridge, nft table, RUN container, mounts) goes first.
    if (size_t n = detail::sweep_dead_builds(req)) spdlog::info("removed what {} scratch dir(s) of dead builds held", n);
    if (!files::is_directory(req.context_dir))
        throw Error("build context " + req.context_dir + " is not a directory", "check `build.context`");
    Dockerfile df;
    if (!req.dockerfile_inline.empty()) {
        df = parse_dockerfile(req.dockerfile_inline, "Dockerfile");
    } else {
        std::string name = req.dockerfile.empty() ? "Dockerfile" : req.dockerfile;
        std::string path = name[0] == '/' ? name : req.context_dir + "/" + name;
        if (!files::exists(path)) throw Error("cannot read " + path + ": no such file", "check `build.dockerfile` and `build.context`");
        df = load_dockerfile(path, name);
    }
    images::Store store(req.state_root);
    // Each step's layer is stored before the image names it: no prune until then (images/prune.cc).
    UniqueFd ingest(store.hold_ingest());
    detail::Bases bases(store, req);
    BuildOptions opt;
    opt.build_args = req.build_args;
    opt.target = req.target;
    opt.builtin_args = platform_args();
    opt.image_env = [&](const std::string& image) {
        std::vector<KeyValue> env;
        try {
            bases.ensure(image);
        } catch (const Error&) {
            return env;  // the stage's FROM fails below, naming its line
        }
        json config = store.config_json(bases.image_of(image));
        detail::Bases::default_path(config);
        for (const auto& e : config["config"]["Env"].get<std::vector<std::string>>()) {
            auto eq = e.find('=');
            env.push_back({e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1)});
        }
        return env;
    };
    opt.image_onbuild = [&](const std::string& image) {
        std::vector<std::string> triggers;
        try {
            bases.ensure(image);
        } catch (const Error&) {
            return triggers;
        }
        json config = store.config_json(bases.image_of(image));
        const json& ob = config["config"]["OnBuild"];
        if (ob.is_array())
            for (const auto& t : ob)
                if (t.is_string()) triggers.push_back(t.get<std::string>());
        return triggers;
    };
    BuildPlan plan = plan_build(df, opt);
    if (!req.quiet) {
        for (const auto& w : df.warnings) std::fprintf(stderr, "warning: %s\n", w.message.c_str());
        if (!plan.unused_args.empty()) {
            std::string names;
            for (const auto& a : plan.unused_args) names += (names.empty() ? "" : " ") + a;
            std::fprintf(stderr, "warning: build args not consumed by any ARG: %s\n", names.c_str());
        }
    }
    detail::Builder b(req, df, plan, store, bases);
    return b.run();
}

}  // namespace berth::build
