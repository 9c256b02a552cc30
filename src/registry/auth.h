// Registry authentication as docker does it: credentials from the docker
// config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json: `auths`,
// `credsStore`, `credHelpers` through docker-credential-* programs), the
// WWW-Authenticate challenge (Bearer → a token from the realm, anonymous when
// there are no credentials; Basic), and tokens cached per registry and scope
// until they expire. Also what `berth login`/`logout` write.
#pragma once

#include "registry/http.h"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace berth::registry {

struct Challenge {
    std::string scheme;  // "bearer" or "basic" (lower case)
    std::map<std::string, std::string> params;  // realm, service, scope, error, …
};

// Parses a WWW-Authenticate value; the first challenge it names. Throws berth::Error when
// it cannot be read.
Challenge parse_challenge(const std::string& header);

struct Credentials {
    std::string username, password;  // password may be an identity token with username "<token>"
    bool empty() const { return username.empty() && password.empty(); }
};

// The docker config file berth reads and writes.
std::string docker_config_path();
// The key docker uses in `auths` for a registry host (docker.io → its v1 URL).
std::string auths_key(const std::string& host);
// Credentials for a registry host from the config file (and its helpers); none if absent.
Credentials lookup_credentials(const std::string& host);
// Parses config.json text for the host's `auths` entry (no helpers): for tests and lookup.
std::optional<Credentials> auths_entry(const std::string& config_text, const std::string& host);
// `berth login`: stores the credentials (through credsStore/credHelpers when configured).
void store_credentials(const std::string& host, const Credentials& c);
// `berth logout`: false when there was nothing to remove.
bool erase_credentials(const std::string& host);

std::string base64_encode(const std::string& s);
std::string base64_decode(const std::string& s);

// Authorization headers per (host, scope), shared by every thread of a pull.
class Authenticator {
public:
    // The Authorization header line for a request, or "" before any challenge.
    std::string header(const std::string& host, const std::string& scope);
    // After a 401: obtains what the challenge asks for. False when nothing more can be
    // tried (basic auth and no credentials); callers bound how often they answer.
    bool answer(Http& http, const Endpoint& ep, const std::string& scope, const std::string& www_authenticate);
    // For `berth login`: use these credentials instead of the config file's.
    void set_credentials(const std::string& host, Credentials c);

private:
    struct Token {
        std::string header;
        std::chrono::steady_clock::time_point expires;
    };
    Credentials credentials(const std::string& host);
    std::mutex mu_;
    std::map<std::string, Token> tokens_;            // host + " " + scope
    std::map<std::string, Credentials> creds_;       // host
};

}  // namespace berth::registry
