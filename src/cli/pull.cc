// berth pull, image pull, login, logout; and the pulls `up`/`run` make (cli/pull.h).
#include "cli/pull.h"

#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/transfer.h"
#include "images/reference.h"
#include "images/store.h"
#include "plan/plan.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/policy.h"
#include "registry/pull.h"
#include "state/state.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>

namespace berth::cli {
namespace {

registry::PullOptions pull_options(bool quiet, const std::function<void(const std::string&)>& on_progress = {}) {
    registry::PullOptions o;
    o.progress = TransferDisplay::to_stderr(quiet);
    if (on_progress)  // under systemd: STATUS= and EXTEND_TIMEOUT_USEC= while images come (cli/systemd.h)
        o.progress = [print = o.progress, on_progress](const registry::ProgressEvent& e) {
            if (print) print(e);
            on_progress("pulling images");
        };
    return o;
}

struct Wanted {
    std::string image, platform;
    std::vector<std::string> services;
};

// Pulls each image once however many services use it; errors name the services.
std::vector<std::string> pull_wanted(const std::map<std::string, Wanted>& wanted, bool quiet,
                                     const std::function<void(const std::string&)>& on_progress = {}) {
    std::vector<registry::PullRequest> reqs;
    std::vector<const Wanted*> order;
    for (const auto& [_, w] : wanted) reqs.push_back({w.image, w.platform}), order.push_back(&w);
    images::Store store(state::state_root());
    if (on_progress) on_progress("pulling images");
    auto results = registry::pull_images(store, reqs, pull_options(quiet, on_progress));
    std::vector<std::string> errors;
    for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].ok) continue;
        std::string svcs;
        for (const auto& s : order[i]->services) svcs += (svcs.empty() ? "" : ", ") + s;
        std::string msg = "service " + svcs + ": cannot pull " + order[i]->image + ": " + results[i].error;
        if (!results[i].hint.empty()) msg += "\n" + results[i].hint;
        errors.push_back(msg);
    }
    return errors;
}

std::string key_of(const compose::Service& svc) { return images::normalize_name(svc.image) + " " + svc.platform; }

int pull_project(const GlobalOptions& g, const std::vector<std::string>& services, bool quiet, bool ignore_failures,
                 bool include_deps) {
    compose::Project project = load_project(g);
    std::vector<std::string> names = services;
    for (const auto& n : names)
        if (!project.services.count(n)) throw Error("no such service: " + n);
    if (names.empty())
        for (const auto& [n, _] : project.services) names.push_back(n);
    else if (include_deps) {
        auto all = plan::with_dependencies(project, names);
        names.assign(all.begin(), all.end());
    }
    std::map<std::string, Wanted> wanted;
    for (const auto& n : names) {
        const auto& svc = project.services.at(n);
        if (svc.image.empty()) continue;  // built, not pulled
        auto& w = wanted[key_of(svc)];
        w.image = svc.image, w.platform = svc.platform;
        w.services.push_back(n);
    }
    auto errors = pull_wanted(wanted, quiet);
    for (const auto& e : errors) std::fprintf(stderr, "%s: %s\n", ignore_failures ? "warning" : "error", e.c_str());
    return errors.empty() || ignore_failures ? 0 : 1;
}

int pull_refs(const std::vector<std::string>& refs, const std::string& platform, bool quiet) {
    std::vector<registry::PullRequest> reqs;
    for (const auto& r : refs) {
        images::parse_reference(r);  // a bad name is refused before any traffic
        reqs.push_back({r, platform});
    }
    images::Store store(state::state_root());
    auto results = registry::pull_images(store, reqs, pull_options(quiet));
    int rc = 0;
    for (const auto& r : results) {
        if (r.ok) {
            if (quiet) std::printf("%s\n", images::parse_reference(r.ref).familiar().c_str());
            continue;
        }
        std::fprintf(stderr, "error: %s\n", r.error.c_str());
        if (!r.hint.empty()) std::fprintf(stderr, "%s\n", r.hint.c_str());
        rc = 1;
    }
    return rc;
}

// The registry host a login names: docker.io when none.
std::string login_host(const std::string& server) {
    if (server.empty()) return "docker.io";
    std::string s = server;
    for (const char* p : {"https://", "http://"})
        if (s.rfind(p, 0) == 0) s = s.substr(std::string(p).size());
    s = s.substr(0, s.find('/'));
    if (s == "index.docker.io" || s == "registry-1.docker.io") return "docker.io";
    return s;
}

// Checks the credentials against the registry's /v2/ (the token service when it asks).
void check_login(const std::string& host, const registry::Credentials& cred) {
    registry::Settings settings = registry::load_settings();
    auto eps = registry::endpoints(settings, host);
    const registry::Endpoint& ep = eps.back();  // never a mirror
    registry::Http http;
    registry::Authenticator auth;
    auth.set_credentials(ep.host, cred);
    registry::Request req = registry::Request::make("GET", ep.base() + "/v2/");
    registry::Response r = http.perform(ep, req);
    std::string www = r.header("www-authenticate");
    if (r.status == 401 && !www.empty() && auth.answer(http, ep, "", www)) {
        req.headers.push_back(auth.header(ep.host, ""));
        r = http.perform(ep, req);
    }
    if (r.status == 401 || r.status == 403)
        throw Error("login to " + host + " failed: the registry refused the user name or password");
    if (r.status >= 400) throw Error("login to " + host + " failed: the registry answered " + std::to_string(r.status));
}

void add_login_commands(Cli& cli) {
    auto* login = cli.app.add_subcommand("login", "Log in to a registry (stores the credentials in the docker config file)");
    struct LoginFlags {
        std::string server, user, password;
        bool password_stdin = false;
    };
    auto lf = std::make_shared<LoginFlags>();
    login->add_option("SERVER", lf->server, "Registry host[:port] (default: docker.io)");
    login->add_option("-u,--username", lf->user, "User name");
    login->add_option("-p,--password", lf->password, "Password (prefer --password-stdin)");
    login->add_flag("--password-stdin", lf->password_stdin, "Read the password from standard input");
    login->callback([&cli, lf] {
        cli.action = [lf] {
            std::string host = login_host(lf->server);
            if (lf->user.empty()) throw Error("berth login needs a user name", "berth login " + host + " -u USER --password-stdin");
            std::string pw = lf->password;
            if (lf->password_stdin) {
                std::getline(std::cin, pw);
                if (!pw.empty() && pw.back() == '\r') pw.pop_back();
            } else if (pw.empty()) {
                throw Error("berth login needs a password", "pipe it: echo \"$PASSWORD\" | berth login " + host + " -u " + lf->user + " --password-stdin");
            }
            registry::Credentials cred{lf->user, pw};
            check_login(host, cred);
            registry::store_credentials(host, cred);
            std::printf("Login Succeeded\n");
            return 0;
        };
    });
    auto* logout = cli.app.add_subcommand("logout", "Log out from a registry (removes its credentials)");
    auto server = std::make_shared<std::string>();
    logout->add_option("SERVER", *server, "Registry host[:port] (default: docker.io)");
    logout->callback([&cli, server] {
        cli.action = [server] {
            std::string host = login_host(*server);
            if (registry::erase_credentials(host)) std::printf("Removing login credentials for %s\n", host.c_str());
            else std::printf("Not logged in to %s\n", host.c_str());
            return 0;
        };
    });
}

// compose's `images`: each service's image, and whether it is in the store.
int list_images(const GlobalOptions& g, const std::string& format, bool quiet) {
    compose::Project project = load_project(g);
    images::Store store(state::state_root());
    nlohmann::json out = nlohmann::json::array();
    if (format == "table" && !quiet) std::printf("%-20s %-40s %-14s %-14s %s\n", "SERVICE", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
    for (const auto& [name, svc] : project.services) {
        if (svc.image.empty()) continue;
        auto ref = images::parse_reference(svc.image);
        auto rec = store.find(svc.image);
        std::string fam = ref.familiar();
        std::string repo = fam.substr(0, fam.find_first_of(ref.tag.empty() ? "@" : ":", fam.rfind('/') + 1));
        std::string id = rec ? rec->id.substr(7, 12) : "<missing>";
        if (format == "json") {
            out.push_back({{"Service", name}, {"Repository", repo}, {"Tag", ref.tag}, {"ID", rec ? rec->id : ""},
                           {"Size", rec ? rec->size : 0}, {"Present", rec.has_value()}});
        } else if (quiet) {
            if (rec) std::printf("%s\n", id.c_str());
        } else {
            std::printf("%-20s %-40s %-14s %-14s %s\n", name.c_str(), repo.c_str(), ref.tag.c_str(), id.c_str(),
                        rec ? std::to_string(rec->size).c_str() : "-");
        }
    }
    if (format == "json") std::printf("%s\n", out.dump().c_str());
    return 0;
}

}  // namespace

void ensure_images(const compose::Project& project, const std::vector<std::string>& services,
                   const std::string& override_policy, bool quiet,
                   const std::function<void(const std::string&)>& on_progress) {
    images::Store store(state::state_root());
    std::map<std::string, Wanted> wanted;
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    for (const auto& n : services) {
        const compose::Service* found = nullptr;
        if (auto it = project.services.find(n); it != project.services.end()) found = &it->second;
        else if (auto d = project.disabled_services.find(n); d != project.disabled_services.end()) found = &d->second;
        if (!found || found->image.empty() || found->build) continue;  // built, not pulled (cli/build.h)
        const auto& svc = *found;
        registry::ParsedPolicy policy;
        try {
            policy = registry::parse_pull_policy(override_policy.empty() ? svc.pull_policy : override_policy);
        } catch (Error& e) {
            throw e.wrap("service " + n);
        }
        auto rec = store.find(svc.image);
        if (!registry::should_pull(policy, rec.has_value(), rec ? rec->created : 0, now)) continue;
        auto& w = wanted[key_of(svc)];
        w.image = svc.image, w.platform = svc.platform;
        w.services.push_back(n);
    }
    if (wanted.empty()) return;
    auto errors = pull_wanted(wanted, quiet, on_progress);
    if (errors.empty()) return;
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    throw Error(all);
}

void add_pull_commands(Cli& cli) {
    auto* pull = cli.app.add_subcommand("pull", "Pull the images of the project's services");
    struct PullFlags {
        std::vector<std::string> services;
        bool quiet = false, ignore_failures = false, include_deps = false;
    };
    auto f = std::make_shared<PullFlags>();
    pull->add_option("SERVICE", f->services, "Services whose images to pull (default: all)");
    pull->add_flag("-q,--quiet", f->quiet, "Print nothing but errors");
    pull->add_flag("--ignore-pull-failures", f->ignore_failures, "Pull what can be pulled and ignore the rest");
    pull->add_flag("--include-deps", f->include_deps, "Also pull the images of the services they depend on");
    pull->callback([&cli, f] {
        cli.action = [&cli, f] { return pull_project(cli.global, f->services, f->quiet, f->ignore_failures, f->include_deps); };
    });
    add_login_commands(cli);

    auto* imgs = cli.app.add_subcommand("images", "List the images the project's services use");
    auto format = std::make_shared<std::string>("table");
    auto quiet = std::make_shared<bool>(false);
    imgs->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    imgs->add_flag("-q,--quiet", *quiet, "Only image IDs");
    imgs->callback([&cli, format, quiet] { cli.action = [&cli, format, quiet] { return list_images(cli.global, *format, *quiet); }; });
}

void add_image_pull_command(Cli& cli, CLI::App* image) {
    auto* pull = image->add_subcommand("pull", "Pull images from a registry");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto platform = std::make_shared<std::string>();
    auto quiet = std::make_shared<bool>(false);
    pull->add_option("NAME", *refs, "Image references: NAME[:TAG][@DIGEST]")->required();
    pull->add_option("--platform", *platform, "OS/ARCH[/VARIANT] to pull from a multi-platform image");
    pull->add_flag("-q,--quiet", *quiet, "Print only the image names");
    pull->callback([&cli, refs, platform, quiet] { cli.action = [=] { return pull_refs(*refs, *platform, *quiet); }; });
}

}  // namespace berth::cli
