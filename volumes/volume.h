// Named volumes: directories under $BERTH_ROOT/volumes that outlive containers.
//
// Layout: volumes/<name>/volume.json (driver, options, labels, project,
// whether the image's content was copied in) and volumes/<name>/_data (what
// containers mount). A volume is made in a temporary directory and renamed
// into place, so a half-made one is never mistaken for a full one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::volumes {

struct VolumeSpec {
    std::string name;
    std::string driver = "local";
    std::map<std::string, std::string> driver_opts;
    std::map<std::string, std::string> labels;
    std::string project;  // "" for `berth volume create`
};

struct VolumeInfo {
    std::string name;
    std::string driver = "local";
    std::map<std::string, std::string> driver_opts;
    std::map<std::string, std::string> labels;
    std::string project;
    std::string created_at;
    std::string mountpoint;  // …/_data
    bool initialized = false;  // the image's content has been copied in (or was not wanted)
};

// How a volume's driver_opts mount it (Docker's local driver).
struct MountPlan {
    enum class Kind { Directory, Bind, Tmpfs, Device } kind = Kind::Directory;
    std::string source;               // Directory/Device: the _data dir; Bind: the device path
    std::string fstype, device, data; // Device: mounted on _data by the host (Docker's local driver)
    unsigned long flags = 0;          // Device: ro, nosuid, … from `o`
    std::optional<int64_t> size;      // Tmpfs
    std::optional<uint32_t> mode;     // Tmpfs
};
// Throws berth::Error for options berth cannot honour (which key, what to do).
MountPlan mount_plan(const VolumeInfo& v);

class Store {
public:
    explicit Store(std::string state_root);  // volumes live in state_root/volumes

    // The volume, created (atomically) when missing. Existing volumes keep their data.
    VolumeInfo ensure(const VolumeSpec& spec);
    std::optional<VolumeInfo> get(const std::string& name) const;
    std::vector<VolumeInfo> list() const;  // sorted by name
    // Removes the volume and its data; false when there was none.
    bool remove(const std::string& name);
    // An `external: true` volume: it must exist already; throws berth::Error
    // (with how to make it) when it does not.
    VolumeInfo external(const std::string& name) const;
    // Copies `source` (a directory of the image, with ownership, modes and
    // links) into the volume's _data once, if _data is still empty; marks the
    // volume initialized either way. An initialized volume costs nothing.
    void copy_up(VolumeInfo& v, const std::string& source);
    // The same from an image: `layers` (top-most first) seen merged, at `path`.
    void copy_up_from_layers(VolumeInfo& v, const std::vector<std::string>& layers, const std::string& path);
    void mark_initialized(VolumeInfo& v);
    // Device volumes (driver_opts type: ext4, nfs…): mounted on _data while in
    // use; unmounted by `down` and before removal (never deleting a device's files).
    void mount_device(const VolumeInfo& v);
    void unmount(const std::string& name);

    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    void write_meta(const std::string& dir, const VolumeInfo& v) const;
};

// Copies a directory tree, keeping owners, modes, symlinks and times (as cp -a).
void copy_tree(const std::string& from, const std::string& to);

}  // namespace berth::volumes
