#include "images/store.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "images/extract.h"
#include "images/reference.h"
#include "images/store_detail.h"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::images {
namespace detail {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::sys(errno, "read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json read_json(const std::string& path, const std::string& what) {
    try {
        return json::parse(read_all(path));
    } catch (const json::exception& e) {
        throw Error(what + " " + path + " is not valid JSON: " + e.what());
    }
}

void write_atomic(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp" + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << data;
        if (!out) throw Error::sys(errno, "write " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw Error::sys(errno, "rename " + tmp);
}

std::string hex_of(const std::string& digest) {
    if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71 ||
        digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
        throw Error("unsupported or malformed digest \"" + digest + "\"");
    return digest.substr(7);
}

void mark_top_directory(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int flags = 0;
    if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL)) return;
    flags |= FS_TOPDIR_FL;
    ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);  // best effort: a hint, not a requirement
}

}  // namespace detail

using namespace detail;

namespace {

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";

int64_t parse_ns(const json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0;
}

std::optional<std::vector<std::string>> string_list(const json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    return j[key].get<std::vector<std::string>>();
}

// An archive to import or load must be a regular file: a FIFO would block and
// /dev/zero would be read (and copied into the store) forever.
void require_regular_file(const std::string& path, const std::string& verb) {
    if (path == "-")
        throw Error("cannot " + verb + " from standard input: berth reads an archive from a file",
                    "save it to a file first, then name that file");
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) throw Error("cannot " + verb + " " + path + ": no such file");
        throw Error::sys(errno, verb + " " + path);
    }
    if (!S_ISREG(st.st_mode))
        throw Error("cannot " + verb + " " + path + ": " +
                        (S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file (a device, FIFO or socket)"),
                    "name an archive file (.tar, .tar.gz, …)");
}

// A layer blob's media type from its first bytes: gzip, zstd or a plain tar.
std::string layer_media_type(const std::string& path) {
    unsigned char m[4] = {0, 0, 0, 0};
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd && ::read(fd.get(), m, sizeof m) < 0) m[0] = 0;
    if (m[0] == 0x1f && m[1] == 0x8b) return "application/vnd.oci.image.layer.v1.tar+gzip";
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return "application/vnd.oci.image.layer.v1.tar+zstd";
    return "application/vnd.oci.image.layer.v1.tar";
}

Error not_found(const std::string& name) {
    return Error("image " + name + " not found",
                 "make it with `berth image import ROOTFS.tar " + name + "` or `berth image load -i ARCHIVE`");
}

}  // namespace

ImageConfig parse_image_config(const json& blob) {
    ImageConfig c;
    if (!blob.is_object() || !blob.contains("config") || !blob["config"].is_object()) return c;
    const json& j = blob["config"];
    try {
        c.entrypoint = string_list(j, "Entrypoint");
        c.cmd = string_list(j, "Cmd");
        if (auto env = string_list(j, "Env")) c.env = *env;
        if (j.contains("WorkingDir") && j["WorkingDir"].is_string()) c.working_dir = j["WorkingDir"];
        if (j.contains("User") && j["User"].is_string()) c.user = j["User"];
        if (j.contains("StopSignal") && j["StopSignal"].is_string()) c.stop_signal = j["StopSignal"];
        if (j.contains("ExposedPorts") && j["ExposedPorts"].is_object())
            for (const auto& [k, _] : j["ExposedPorts"].items()) c.exposed_ports.push_back(k);
        if (j.contains("Labels") && j["Labels"].is_object())
            for (const auto& [k, v] : j["Labels"].items())
                if (v.is_string()) c.labels[k] = v;
        if (j.contains("Healthcheck") && j["Healthcheck"].is_object()) {
            const json& h = j["Healthcheck"];
            ImageConfig::Healthcheck hc;
            if (auto t = string_list(h, "Test")) hc.test = *t;
            hc.interval = parse_ns(h, "Interval");
            hc.timeout = parse_ns(h, "Timeout");
            hc.start_period = parse_ns(h, "StartPeriod");
            hc.start_interval = parse_ns(h, "StartInterval");
            hc.retries = h.contains("Retries") && h["Retries"].is_number() ? h["Retries"].get<int>() : 0;
            c.healthcheck = hc;
        }
    } catch (const json::exception& e) {
        throw Error(std::string("the image config is malformed: ") + e.what());
    }
    return c;
}

Store::Store(std::string root)
    : root_(std::move(root)), images_(root_ + "/images"), layers_(root_ + "/layers") {
    files::create_directories(images_ + "/blobs/sha256");
    if (!files::exists(layers_)) {
        files::create_directories(layers_);
        mark_top_directory(layers_);
    }
    if (!files::exists(images_ + "/oci-layout")) write_atomic(images_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    if (!files::exists(images_ + "/index.json"))
        write_atomic(images_ + "/index.json", json{{"schemaVersion", 2}, {"manifests", json::array()}}.dump());
}

std::string Store::blob_path(const std::string& digest) const { return images_ + "/blobs/sha256/" + hex_of(digest); }

std::string Store::put_blob_file(const std::string& path, const std::string& expect) {
    std::string d = file_digest(path);
    if (!expect.empty() && d != expect)
        throw Error("blob " + path + " has digest " + d + " but the image says " + expect,
                    "the archive is corrupt or was altered; fetch it again");
    std::string dest = blob_path(d);
    if (!files::exists(dest)) {
        std::string tmp = dest + ".tmp" + std::to_string(getpid());
        try {
            files::copy_file(path, tmp, fs::copy_options::overwrite_existing);
            if (::rename(tmp.c_str(), dest.c_str()) < 0) throw Error::sys(errno, "store blob " + d);
        } catch (...) {
            std::error_code ec;
            fs::remove(tmp, ec);
            throw;
        }
        added_.push_back(dest);
    }
    return d;
}

std::string Store::put_blob_json(const json& j) {
    std::string text = j.dump();
    std::string tmp = images_ + "/blobs/json.tmp" + std::to_string(getpid());
    write_atomic(tmp, text);
    std::string d = put_blob_file(tmp);
    files::remove(tmp);
    return d;
}

std::string Store::ensure_layer(const std::string& blob_digest) {
    std::string blob = blob_path(blob_digest);
    std::string diff_id = uncompressed_digest(blob);
    std::string dir = layers_ + "/" + hex_of(diff_id);
    if (!files::exists(dir)) {
        extract_layer(blob, dir);
        added_.push_back(dir);
    }
    return diff_id;
}

ImageRecord Store::stage_image(const std::string& name, const json& config_in, const std::vector<std::string>& layer_blobs,
                               const std::string& config_file) {
    json config = config_in;
    json diff_ids = json::array();
    json layers = json::array();
    int64_t size = 0;
    for (const auto& b : layer_blobs) {
        diff_ids.push_back(ensure_layer(b));
        int64_t s = static_cast<int64_t>(files::file_size(blob_path(b)));
        size += s;
        layers.push_back({{"mediaType", layer_media_type(blob_path(b))}, {"digest", b}, {"size", s}});
    }
    bool same_layers = config.contains("rootfs") && config["rootfs"].value("diff_ids", json::array()) == diff_ids;
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    if (!config.contains("architecture")) config["architecture"] = "amd64";
    if (!config.contains("os")) config["os"] = "linux";
    // A config that already names these layers is kept byte for byte: the image id survives.
    bool keep = same_layers && !config_file.empty() && config_in.contains("architecture") && config_in.contains("os");
    std::string config_digest = keep ? put_blob_file(config_file) : put_blob_json(config);
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", kManifestType},
                     {"config", {{"mediaType", kConfigType}, {"digest", config_digest},
                                 {"size", files::file_size(blob_path(config_digest))}}},
                     {"layers", layers}};
    std::string manifest_digest = put_blob_json(manifest);
    return ImageRecord{normalize_name(name), config_digest, manifest_digest, size, static_cast<int64_t>(std::time(nullptr)), {}, {}};
}

void Store::commit_images(const std::vector<ImageRecord>& recs) {
    IndexLock lock(images_);
    json index = read_index();
    json& ms = index["manifests"];
    for (const auto& rec : recs) {
        for (auto it = ms.begin(); it != ms.end();)
            if ((*it)["annotations"].value(kRefName, "") == rec.name) it = ms.erase(it);
            else ++it;
        json ann = {{kRefName, rec.name}, {"berth.created", std::to_string(rec.created)}};
        if (!rec.repo_digest.empty()) ann["berth.repo-digest"] = rec.repo_digest;
        ms.push_back({{"mediaType", rec.media_type.empty() ? kManifestType : rec.media_type},
                      {"digest", rec.manifest},
                      {"size", files::file_size(blob_path(rec.manifest))},
                      {"annotations", ann}});
    }
    write_index(index);
}

// Until commit(), every blob and layer directory the store gained is taken
// away again when the scope ends: a refused archive leaves the store as it was.
class Store::Rollback {
public:
    explicit Rollback(Store& s) : s_(s) { s_.added_.clear(); }
    ~Rollback() {
        for (auto it = s_.added_.rbegin(); it != s_.added_.rend(); ++it) {
            std::error_code ec;
            fs::remove_all(*it, ec);
        }
        s_.added_.clear();
    }
    void commit() { s_.added_.clear(); }

private:
    Store& s_;
};

json Store::read_index() const { return read_json(images_ + "/index.json", "the image index"); }
void Store::write_index(const json& index) const { write_atomic(images_ + "/index.json", index.dump(2)); }

ImageRecord Store::import_rootfs(const std::string& tarball, const std::string& name) {
    normalize_name(name);  // refuse a bad name before any work
    require_regular_file(tarball, "import");
    FileLock ingest(images_ + "/ingest.lock", LOCK_SH);  // no prune while its blobs are unnamed
    Rollback rollback(*this);
    try {
        std::string blob = put_blob_file(tarball);
        json config = {{"created", ""}, {"config", json::object()}};
        config.erase("created");
        ImageRecord rec = stage_image(name, config, {blob});
        commit_images({rec});
        rollback.commit();
        return rec;
    } catch (Error& e) {
        throw e.wrap("cannot import " + tarball);
    }
}

std::vector<std::string> Store::load_archive(const std::string& archive) {
    require_regular_file(archive, "load");
    FileLock ingest(images_ + "/ingest.lock", LOCK_SH);
    Rollback rollback(*this);
    std::vector<ImageRecord> staged;
    try {
        staged = stage_archive(archive);
        commit_images(staged);
    } catch (Error& e) {
        if (e.message().rfind(archive, 0) != 0) e.wrap("cannot load " + archive);
        throw;
    }
    rollback.commit();
    std::vector<std::string> loaded;
    for (const auto& r : staged) loaded.push_back(r.name);
    return loaded;
}

std::vector<ImageRecord> Store::stage_archive(const std::string& archive) {
    std::vector<ImageRecord> staged;
    std::string tmp = images_ + "/load.tmp" + std::to_string(getpid());
    files::remove_all(tmp);
    files::create_directories(tmp);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup{tmp};
    extract_plain(archive, tmp);
    auto blob = [&](const std::string& digest) { return tmp + "/blobs/sha256/" + hex_of(digest); };
    // An OCI layout whose images are named (berth's and docker's own `save` write one beside
    // manifest.json): manifests and configs are kept byte for byte, so are their digests.
    json index = files::exists(tmp + "/index.json") ? read_json(tmp + "/index.json", "OCI index") : json::object();
    bool oci = index.contains("manifests") && index["manifests"].is_array() && !index["manifests"].empty();
    for (const auto& desc : index.value("manifests", json::array())) {
        const json ann = desc.value("annotations", json::object());
        if (!ann.contains("io.containerd.image.name") && !ann.contains(kRefName)) oci = false;
    }
    if (oci) {
        for (const auto& desc : index["manifests"]) {
            const json ann = desc.value("annotations", json::object());
            std::string name = ann.value("io.containerd.image.name", ann.value(kRefName, ""));
            std::string md = put_blob_file(blob(desc.value("digest", "")), desc.value("digest", ""));
            json manifest = read_json(blob_path(md), "manifest");
            std::string cd = put_blob_file(blob(manifest["config"].value("digest", "")), manifest["config"].value("digest", ""));
            json config = read_json(blob_path(cd), "image config");
            json want = config.value("rootfs", json::object()).value("diff_ids", json::array()), got = json::array();
            std::vector<std::string> blobs;
            ImageRecord rec{normalize_name(name), cd, md, 0, static_cast<int64_t>(std::time(nullptr)), desc.value("mediaType", ""), {}};
            for (const auto& l : manifest.value("layers", json::array())) {
                blobs.push_back(put_blob_file(blob(l.value("digest", "")), l.value("digest", "")));
                got.push_back(ensure_layer(blobs.back()));
                rec.size += l.value("size", int64_t{0});
            }
            // A config that names other layers (or none) is rewritten, as for docker-save archives.
            staged.push_back(want == got ? rec : stage_image(name, config, blobs));
        }
    } else if (files::exists(tmp + "/manifest.json")) {
        // docker save: [{"Config": "<id>.json", "RepoTags": [...], "Layers": ["<dir>/layer.tar", …]}]
        json m = read_json(tmp + "/manifest.json", "docker manifest");
        if (!m.is_array()) throw Error(archive + ": manifest.json is not a list");
        for (const auto& img : m) {
            std::string cfg = img.value("Config", "");
            if (cfg.empty() || cfg.find("..") != std::string::npos) throw Error(archive + ": bad Config entry in manifest.json");
            json config = read_json(tmp + "/" + cfg, "image config");
            std::vector<std::string> blobs;
            for (const auto& l : img.value("Layers", json::array())) {
                std::string lp = l.get<std::string>();
                if (lp.find("..") != std::string::npos) throw Error(archive + ": bad layer path " + lp);
                blobs.push_back(put_blob_file(tmp + "/" + lp));
            }
            auto tags = img.value("RepoTags", json::array());
            if (tags.is_null() || tags.empty())
                throw Error(archive + ": an image has no RepoTags", "tag it before `docker save`, or use `berth image import`");
            for (const auto& t : tags) staged.push_back(stage_image(t.get<std::string>(), config, blobs, tmp + "/" + cfg));
        }
    } else {
        throw Error(archive + " is neither an OCI image layout nor a `docker save` archive",
                    "for a root filesystem tarball use `berth image import`");
    }
    return staged;
}

std::vector<ImageRecord> Store::list() const {
    std::vector<ImageRecord> out;
    for (const auto& d : read_index().value("manifests", json::array())) {
        ImageRecord r;
        r.name = d["annotations"].value(kRefName, "");
        r.manifest = d.value("digest", "");
        try {
            json m = read_json(blob_path(r.manifest), "manifest");
            r.id = m["config"].value("digest", "");
            for (const auto& l : m["layers"]) r.size += l.value("size", int64_t{0});
        } catch (const Error&) {
            continue;
        }
        r.created = std::stoll(d["annotations"].value("berth.created", "0"));
        r.media_type = d.value("mediaType", "");
        r.repo_digest = d["annotations"].value("berth.repo-digest", "");
        out.push_back(r);
    }
    return out;
}

bool Store::has(const std::string& name) const { return find(name).has_value(); }

std::optional<ImageRecord> Store::find(const std::string& name) const {
    std::string n = normalize_name(name);
    for (const auto& r : list())
        if (r.name == n) return r;
    return std::nullopt;
}

ResolvedImage Store::resolve(const std::string& name) const {
    std::string n = normalize_name(name);
    for (const auto& r : list()) {
        if (r.name != n) continue;
        ResolvedImage img;
        img.record = r;
        json config = read_json(blob_path(r.id), "image config");
        img.config = parse_image_config(config);
        auto diff_ids = config["rootfs"].value("diff_ids", json::array());
        for (auto it = diff_ids.rbegin(); it != diff_ids.rend(); ++it) {
            std::string dir = layers_ + "/" + hex_of(it->get<std::string>());
            if (!files::exists(dir)) throw Error("image " + name + ": layer " + dir + " is missing", "load the image again");
            img.layer_dirs.push_back(dir);
        }
        return img;
    }
    throw not_found(name);
}

json Store::inspect(const std::string& name) const {
    ResolvedImage img = resolve(name);
    json config = read_json(blob_path(img.record.id), "image config");
    return {{"Id", img.record.id},
            {"RepoTags", {parse_reference(img.record.name).familiar()}},
            {"Name", img.record.name},
            {"Manifest", img.record.manifest},
            {"RepoDigests", img.record.repo_digest.empty() ? json::array()
                                : json::array({parse_reference(img.record.name).familiar() + "@" + img.record.repo_digest})},
            {"Size", img.record.size},
            {"Created", img.record.created},
            {"Config", config.value("config", json::object())},
            {"RootFS", config.value("rootfs", json::object())},
            {"LayerDirs", img.layer_dirs}};
}

ImageRecord Store::tag(const std::string& source, const std::string& target) {
    std::string t = normalize_name(target);
    auto rec = find(source);
    if (!rec) throw not_found(source);
    rec->name = t;
    rec->created = static_cast<int64_t>(std::time(nullptr));
    rec->repo_digest.clear();  // the registry's digest belongs to the source's repository
    commit_images({*rec});
    return *rec;
}

void Store::remove(const std::string& name, const std::set<std::string>& mounted) {
    std::string n = normalize_name(name);
    UniqueFd ingest(hold_ingest(true));
    IndexLock lock(images_);
    json index = read_index();
    json& ms = index["manifests"];
    bool found = false;
    for (auto it = ms.begin(); it != ms.end();)
        if ((*it)["annotations"].value(kRefName, "") == n) it = ms.erase(it), found = true;
        else ++it;
    if (!found) throw not_found(name);
    write_index(index);
    // Layers no remaining image uses go too.
    auto keep = used_diff_ids(index);
    if (!keep) return;  // an image it cannot read may use any of them
    for (const auto& e : fs::directory_iterator(layers_)) {
        std::string h = e.path().filename().string();
        if (h.size() == 64 && !keep->count(h) && !mounted.count(h)) files::remove_all(e.path());
    }
}

}  // namespace berth::images
