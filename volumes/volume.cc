#include "volumes/volume.h"

#include "base/error.h"
#include "base/files.h"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace berth::volumes {
namespace {

std::string now_rfc3339() {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void check_name(const std::string& name) {
    bool ok = !name.empty() && name.size() <= 255 && name[0] != '.';
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    if (!ok)
        throw Error("invalid volume name \"" + name + "\"",
                    "use letters, digits, '_', '-' and '.', not starting with '.'");
}

nlohmann::json to_json(const VolumeInfo& v) {
    return {{"name", v.name}, {"driver", v.driver}, {"driver_opts", v.driver_opts}, {"labels", v.labels},
            {"project", v.project}, {"created_at", v.created_at}, {"initialized", v.initialized}};
}

std::optional<int64_t> parse_size(const std::string& s) {
    if (s.empty()) return std::nullopt;
    size_t used = 0;
    double n = std::stod(s, &used);
    std::string unit = s.substr(used);
    int64_t mult = 1;
    if (unit == "k" || unit == "K" || unit == "kb") mult = 1024;
    else if (unit == "m" || unit == "M" || unit == "mb") mult = 1024 * 1024;
    else if (unit == "g" || unit == "G" || unit == "gb") mult = 1024LL * 1024 * 1024;
    else if (!unit.empty() && unit != "b") throw std::invalid_argument("unit");
    return static_cast<int64_t>(n * static_cast<double>(mult));
}

}  // namespace

MountPlan mount_plan(const VolumeInfo& v) {
    MountPlan p;
    p.source = v.mountpoint;
    if (v.driver != "local" && !v.driver.empty())
        throw Error("volume " + v.name + ": driver \"" + v.driver + "\" is not supported", "berth has the local driver only");
    auto opt = [&](const char* k) {
        auto it = v.driver_opts.find(k);
        return it == v.driver_opts.end() ? std::string() : it->second;
    };
    std::string type = opt("type"), o = opt("o"), device = opt("device");
    if (type.empty() && o.empty() && device.empty()) return p;
    if ((type == "none" || type.empty()) && o.find("bind") != std::string::npos) {
        if (device.empty()) throw Error("volume " + v.name + ": driver_opts o: bind needs `device:` (the host path)");
        if (!files::is_directory(device))
            throw Error("volume " + v.name + ": bind device " + device + " does not exist",
                        "create the directory first (a bind volume never creates it)");
        p.kind = MountPlan::Kind::Bind;
        p.source = device;
        return p;
    }
    if (type == "tmpfs") {
        p.kind = MountPlan::Kind::Tmpfs;
        size_t start = 0;
        while (start <= o.size()) {
            size_t comma = o.find(',', start);
            std::string kv = o.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            start = comma == std::string::npos ? o.size() + 1 : comma + 1;
            auto eq = kv.find('=');
            std::string key = kv.substr(0, eq), val = eq == std::string::npos ? "" : kv.substr(eq + 1);
            try {
                if (key == "size") p.size = parse_size(val);
                else if (key == "mode") p.mode = static_cast<uint32_t>(std::stoul(val, nullptr, 8));
            } catch (const std::exception&) {
                throw Error("volume " + v.name + ": driver_opts o: invalid " + key + " \"" + val + "\"",
                            "write size=64m or mode=1777");
            }
        }
        return p;
    }
    if (type.empty() || type == "none")
        throw Error("volume " + v.name + ": driver_opts without `type:` need `o: bind` and `device:`",
                    "write type: none, o: bind, device: /path; or type: tmpfs; or a filesystem type");
    // Any other filesystem type: the kernel mounts `device` with `o` (mount flags taken out of it).
    p.kind = MountPlan::Kind::Device;
    p.fstype = type;
    p.device = device;
    static const std::map<std::string, unsigned long> flag_names = {
        {"ro", MS_RDONLY}, {"rw", 0}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
        {"sync", MS_SYNCHRONOUS}, {"noatime", MS_NOATIME}, {"nodiratime", MS_NODIRATIME}, {"relatime", MS_RELATIME}};
    size_t start = 0;
    while (start < o.size()) {
        size_t comma = o.find(',', start);
        std::string opt = o.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? o.size() : comma + 1;
        if (auto f = flag_names.find(opt); f != flag_names.end()) p.flags |= f->second;
        else if (!opt.empty()) p.data += (p.data.empty() ? "" : ",") + opt;
    }
    if (p.device.empty()) throw Error("volume " + v.name + ": driver_opts type " + type + " needs `device:`");
    return p;
}

Store::Store(std::string state_root) : dir_(std::move(state_root) + "/volumes") {}

void Store::write_meta(const std::string& dir, const VolumeInfo& v) const {
    std::string tmp = dir + "/volume.json.tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << to_json(v).dump(2) << "\n";
        f.flush();
        if (!f) throw Error("cannot write " + tmp);
    }
    files::rename(tmp, dir + "/volume.json");
}

std::optional<VolumeInfo> Store::get(const std::string& name) const {
    std::string d = dir_ + "/" + name;
    if (name.empty() || name[0] == '.' || !files::is_directory(d + "/_data")) return std::nullopt;
    VolumeInfo v;
    v.name = name;
    v.mountpoint = d + "/_data";
    std::ifstream f(d + "/volume.json");
    if (f) {
        try {
            auto j = nlohmann::json::parse(f);
            v.driver = j.value("driver", "local");
            v.driver_opts = j.value("driver_opts", std::map<std::string, std::string>{});
            v.labels = j.value("labels", std::map<std::string, std::string>{});
            v.project = j.value("project", "");
            v.created_at = j.value("created_at", "");
            v.initialized = j.value("initialized", false);
        } catch (const std::exception&) {
            // An unreadable description keeps its data: the volume is still listed.
        }
    } else {
        v.initialized = !files::is_empty(v.mountpoint);  // made by an older berth: never copy over data
    }
    return v;
}

VolumeInfo Store::ensure(const VolumeSpec& spec) {
    check_name(spec.name);
    if (auto v = get(spec.name)) return *v;
    files::create_directories(dir_);
    // Build it aside, then rename into place: readers see all of it or nothing.
    std::string tmp = dir_ + "/.tmp-" + spec.name + "-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    files::create_directories(tmp + "/_data");
    ::chmod((tmp + "/_data").c_str(), 0755);
    VolumeInfo v;
    v.name = spec.name;
    v.driver = spec.driver.empty() ? "local" : spec.driver;
    v.driver_opts = spec.driver_opts;
    v.labels = spec.labels;
    if (!spec.project.empty()) v.labels["com.docker.compose.project"] = spec.project;
    v.project = spec.project;
    v.created_at = now_rfc3339();
    write_meta(tmp, v);
    std::string final_dir = dir_ + "/" + spec.name;
    if (::rename(tmp.c_str(), final_dir.c_str()) < 0) {
        int e = errno;
        fs::remove_all(tmp, ec);
        if (auto other = get(spec.name)) return *other;  // made meanwhile by someone else
        throw Error::sys(e, "create volume " + spec.name);
    }
    v.mountpoint = final_dir + "/_data";
    mount_plan(v);  // options that cannot work fail now, with the volume's name
    return v;
}

std::vector<VolumeInfo> Store::list() const {
    std::vector<VolumeInfo> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
        std::string n = e.path().filename().string();
        if (auto v = get(n)) out.push_back(*v);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

namespace {
bool is_mountpoint(const std::string& path) {
    std::ifstream f("/proc/self/mountinfo");
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream l(line);
        std::string id, parent, dev, root, mp;
        if (l >> id >> parent >> dev >> root >> mp && mp == path) return true;
    }
    return false;
}
}  // namespace

void Store::mount_device(const VolumeInfo& v) {
    auto plan = mount_plan(v);
    if (plan.kind != MountPlan::Kind::Device || is_mountpoint(v.mountpoint)) return;
    if (::mount(plan.device.c_str(), v.mountpoint.c_str(), plan.fstype.c_str(), plan.flags,
                plan.data.empty() ? nullptr : plan.data.c_str()) < 0)
        throw Error::sys(errno, "volume " + v.name + ": mount " + plan.device + " (" + plan.fstype + ")")
            .wrap("check the volume's driver_opts type, o and device");
}

void Store::unmount(const std::string& name) {
    auto v = get(name);
    if (!v) return;
    while (is_mountpoint(v->mountpoint))
        if (::umount2(v->mountpoint.c_str(), 0) < 0)
            throw Error::sys(errno, "volume " + name + ": unmount " + v->mountpoint);
}

bool Store::remove(const std::string& name) {
    if (!get(name)) return false;
    unmount(name);  // never delete the files of a mounted device
    // Rename first: a crash half-way leaves a .tmp- directory, never a half-deleted volume.
    std::string d = dir_ + "/" + name, gone = dir_ + "/.tmp-rm-" + name + "-" + std::to_string(::getpid());
    if (::rename(d.c_str(), gone.c_str()) < 0) throw Error::sys(errno, "remove volume " + name);
    std::error_code ec;
    fs::remove_all(gone, ec);
    return true;
}

VolumeInfo Store::external(const std::string& name) const {
    auto v = get(name);
    if (!v)
        throw Error("external volume " + name + " does not exist",
                    "create it with `berth volume create " + name + "`, or remove `external: true`");
    return *v;
}

void Store::mark_initialized(VolumeInfo& v) {
    if (v.initialized) return;
    v.initialized = true;
    write_meta(dir_ + "/" + v.name, v);
}

void Store::copy_up(VolumeInfo& v, const std::string& source) {
    if (v.initialized) return;
    if (files::is_empty(v.mountpoint) && files::is_directory(source)) copy_tree(source, v.mountpoint);
    mark_initialized(v);
}

void Store::copy_up_from_layers(VolumeInfo& v, const std::vector<std::string>& layers, const std::string& path) {
    if (v.initialized) return;
    if (layers.empty()) return mark_initialized(v);
    if (layers.size() == 1) return copy_up(v, layers[0] + path);
    // Several layers: look through a read-only overlay of them, whiteouts applied by the kernel.
    std::string view = dir_ + "/.tmp-view-" + std::to_string(::getpid());
    files::create_directories(view);
    std::string lower;
    for (const auto& l : layers) lower += (lower.empty() ? "" : ":") + l;
    std::string opts = "lowerdir=" + lower;
    if (::mount("overlay", view.c_str(), "overlay", MS_RDONLY, opts.c_str()) < 0) {
        int e = errno;
        files::remove(view);
        throw Error::sys(e, "volume " + v.name + ": mount the image to copy its content");
    }
    try {
        copy_up(v, view + path);
    } catch (...) {
        ::umount2(view.c_str(), MNT_DETACH);
        files::remove(view);
        throw;
    }
    ::umount2(view.c_str(), MNT_DETACH);
    files::remove(view);
}

void copy_tree(const std::string& from, const std::string& to) {
    struct stat st;
    if (::lstat(from.c_str(), &st) < 0) throw Error::sys(errno, "stat " + from);
    // The top directory exists already: take its owner and mode.
    ::chown(to.c_str(), st.st_uid, st.st_gid);
    ::chmod(to.c_str(), st.st_mode & 07777);
    DIR* d = ::opendir(from.c_str());
    if (!d) throw Error::sys(errno, "open " + from);
    std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string src = from + "/" + n, dst = to + "/" + n;
        struct stat s;
        if (::lstat(src.c_str(), &s) < 0) continue;
        if (S_ISDIR(s.st_mode)) {
            if (::mkdir(dst.c_str(), 0700) < 0 && errno != EEXIST) throw Error::sys(errno, "mkdir " + dst);
            copy_tree(src, dst);
        } else if (S_ISLNK(s.st_mode)) {
            std::string target(static_cast<size_t>(s.st_size) + 1, '\0');
            ssize_t len = ::readlink(src.c_str(), target.data(), target.size());
            if (len < 0) continue;
            target.resize(static_cast<size_t>(len));
            if (::symlink(target.c_str(), dst.c_str()) < 0) throw Error::sys(errno, "symlink " + dst);
            ::lchown(dst.c_str(), s.st_uid, s.st_gid);
        } else if (S_ISREG(s.st_mode)) {
            int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
            if (in < 0) throw Error::sys(errno, "open " + src);
            int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (out < 0) {
                int e2 = errno;
                ::close(in);
                throw Error::sys(e2, "create " + dst);
            }
            off_t left = s.st_size;
            while (left > 0) {
                ssize_t n2 = ::sendfile(out, in, nullptr, static_cast<size_t>(left));
                if (n2 <= 0) break;
                left -= n2;
            }
            ::close(in);
            ::fchown(out, s.st_uid, s.st_gid);
            ::fchmod(out, s.st_mode & 07777);
            ::close(out);
        } else {
            continue;  // devices, fifos, sockets and whiteouts are not volume content
        }
        if (!S_ISLNK(s.st_mode)) {
            ::chown(dst.c_str(), s.st_uid, s.st_gid);
            ::chmod(dst.c_str(), s.st_mode & 07777);
        }
        struct timespec times[2] = {s.st_atim, s.st_mtim};
        ::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
}

}  // namespace berth::volumes
