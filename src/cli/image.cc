// berth image import|load|save|ls|rm|prune|inspect|tag (image pull: cli/pull.cc, push: cli/push.cc)
#include "base/error.h"
#include "cli/cli.h"
#include "images/reference.h"
#include "images/store.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <set>
#include <ctime>
#include <memory>

namespace berth::cli {

std::string human_size(int64_t b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1000 && u < 4) v /= 1000, ++u;
    char buf[32];
    snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
    return buf;
}

namespace {

// What the containers of every project use: the normalized names of their images, and
// the layers the running ones' root filesystems stack (an image's name may have moved on
// to another image since the container started: its old layers are still in use).
struct InUse {
    std::set<std::string> names, layers;
};
InUse images_in_use() {
    InUse out;
    std::string rt = state::runtime_dir();
    for (const auto& p : state::list_projects(rt))
        for (const auto& st : {state::ProjectState(rt, p), state::one_off_state(rt, p)})
            for (const auto& c : st.read_all()) {
                try {
                    out.names.insert(images::normalize_name(c.image));
                } catch (const Error&) {
                }
                if (c.pid > 0 && state::process_alive(c.pid, c.pid_start_time))
                    out.layers.merge(images::layers_mounted_by(c.pid));
            }
    return out;
}

void add_save_prune(Cli& cli, CLI::App* image) {
    auto* save = image->add_subcommand("save", "Write images to a tar archive (docker save format, also an OCI layout)");
    auto out = std::make_shared<std::string>();
    auto refs = std::make_shared<std::vector<std::string>>();
    save->add_option("-o,--output", *out, "File to write (default: standard output)");
    save->add_option("NAME", *refs, "Images to save")->required();
    save->callback([&cli, out, refs] {
        cli.action = [out, refs] {
            if (out->empty() && ::isatty(STDOUT_FILENO))
                throw Error("berth image save would write a tar archive to the terminal", "name a file with -o FILE, or redirect the output");
            images::Store(state::state_root()).save(*refs, out->empty() ? "-" : *out);
            return 0;
        };
    });

    auto* prune = image->add_subcommand("prune", "Remove unused images");
    auto all = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    prune->add_flag("-a,--all", *all, "Remove every image no container uses, not only dangling ones");
    prune->add_flag("-f,--force", *force, "Do not ask for confirmation");
    prune->callback([&cli, all, force] {
        cli.action = [all, force] {
            if (!*force) {
                std::fprintf(stderr, "WARNING! This will remove %s. Are you sure you want to continue? [y/N] ",
                             *all ? "all images without at least one container associated to them" : "all dangling images");
                std::string answer;
                std::getline(std::cin, answer);
                if (answer != "y" && answer != "Y" && answer != "yes") return 0;
            }
            images::Store store(state::state_root());
            InUse used = images_in_use();
            auto rep = store.prune(*all, used.names, used.layers);
            for (const auto& u : rep.unreadable)
                std::fprintf(stderr, "warning: cannot read image %s; its layers were kept (remove it with `berth image rm`)\n",
                             u.c_str());
            if (!rep.untagged.empty() || !rep.deleted.empty()) std::printf("Deleted Images:\n");
            for (const auto& n : rep.untagged) std::printf("untagged: %s\n", n.c_str());
            for (const auto& d : rep.deleted) std::printf("deleted: %s\n", d.c_str());
            std::printf("\nTotal reclaimed space: %s\n", human_size(rep.reclaimed).c_str());
            return 0;
        };
    });
}

}  // namespace

void add_image_commands(Cli& cli) {
    auto* image = cli.app.add_subcommand("image", "Manage images")->require_subcommand(1);

    add_image_pull_command(cli, image);
    add_image_push_command(cli, image);
    add_save_prune(cli, image);

    auto* imp = image->add_subcommand("import", "Make an image from a root filesystem tarball (.tar, .tar.gz, …)");
    auto tarball = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    imp->add_option("TARBALL", *tarball, "Root filesystem archive")->required();
    imp->add_option("NAME", *name, "Image name, e.g. myapp:1")->required();
    imp->callback([&cli, tarball, name] {
        cli.action = [tarball, name] {
            images::Store store(state::state_root());
            auto r = store.import_rootfs(*tarball, *name);
            std::printf("%s\n", r.id.c_str());
            return 0;
        };
    });

    auto* load = image->add_subcommand("load", "Load images from a `docker save` or OCI layout archive");
    auto input = std::make_shared<std::string>();
    load->add_option("-i,--input", *input, "Archive to read")->required();
    load->callback([&cli, input] {
        cli.action = [input] {
            images::Store store(state::state_root());
            for (const auto& n : store.load_archive(*input))
                std::printf("Loaded image: %s\n", images::parse_reference(n).familiar().c_str());
            return 0;
        };
    });

    auto* ls = image->add_subcommand("ls", "List images");
    ls->alias("list");
    auto format = std::make_shared<std::string>("table");
    auto quiet = std::make_shared<bool>(false);
    ls->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ls->add_flag("-q,--quiet", *quiet, "Only image IDs");
    ls->callback([&cli, format, quiet] {
        cli.action = [format, quiet] {
            images::Store store(state::state_root());
            auto list = store.list();
            if (*format == "json") {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& r : list) {
                    auto ref = images::parse_reference(r.name);
                    out.push_back({{"Repository", ref.familiar().substr(0, ref.familiar().rfind(':'))},
                                   {"Tag", ref.tag}, {"ID", r.id}, {"Name", r.name}, {"Size", r.size},
                                   {"Created", r.created}});
                }
                std::printf("%s\n", out.dump().c_str());
                return 0;
            }
            if (!*quiet) std::printf("%-40s %-12s %-14s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
            for (const auto& r : list) {
                auto ref = images::parse_reference(r.name);
                std::string fam = ref.familiar();
                std::string repo = ref.tag.empty() ? fam : fam.substr(0, fam.size() - ref.tag.size() - 1);
                std::string id = r.id.substr(7, 12);
                if (*quiet) std::printf("%s\n", id.c_str());
                else std::printf("%-40s %-12s %-14s %s\n", repo.c_str(), ref.tag.c_str(), id.c_str(), human_size(r.size).c_str());
            }
            return 0;
        };
    });

    auto* rm = image->add_subcommand("rm", "Remove images");
    auto names = std::make_shared<std::vector<std::string>>();
    auto rm_force = std::make_shared<bool>(false);
    rm->add_option("NAME", *names, "Images to remove")->required();
    rm->add_flag("-f,--force", *rm_force, "Remove the name even when a container uses the image");
    rm->callback([&cli, names, rm_force] {
        cli.action = [names, rm_force] {
            images::Store store(state::state_root());
            InUse in_use = images_in_use();  // as docker refuses; the layers running containers stack stay either way
            for (const auto& n : *names) {
                if (!*rm_force && in_use.names.count(images::normalize_name(n)))
                    throw Error("image " + n + " is used by a container",
                                "remove its containers first (berth down, berth rm), or untag it anyway with -f");
                store.remove(n, in_use.layers);
                std::printf("Untagged: %s\n", images::parse_reference(n).familiar().c_str());
            }
            return 0;
        };
    });

    auto* tag = image->add_subcommand("tag", "Give an image another name");
    auto tag_names = std::make_shared<std::pair<std::string, std::string>>();
    tag->add_option("SOURCE", tag_names->first, "An image in the store")->required();
    tag->add_option("TARGET", tag_names->second, "The new name, e.g. registry.local:5000/app:1")->required();
    tag->callback([&cli, tag_names] {
        cli.action = [tag_names] {
            images::Store(state::state_root()).tag(tag_names->first, tag_names->second);
            return 0;
        };
    });

    auto* inspect = image->add_subcommand("inspect", "Show an image's details as JSON");
    auto inames = std::make_shared<std::vector<std::string>>();
    inspect->add_option("NAME", *inames, "Images")->required();
    inspect->callback([&cli, inames] {
        cli.action = [inames] {
            images::Store store(state::state_root());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& n : *inames) out.push_back(store.inspect(n));
            std::printf("%s\n", out.dump(4).c_str());
            return 0;
        };
    });
}

}  // namespace berth::cli
