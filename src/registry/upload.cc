// The push half of the distribution API (registry/client.h): blob HEAD, upload sessions
// (POST, optional cross-repository mount), monolithic or chunked blob uploads, manifest PUT.
#include "registry/client.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

namespace berth::registry {
namespace {

// A Location header made a path the client can re-base on an endpoint ("/v2/…").
std::string location_of(const Response& r, const std::string& what) {
    std::string loc = r.header("location");
    auto v2 = loc.find("/v2/");
    if (v2 == std::string::npos) throw Error("the registry answered " + what + " without a usable Location (\"" + loc + "\")");
    return loc.substr(v2);
}

std::string with_query(const std::string& url, const std::string& kv) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

}  // namespace

void Client::want_push() { scope_ = "repository:" + ref_.path + ":pull,push"; }

bool Client::has_remote_blob(const std::string& digest) {
    Response r = call(Request::make("HEAD", "/v2/" + ref_.path + "/blobs/" + digest));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    http_error(r, "blob " + digest + " of " + image());
}

std::string Client::start_upload(const std::string& digest, const std::string& from_repo) {
    std::string url = "/v2/" + ref_.path + "/blobs/uploads/";
    if (!from_repo.empty()) url += "?mount=" + digest + "&from=" + from_repo;
    Request req = Request::make("POST", url, {"Content-Length: 0"});
    Response r = call(req);
    if (r.status == 201 && !from_repo.empty()) return "";
    if (r.status != 202) http_error(r, "an upload to " + image());
    return location_of(r, "an upload's start");
}

void Client::upload_blob(std::string location, const std::string& path, const std::string& digest, int64_t chunk,
                         const ProgressFn& progress) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw Error::sys(errno, "open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) throw Error::sys(errno, "stat " + path);
    int64_t size = st.st_size;
    auto body = [&](Request& req, int64_t off, int64_t len) {
        req.body_fd = fd.get(), req.body_offset = off, req.body_length = len;
        req.headers.push_back("Content-Type: application/octet-stream");
        req.headers.push_back("Expect:");  // no 100-continue round trip
        if (progress) req.on_sent = [&, off](int64_t sent) { progress(digest, off + sent, size); };
    };
    int64_t off = 0;
    if (chunk > 0 && size > chunk) {
        for (int64_t len; off < size; off += len) {
            len = std::min(chunk, size - off);
            Request req = Request::make("PATCH", location);
            body(req, off, len);
            req.headers.push_back("Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1));
            Response r = call(req);
            if (r.status != 202) http_error(r, "a chunk of blob " + digest + " for " + image());
            location = location_of(r, "a chunk");
        }
    }
    Request put = Request::make("PUT", with_query(location, "digest=" + digest));
    body(put, off, size - off);
    Response r = call(put);
    if (r.status != 201) http_error(r, "the upload of blob " + digest + " to " + image());
}

std::string Client::put_manifest(const std::string& tag, const std::string& media_type, const std::string& bytes) {
    Request req = Request::make("PUT", "/v2/" + ref_.path + "/manifests/" + tag, {"Content-Type: " + media_type});
    req.body = bytes;
    Response r = call(req);
    if (r.status != 201 && r.status != 200) http_error(r, "the manifest of " + image());
    return r.header("docker-content-digest");
}

}  // namespace berth::registry
