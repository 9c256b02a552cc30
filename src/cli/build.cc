// berth build [SERVICE…] [--no-cache] [--pull] [--build-arg K=V] [-q]
// berth builder prune
//
// Turns compose's `build:` into a build::BuildRequest; the builder (build/)
// does the rest. Progress on stderr; nothing with -q.
#include "cli/build.h"

#include "base/error.h"
#include "build/builder.h"
#include "cli/cli.h"
#include "cli/transfer.h"
#include "cli/project.h"
#include "images/reference.h"
#include "images/store.h"
#include "registry/http.h"
#include "registry/pull.h"
#include "state/state.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

namespace berth::cli {
namespace {

const compose::Service* find_service(const compose::Project& p, const std::string& name) {
    if (auto it = p.services.find(name); it != p.services.end()) return &it->second;
    if (auto it = p.disabled_services.find(name); it != p.disabled_services.end()) return &it->second;
    return nullptr;
}

// "K=V", or "K" for the value of $K (left out when unset), as compose reads build args.
void add_arg(std::map<std::string, std::string>& out, const std::string& k, const std::optional<std::string>& v) {
    if (v) {
        out[k] = *v;
    } else if (const char* e = std::getenv(k.c_str())) {
        out[k] = e;
    }
}

// ADD https://…: the body of a 2xx answer into `file`, over the registry client's libcurl.
void fetch_url(const std::string& url, const std::string& file) {
    registry::Endpoint ep;
    ep.insecure = url.rfind("http://", 0) == 0;
    std::string rest = url.substr(url.find("://") + 3);
    ep.host = rest.substr(0, rest.find_first_of("/?#"));
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out) throw Error::sys(errno, "create " + file);
    registry::Request r = registry::Request::make("GET", url);
    r.sink = [&out](const char* p, size_t n) { return static_cast<bool>(out.write(p, static_cast<std::streamsize>(n))); };
    registry::Http http;
    registry::Response resp = http.perform(ep, r);
    if (resp.status / 100 != 2) throw Error("cannot fetch " + url + ": HTTP status " + std::to_string(resp.status));
    out.close();
    if (!out) throw Error::sys(errno, "write " + file);
}

// The service of the project (enabled or not: a base image's service may sit in
// a profile that never starts) whose `build:` makes `image`; "" when none does.
std::string builder_of(const compose::Project& p, const std::string& image) {
    std::string want;
    try {
        want = images::normalize_name(image);
    } catch (const std::exception&) {
        return "";
    }
    for (const auto* group : {&p.services, &p.disabled_services})
        for (const auto& [n, svc] : *group) {
            if (!svc.build) continue;
            std::vector<std::string> names = {compose::image_name(p, n, svc)};
            names.insert(names.end(), svc.build->tags.begin(), svc.build->tags.end());
            for (const auto& name : names) {
                try {
                    if (images::normalize_name(name) == want) return n;
                } catch (const std::exception&) {
                }
            }
        }
    return "";
}

void build_service(const compose::Project& p, const std::string& name, const compose::Service& svc, const BuildFlags& f);

// A missing image another service of the project builds is built, not pulled:
// a `FROM` naming a base image the project makes, or an `image:` without `build:`.
bool build_if_project_makes(const compose::Project& p, const std::string& image, const BuildFlags& f) {
    std::string n = builder_of(p, image);
    if (n.empty()) return false;
    thread_local std::set<std::string> building;  // a base whose FROM names itself
    if (!building.insert(n).second)
        throw Error("service " + n + ": its image " + image + " is built FROM itself", "name another base image in its Dockerfile");
    try {
        if (!images::Store(state::state_root()).has(image)) build_service(p, n, *find_service(p, n), f);
    } catch (...) {
        building.erase(n);
        throw;
    }
    building.erase(n);
    return true;
}

std::string read_file(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::sys(errno, "read " + what + " " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// `--secret id=ID,src=FILE` / `id=ID,env=VAR` / `id=ID` (the variable ID, as docker): id and bytes.
std::pair<std::string, std::string> secret_flag(const std::string& flag) {
    std::string id, src, env;
    std::stringstream in(flag);
    for (std::string field; std::getline(in, field, ',');) {
        auto eq = field.find('=');
        std::string k = field.substr(0, eq), v = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (k == "id") id = v;
        else if (k == "src" || k == "source") src = v;
        else if (k == "env") env = v;
        else if (k == "type" && (v == "file" || v == "env")) continue;
        else throw Error("--secret " + flag + ": unknown field " + field, "write id=ID,src=FILE or id=ID,env=VAR");
    }
    if (id.empty()) throw Error("--secret " + flag + ": no id", "write id=ID,src=FILE or id=ID,env=VAR");
    if (!src.empty()) return {id, read_file(src, "secret " + id)};
    const char* v = std::getenv((env.empty() ? id : env).c_str());
    if (!v) throw Error("--secret " + flag + ": the variable " + (env.empty() ? id : env) + " is not set", "set it or give src=FILE");
    return {id, v};
}

// compose's build.secrets: the top-level secret's file, variable or content, under its target (else its name).
void add_secrets(const compose::Project& p, const compose::Build& b, build::BuildRequest& req) {
    for (const auto& ref : b.secrets) {
        const compose::FileObject& s = p.secrets.at(ref.source);
        std::string id = ref.target.empty() ? ref.source : ref.target;
        if (!s.file.empty()) req.secrets[id] = read_file(s.file, "secret " + ref.source);
        else if (!s.environment.empty()) {
            auto it = p.environment.find(s.environment);
            if (it != p.environment.end()) req.secrets[id] = it->second;
            else if (const char* v = std::getenv(s.environment.c_str())) req.secrets[id] = v;
            else if (!s.env_value.empty()) req.secrets[id] = s.env_value;
        } else req.secrets[id] = s.content;
    }
}

// `--ssh default` / `ID=SOCKET`: an agent's socket ($SSH_AUTH_SOCK for `default` without one).
void add_ssh(const std::vector<std::string>& specs, build::BuildRequest& req) {
    for (const auto& spec : specs) {
        auto eq = spec.find('=');
        std::string id = spec.substr(0, eq), path = eq == std::string::npos ? "" : spec.substr(eq + 1);
        if (path.empty()) {
            const char* sock = std::getenv("SSH_AUTH_SOCK");
            if (!sock || !*sock)
                throw Error("ssh " + spec + ": no agent socket given and SSH_AUTH_SOCK is not set", "start ssh-agent, or write ID=/path/to/agent.sock");
            path = sock;
        }
        req.ssh[id] = path;
    }
}

void build_service(const compose::Project& p, const std::string& name, const compose::Service& svc, const BuildFlags& f) {
    const compose::Build& b = *svc.build;
    if (!b.network_refused.empty()) throw Error(b.network_refused, b.network_refused_hint);
    for (const auto& k : b.ignored)
        std::fprintf(stderr, "warning: service %s: build.%s is not supported by berth's builder yet; ignored\n", name.c_str(), k.c_str());
    if (b.context.find("://") != std::string::npos || b.context.rfind("git@", 0) == 0)
        throw Error("service " + name + ": build context " + b.context + " is remote; berth builds from a local directory",
                    "clone it and point `build.context` at the directory");
    build::BuildRequest req;
    req.state_root = state::state_root();
    req.runtime_dir = state::runtime_dir();
    req.context_dir = b.context;
    req.dockerfile = b.dockerfile;
    req.dockerfile_inline = b.dockerfile_inline;
    for (const auto& [k, v] : b.args) add_arg(req.build_args, k, v);
    for (const auto& a : f.build_args) {
        auto eq = a.find('=');
        add_arg(req.build_args, a.substr(0, eq), eq == std::string::npos ? std::nullopt : std::optional(a.substr(eq + 1)));
    }
    req.target = b.target;
    req.labels = b.labels;
    req.tags = {compose::image_name(p, name, svc)};
    req.tags.insert(req.tags.end(), b.tags.begin(), b.tags.end());
    req.no_cache = f.no_cache || b.no_cache;
    req.pull = f.pull || b.pull;
    req.quiet = f.quiet;
    const char* par = std::getenv("BERTH_BUILD_PARALLEL");  // 0: stages one after the other (bench/build_bench.sh)
    req.parallel = !(par && std::string(par) == "0");
    req.title = name;
    req.network = b.network;
    req.allow_host_network = std::find(b.entitlements.begin(), b.entitlements.end(), "network.host") != b.entitlements.end();
    req.extra_hosts = b.extra_hosts;
    req.shm_size = b.shm_size;
    req.contexts = b.additional_contexts;
    add_secrets(p, b, req);
    for (const auto& s : f.secrets) {
        auto [id, value] = secret_flag(s);
        req.secrets[id] = std::move(value);
    }
    add_ssh(b.ssh, req);
    add_ssh(f.ssh, req);
    bool quiet = f.quiet;
    std::string platform = svc.platform;
    req.ensure_base = [&p, &f, quiet, platform](const std::string& image, bool) {
        if (build_if_project_makes(p, image, f)) return;
        images::Store store(state::state_root());
        registry::PullOptions o;
        o.progress = TransferDisplay::to_stderr(quiet);
        auto r = registry::pull_images(store, {{image, platform}}, o);
        if (r.empty() || !r[0].ok)
            throw Error("cannot pull base image " + image + (r.empty() ? "" : ": " + r[0].error), r.empty() ? "" : r[0].hint);
    };
    req.fetch = fetch_url;
    if (f.on_progress) {
        std::string what = "building the image of " + name;
        req.on_progress = [cb = f.on_progress, what] { cb(what); };
        f.on_progress(what);
    }
    if (!f.quiet) std::fprintf(stderr, "[+] Building %s (%s)\n", name.c_str(), req.tags.front().c_str());
    try {
        build::build_image(req);
    } catch (Error& e) {
        throw e.wrap("service " + name);
    }
}

int build_command(const GlobalOptions& g, const std::vector<std::string>& services, const BuildFlags& f) {
    compose::Project project = load_project(g);
    std::vector<std::string> names = services;
    if (names.empty())
        for (const auto& [n, _] : project.services) names.push_back(n);
    for (const auto& n : names) {
        const compose::Service* svc = find_service(project, n);
        if (!svc) throw Error("no such service: " + n, "services in " + project.name + ": see `berth config --services`");
        if (svc->build) build_service(project, n, *svc, f);
    }
    return 0;
}

}  // namespace

void ensure_built(const compose::Project& project, const std::vector<std::string>& services, BuildWhen when,
                  const BuildFlags& flags) {
    if (when == BuildWhen::Never) return;
    std::unique_ptr<images::Store> store;
    for (const auto& n : services) {
        const compose::Service* svc = find_service(project, n);
        if (!svc) continue;
        if (!store) store = std::make_unique<images::Store>(state::state_root());
        bool missing = !store->has(compose::image_name(project, n, *svc));
        if (!svc->build) {
            if (missing && !svc->image.empty()) build_if_project_makes(project, svc->image, flags);
            continue;
        }
        if (when == BuildWhen::Always || svc->pull_policy == "build" || missing) build_service(project, n, *svc, flags);
    }
}

void add_build_commands(Cli& cli) {
    auto* b = cli.app.add_subcommand("build", "Build the images of services with `build:`");
    auto f = std::make_shared<BuildFlags>();
    auto svcs = std::make_shared<std::vector<std::string>>();
    b->add_option("SERVICE", *svcs, "Services to build (default: all)");
    b->add_flag("--no-cache", f->no_cache, "Run every step, using no cached result");
    b->add_flag("--pull", f->pull, "Pull base images even when present");
    b->add_option("--build-arg", f->build_args, "Build argument K=V (or K: from the environment)");
    b->add_flag("-q,--quiet", f->quiet, "Print nothing but errors");
    b->add_option("--secret", f->secrets, "A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR");
    b->add_option("--ssh", f->ssh, "An SSH agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK) or ID=SOCKET");
    b->callback([&cli, f, svcs] { cli.action = [&cli, f, svcs] { return build_command(cli.global, *svcs, *f); }; });

    auto* builder = cli.app.add_subcommand("builder", "Manage the build cache")->require_subcommand(1);
    auto* prune = builder->add_subcommand("prune", "Empty the build cache");
    auto unused = std::make_shared<bool>(false);
    prune->add_flag("-f,--force", *unused, "Don't ask (berth never asks)");
    prune->add_flag("-a,--all", *unused, "Remove all of it (berth always does)");
    prune->callback([&cli] {
        cli.action = [] {
            size_t n = build::prune_cache(state::state_root());
            std::printf("Total: %zu cache entries removed\n", n);
            return 0;
        };
    });
}

}  // namespace berth::cli
