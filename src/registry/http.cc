#include "registry/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <exception>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <cerrno>
#include <unistd.h>
#include <mutex>

namespace fs = std::filesystem;

namespace berth::registry {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    CURL* curl;
    const Request* req;
    Response* resp;
    bool sink_failed = false;
    bool started = false;
    int64_t sent = 0;  // of an upload from body_fd
    std::exception_ptr error;  // thrown by the sink: rethrown once curl returns
};

size_t on_header(char* buf, size_t size, size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    std::string line(buf, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
        t->resp->headers.clear();  // a new response (after a redirect or 100-continue)
        return size * n;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) return size * n;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    auto& slot = t->resp->headers[name];
    slot = slot.empty() ? value : slot + ", " + value;
    return size * n;
}

size_t on_body(char* buf, size_t size, size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    size_t len = size * n;
    if (status >= 200 && status < 300 && t->req->sink) {
        try {
            if (!t->started && status == 200 && t->req->range_from > 0 && t->req->on_full_body) t->req->on_full_body();
            t->started = true;
            if (!t->req->sink(buf, len)) {
                t->sink_failed = true;
                return 0;
            }
        } catch (...) {
            t->error = std::current_exception();
            return 0;
        }
        return len;
    }
    size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->resp->body.size());
    if (status >= 200 && status < 300) room = len;  // a manifest or token: keep it whole
    t->resp->body.append(buf, std::min(room, len));
    return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    int64_t left = t->req->body_length - t->sent;
    size_t want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(size * n)));
    if (want == 0) return 0;
    ssize_t got;
    do got = ::pread(t->req->body_fd, buf, want, t->req->body_offset + t->sent);
    while (got < 0 && errno == EINTR);
    if (got <= 0) return CURL_READFUNC_ABORT;
    t->sent += got;
    if (t->req->on_sent) t->req->on_sent(t->sent);
    return static_cast<size_t>(got);
}

[[noreturn]] void fail(CURLcode code, const char* errbuf, const Endpoint& ep) {
    std::string detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(code);
    std::string host = ep.host;
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        throw TransportError("cannot resolve registry host " + host + ": " + detail,
                             "check the name, your DNS, and the proxy variables", true);
    case CURLE_COULDNT_CONNECT:
        throw TransportError("cannot reach registry " + host + ": " + detail,
                             "is the registry up and the address right?", true);
    case CURLE_OPERATION_TIMEDOUT:
        throw TransportError("registry " + host + " timed out: " + detail, "", true);
    case CURLE_PEER_FAILED_VERIFICATION:
        throw TransportError("TLS: the certificate of registry " + host + " is not trusted: " + detail,
                             "put the CA that signed it in " + certs_root() + "/" + host + "/ca.crt", false);
    case CURLE_SSL_CONNECT_ERROR:
        throw TransportError(
            "TLS handshake with registry " + host + " failed: " + detail,
            detail.find("wrong version number") != std::string::npos || detail.find("packet length") != std::string::npos
                ? "the registry seems to speak plain HTTP: if you trust it, list \"" + host +
                      "\" in insecure-registries of /etc/berth/config.json or in BERTH_INSECURE_REGISTRIES"
                : "check the registry's certificate and " + certs_root() + "/" + host + "/",
            false);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        throw TransportError("TLS: a certificate file for registry " + host + " is unusable: " + detail,
                             "check the files in " + certs_root() + "/" + host + "/", false);
    case CURLE_WRITE_ERROR:
        throw TransportError("download from " + host + " stopped: " + detail, "", false);
    default: {
        bool retry = code == CURLE_PARTIAL_FILE || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
                     code == CURLE_GOT_NOTHING || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
        throw TransportError("transfer from registry " + host + " failed: " + detail, "", retry);
    }
    }
}

}  // namespace

std::string certs_root() {
    const char* e = std::getenv("BERTH_CERTS_DIR");
    return e && *e ? e : "/etc/docker/certs.d";
}

struct Http::Impl {
    CURL* curl = nullptr;
};

Http::Http() : impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->curl = curl_easy_init();
    if (!impl_->curl) throw Error("cannot start libcurl");
}

Http::~Http() { curl_easy_cleanup(impl_->curl); }

Response Http::perform(const Endpoint& ep, const Request& req) {
    CURL* c = impl_->curl;
    curl_easy_reset(c);
    Response resp;
    Transfer t{c, &req, &resp, false, false, 0, nullptr};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);  // blobs often redirect to storage
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, ep.insecure ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, ep.insecure ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    // A transfer slower than 1 kB/s for 60 s is stalled.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "berth");
    // BERTH_PULL_RATE_LIMIT=BYTES/s caps each transfer (a slow link, or a test that must
    // interrupt a download midway).
    // Blobs arrive in 512 KiB callbacks (the most curl allows), not 16 KiB: fewer writes,
    // fewer wake-ups of the thread extracting the layer. Not with a rate limit, which curl
    // keeps only with small reads (4 MB/s pulled a 65 MiB image in 1 s with 512 KiB).
    if (const char* rate = std::getenv("BERTH_PULL_RATE_LIMIT"); rate && *rate)
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, static_cast<curl_off_t>(std::atoll(rate)));
    else
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, nullptr);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    // docker's layout: certs.d/HOST/ca.crt adds to the system CAs; client.cert + client.key.
    std::string dir = certs_root() + "/" + ep.host;
    std::string ca = dir + "/ca.crt", cert = dir + "/client.cert", key = dir + "/client.key";
    if (!ep.insecure) {
        if (fs::exists(ca)) {
            curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
            curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
        }
        if (fs::exists(cert) && fs::exists(key)) {
            curl_easy_setopt(c, CURLOPT_SSLCERT, cert.c_str());
            curl_easy_setopt(c, CURLOPT_SSLKEY, key.c_str());
        }
    }
    if (req.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req.body_fd >= 0) {  // streamed from a file; CUSTOMREQUEST keeps POST/PATCH
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &t);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_length));
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);  // the 64 kB default costs ~2x on loopback
    } else if (req.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    std::string range;
    if (req.range_from > 0) {
        range = std::to_string(req.range_from) + "-";
        curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
    }
    curl_slist* hdrs = nullptr;
    for (const auto& h : req.headers) hdrs = curl_slist_append(hdrs, h.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    if (t.error) std::rethrow_exception(t.error);
    if (rc != CURLE_OK) {
        if (t.sink_failed) throw TransportError("download from " + ep.host + " stopped: " + errbuf, "", false);
        fail(rc, errbuf, ep);
    }
    return resp;
}

}  // namespace berth::registry
