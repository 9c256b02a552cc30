// Shared, read-only "init" layers: the mount points every container needs
// (/etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /dev, /sys) as one lower
// layer above the image's, so that a container's start writes nothing into its
// upper dir (no copy-up of /etc, no inode made on the disk). Docker's "-init"
// layer, but made once per store and shared instead of once per container.
//
// A layer is named by what varies between images and specs: the mode and owner
// of the image's /etc (a merged directory shows the top-most layer's), and
// whether /etc/resolv.conf is mounted (when it is not, the image's own must show
// through). Made in a temporary directory and renamed into place, so two berth
// processes making the same one at once both end up with a whole layer.
#include "runtime/container_internal.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::runtime::detail {
namespace {

// The image's top-level directories the init layer has too; "etc" first.
constexpr const char* kTopDirs[] = {"etc", "proc", "dev", "sys"};

struct EtcDir {
    mode_t mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
};

// The attributes of the image's /etc, or nullopt when one of kTopDirs is in the
// image as something else than a directory (a symlinked /etc): a directory of
// the init layer would hide it.
std::optional<EtcDir> image_top_dirs(const std::vector<std::string>& layers) {
    EtcDir etc;
    for (const char* name : kTopDirs) {
        for (const auto& layer : layers) {  // top-most first: the first one that has it decides
            struct stat st {};
            std::string path = layer + "/" + name;
            if (::lstat(path.c_str(), &st) < 0) {
                if (errno == ENOENT) continue;
                throw Error::sys(errno, "look at " + path);
            }
            if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) break;  // a whiteout: deleted below
            if (!S_ISDIR(st.st_mode)) return std::nullopt;
            if (name == kTopDirs[0]) etc = {st.st_mode & 07777, st.st_uid, st.st_gid};
            break;
        }
    }
    return etc;
}

void make_layer(const std::string& dir, const EtcDir& etc, bool resolv_conf) {
    make_dir(dir);
    std::string etc_dir = dir + "/etc";
    make_dir(etc_dir);
    if (::chmod(etc_dir.c_str(), etc.mode) < 0 || ::chown(etc_dir.c_str(), etc.uid, etc.gid) < 0)
        throw Error::sys(errno, "set the owner and mode of " + etc_dir);
    for (size_t i = 1; i < std::size(kTopDirs); ++i) make_dir(dir + "/" + kTopDirs[i]);
    write_file(etc_dir + "/hostname", "");
    write_file(etc_dir + "/hosts", "");
    if (resolv_conf) write_file(etc_dir + "/resolv.conf", "");
}

}  // namespace

std::optional<std::string> init_layer(const ContainerSpec& spec) {
    if (spec.init_layers_dir.empty()) return std::nullopt;
    auto etc = image_top_dirs(spec.layers);
    if (!etc) return std::nullopt;
    bool resolv_conf = !spec.etc_resolv_conf.empty();
    char name[64];
    std::snprintf(name, sizeof name, "etc-%04o-%u-%u%s", static_cast<unsigned>(etc->mode), static_cast<unsigned>(etc->uid),
                  static_cast<unsigned>(etc->gid), resolv_conf ? "-dns" : "");
    std::string path = spec.init_layers_dir + "/" + name;
    if (::access(path.c_str(), F_OK) == 0) return path;

    fs::create_directories(spec.init_layers_dir);
    std::string tmp = spec.init_layers_dir + "/." + name + ".tmp." + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);  // a crashed berth's, with our pid
    try {
        make_layer(tmp, *etc, resolv_conf);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        fs::remove_all(tmp, ec);
        if (e != EEXIST && e != ENOTEMPTY) throw Error::sys(e, "make the init layer " + path);
        // Another berth made it meanwhile: the same layer.
    }
    return path;
}

}  // namespace berth::runtime::detail
