// One HTTP connection to registries over libcurl: TLS with the system CAs plus
// a registry's own CA and client certificate (docker's certs.d layout), plain
// HTTP only where configured, timeouts, proxies from the environment (curl
// reads http_proxy/https_proxy/no_proxy). Not thread-safe: one per thread.
#pragma once

#include "base/error.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth::registry {

// How to reach one registry host ("host[:port]").
struct Endpoint {
    std::string host;
    bool insecure = false;  // plain HTTP
    std::string base() const { return (insecure ? "http://" : "https://") + host; }
};

struct Request {
    std::string method = "GET";  // GET, HEAD, PUT, POST, PATCH
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    int64_t range_from = 0;            // > 0: ask for the bytes from there on
    // Where a 2xx body goes (false from it aborts the transfer); unset: into Response::body.
    std::function<bool(const char*, size_t)> sink;
    std::function<void()> on_full_body;  // a Range was asked for but the whole body comes
    std::string body;  // sent with PUT/POST/PATCH
    // Or a file's bytes [body_offset, body_offset + body_length) sent instead (uploads).
    int body_fd = -1;
    int64_t body_offset = 0, body_length = 0;
    std::function<void(int64_t sent)> on_sent;  // bytes of that range sent so far

    static Request make(std::string method, std::string url, std::vector<std::string> headers = {}) {
        Request r;
        r.method = std::move(method), r.url = std::move(url), r.headers = std::move(headers);
        return r;
    }
};

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;                            // error bodies are kept (up to 64 KiB)
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A transfer that failed below HTTP (connect, TLS, cut connection); retryable() tells
// whether trying again may help.
class TransportError : public Error {
public:
    TransportError(std::string message, std::string hint, bool retryable)
        : Error(std::move(message), std::move(hint)), retryable_(retryable) {}
    bool retryable() const { return retryable_; }

private:
    bool retryable_;
};

class Http {
public:
    Http();
    ~Http();
    Http(const Http&) = delete;
    Http& operator=(const Http&) = delete;

    // Performs the request; throws TransportError when no HTTP answer came whole.
    Response perform(const Endpoint& ep, const Request& req);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The directory of per-registry certificates: $BERTH_CERTS_DIR, else /etc/docker/certs.d.
std::string certs_root();

}  // namespace berth::registry
