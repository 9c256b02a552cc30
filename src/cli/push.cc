// berth push [SERVICE…] and berth image push REF (registry/push.h does the work).
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/transfer.h"
#include "images/reference.h"
#include "images/store.h"
#include "registry/push.h"
#include "state/state.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

namespace berth::cli {
namespace {

// Pushes the images; `what` names each for errors (the services using it). Returns the
// error lines.
std::vector<std::string> push_all(const std::vector<std::string>& refs, const std::vector<std::string>& what, bool quiet) {
    registry::PushOptions o;
    o.chunk = registry::push_chunk_from_env();
    o.progress = TransferDisplay::to_stderr(quiet);
    images::Store store(state::state_root());
    auto results = registry::push_images(store, refs, o);
    o.progress = nullptr;  // the display's last frame before the summary lines
    std::vector<std::string> errors;
    for (size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (!r.ok) {
            errors.push_back(what[i] + "cannot push " + r.ref + ": " + r.error + (r.hint.empty() ? "" : "\n" + r.hint));
            continue;
        }
        if (quiet) continue;
        std::printf("%s: digest: %s size: %lld\n", images::parse_reference(r.ref).tag.c_str(), r.digest.c_str(),
                    static_cast<long long>(r.manifest_size));
        std::printf("%s: %d blob%s uploaded (%s), %d already in the registry, %d mounted\n",
                    images::parse_reference(r.ref).familiar().c_str(), r.uploaded, r.uploaded == 1 ? "" : "s",
                    human_size(r.bytes_uploaded).c_str(), r.existed, r.mounted);
    }
    return errors;
}

int push_project(const GlobalOptions& g, const std::vector<std::string>& services, bool quiet, bool ignore_failures) {
    compose::Project project = load_project(g);
    for (const auto& n : services)
        if (!project.services.count(n)) throw Error("no such service: " + n);
    std::map<std::string, std::string> users;  // normalized image → "service a, b: "
    std::vector<std::string> order;
    for (const auto& [n, svc] : project.services) {
        if (svc.image.empty() || (!services.empty() && std::find(services.begin(), services.end(), n) == services.end())) continue;
        std::string key = images::normalize_name(svc.image);
        if (!users.count(key)) order.push_back(svc.image);
        users[key] += (users[key].empty() ? "" : ", ") + n;
    }
    std::vector<std::string> what;
    for (const auto& img : order) what.push_back("service " + users[images::normalize_name(img)] + ": ");
    auto errors = push_all(order, what, quiet);
    for (const auto& e : errors) std::fprintf(stderr, "%s: %s\n", ignore_failures ? "warning" : "error", e.c_str());
    return errors.empty() || ignore_failures ? 0 : 1;
}

}  // namespace

void add_push_command(Cli& cli) {
    auto* push = cli.app.add_subcommand("push", "Push the images of the project's services to their registries");
    struct PushFlags {
        std::vector<std::string> services;
        bool quiet = false, ignore_failures = false;
    };
    auto f = std::make_shared<PushFlags>();
    push->add_option("SERVICE", f->services, "Services whose images to push (default: all with an image:)");
    push->add_flag("-q,--quiet", f->quiet, "Print nothing but errors");
    push->add_flag("--ignore-push-failures", f->ignore_failures, "Push what can be pushed and ignore the rest");
    push->callback([&cli, f] {
        cli.action = [&cli, f] { return push_project(cli.global, f->services, f->quiet, f->ignore_failures); };
    });
}

void add_image_push_command(Cli& cli, CLI::App* image) {
    auto* push = image->add_subcommand("push", "Push an image to its registry");
    auto ref = std::make_shared<std::string>();
    auto quiet = std::make_shared<bool>(false);
    push->add_option("NAME", *ref, "Image reference: REGISTRY/NAME:TAG")->required();
    push->add_flag("-q,--quiet", *quiet, "Print nothing but errors");
    push->callback([&cli, ref, quiet] {
        cli.action = [ref, quiet] {
            images::parse_reference(*ref);
            auto errors = push_all({*ref}, {""}, *quiet);
            for (const auto& e : errors) std::fprintf(stderr, "error: %s\n", e.c_str());
            return errors.empty() ? 0 : 1;
        };
    });
}

}  // namespace berth::cli
