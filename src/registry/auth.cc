#include "registry/auth.h"

#include "base/error.h"
#include "base/fd.h"
#include "registry/helper.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace berth::registry {
namespace {

constexpr const char* kDockerHubKey = "https://index.docker.io/v1/";

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

json read_config() {
    std::ifstream in(docker_config_path());
    if (!in) return json::object();
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        json j = json::parse(ss.str());
        return j.is_object() ? j : json::object();
    } catch (const json::exception& e) {
        throw Error("cannot read " + docker_config_path() + ": " + e.what(), "fix or remove the file");
    }
}

void write_config(const json& j) {
    std::string path = docker_config_path();
    fs::create_directories(fs::path(path).parent_path());
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump(1, '\t') << "\n";
        if (!out) throw Error::sys(errno, "write " + tmp);
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(tmp, path);
}

// The credential helper for a host, "" for none.
std::string helper_for(const json& cfg, const std::string& host) {
    if (cfg.contains("credHelpers") && cfg["credHelpers"].is_object()) {
        for (const auto& key : {host, auths_key(host)})
            if (cfg["credHelpers"].contains(key) && cfg["credHelpers"][key].is_string()) return cfg["credHelpers"][key];
    }
    if (cfg.contains("credsStore") && cfg["credsStore"].is_string()) return cfg["credsStore"];
    return "";
}

std::string url_encode(const std::string& s) {
    std::string out;
    static const char* hex = "0123456789ABCDEF";
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += '%', out += hex[c >> 4], out += hex[c & 15];
    }
    return out;
}

// "https://auth.example:8443/token" → an endpoint for its host and the path.
std::pair<Endpoint, std::string> split_url(const std::string& url) {
    Endpoint ep;
    std::string rest;
    if (url.rfind("https://", 0) == 0) rest = url.substr(8);
    else if (url.rfind("http://", 0) == 0) rest = url.substr(7), ep.insecure = true;
    else throw Error("the registry's token realm \"" + url + "\" is not an http(s) URL");
    auto slash = rest.find('/');
    ep.host = rest.substr(0, slash);
    return {ep, slash == std::string::npos ? "/" : rest.substr(slash)};
}

}  // namespace

Challenge parse_challenge(const std::string& header) {
    Challenge c;
    size_t i = 0, n = header.size();
    auto skip_ws = [&] {
        while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
    };
    skip_ws();
    size_t start = i;
    while (i < n && header[i] != ' ' && header[i] != '\t') ++i;
    c.scheme = lower(header.substr(start, i - start));
    if (c.scheme.empty()) throw Error("the registry sent an empty WWW-Authenticate header");
    for (;;) {
        skip_ws();
        while (i < n && header[i] == ',') ++i, skip_ws();
        if (i >= n) break;
        size_t ks = i;
        while (i < n && header[i] != '=' && header[i] != ',' && header[i] != ' ') ++i;
        std::string key = lower(header.substr(ks, i - ks));
        skip_ws();
        if (i >= n || header[i] != '=') {
            if (key.empty()) break;
            // a bare token (token68) or the start of a second challenge: stop at it
            break;
        }
        ++i;
        skip_ws();
        std::string value;
        if (i < n && header[i] == '"') {
            ++i;
            while (i < n && header[i] != '"') {
                if (header[i] == '\\' && i + 1 < n) ++i;
                value += header[i++];
            }
            if (i >= n) throw Error("the registry's WWW-Authenticate header has an unclosed quote: " + header);
            ++i;
        } else {
            size_t vs = i;
            while (i < n && header[i] != ',' && header[i] != ' ') ++i;
            value = header.substr(vs, i - vs);
        }
        c.params[key] = value;
    }
    return c;
}

std::string docker_config_path() {
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/root") + "/.docker/config.json";
}

std::string auths_key(const std::string& host) {
    if (host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io") return kDockerHubKey;
    return host;
}

std::string base64_encode(const std::string& s) {
    std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
    out.resize(n);
    return out;
}

std::string base64_decode(const std::string& in) {
    std::string s;
    for (char c : in)
        if (!std::isspace(static_cast<unsigned char>(c))) s += c;
    if (s.size() % 4) throw Error("not valid base64");
    std::string out(s.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
    if (n < 0) throw Error("not valid base64");
    size_t pad = s.empty() ? 0 : (s.back() == '=') + (s.size() > 1 && s[s.size() - 2] == '=');
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

std::optional<Credentials> auths_entry(const std::string& config_text, const std::string& host) {
    json cfg = json::parse(config_text, nullptr, false);
    if (!cfg.is_object() || !cfg.contains("auths") || !cfg["auths"].is_object()) return std::nullopt;
    const json& auths = cfg["auths"];
    // Keys may be "host", "https://host", "https://host/v1/", "http://host".
    for (const auto& [key, entry] : auths.items()) {
        std::string k = key;
        for (const char* p : {"https://", "http://"})
            if (k.rfind(p, 0) == 0) k = k.substr(std::string(p).size());
        k = k.substr(0, k.find('/'));
        bool match = key == auths_key(host) || k == host ||
                     (auths_key(host) == kDockerHubKey && (k == "index.docker.io" || k == "docker.io"));
        if (!match || !entry.is_object()) continue;
        Credentials c;
        if (entry.contains("auth") && entry["auth"].is_string() && !entry["auth"].get<std::string>().empty()) {
            std::string raw;
            try {
                raw = base64_decode(entry["auth"]);
            } catch (const Error&) {
                throw Error("the `auth` of " + key + " in " + docker_config_path() + " is not valid base64",
                            "run `berth login " + host + "` again");
            }
            auto colon = raw.find(':');
            if (colon == std::string::npos)
                throw Error("the `auth` of " + key + " in " + docker_config_path() + " is not user:password",
                            "run `berth login " + host + "` again");
            c.username = raw.substr(0, colon);
            c.password = raw.substr(colon + 1);
        } else if (entry.contains("username") && entry["username"].is_string()) {
            c.username = entry["username"];
            c.password = entry.value("password", "");
        }
        if (entry.contains("identitytoken") && entry["identitytoken"].is_string()) c.password = entry["identitytoken"];
        if (!c.empty()) return c;
    }
    return std::nullopt;
}

Credentials lookup_credentials(const std::string& host) {
    json cfg = read_config();
    if (std::string helper = helper_for(cfg, host); !helper.empty()) {
        auto out = run_helper("docker-credential-" + helper, "get", auths_key(host));
        if (out.status == 0) {
            json j = json::parse(out.output, nullptr, false);
            if (j.is_object() && j.contains("Secret"))
                return Credentials{j.value("Username", ""), j.value("Secret", "")};
        }
        // "credentials not found" and the like: fall through to `auths`
    }
    return auths_entry(cfg.dump(), host).value_or(Credentials{});
}

void store_credentials(const std::string& host, const Credentials& c) {
    json cfg = read_config();
    if (std::string helper = helper_for(cfg, host); !helper.empty()) {
        json in = {{"ServerURL", auths_key(host)}, {"Username", c.username}, {"Secret", c.password}};
        auto out = run_helper("docker-credential-" + helper, "store", in.dump());
        if (out.status != 0)
            throw Error("docker-credential-" + helper + " could not store the credentials: " + out.output);
        if (!cfg.contains("auths") || !cfg["auths"].is_object()) cfg["auths"] = json::object();
        cfg["auths"][auths_key(host)] = json::object();
    } else {
        if (!cfg.contains("auths") || !cfg["auths"].is_object()) cfg["auths"] = json::object();
        cfg["auths"][auths_key(host)] = {{"auth", base64_encode(c.username + ":" + c.password)}};
    }
    write_config(cfg);
}

bool erase_credentials(const std::string& host) {
    json cfg = read_config();
    bool found = false;
    if (std::string helper = helper_for(cfg, host); !helper.empty())
        found = run_helper("docker-credential-" + helper, "erase", auths_key(host)).status == 0;
    if (cfg.contains("auths") && cfg["auths"].is_object()) {
        for (const auto& key : {auths_key(host), host, "https://" + host})
            if (cfg["auths"].erase(key)) found = true;
    }
    if (found) write_config(cfg);
    return found;
}

Credentials Authenticator::credentials(const std::string& host) {
    std::lock_guard g(mu_);
    auto it = creds_.find(host);
    if (it != creds_.end()) return it->second;
    Credentials c = lookup_credentials(host);
    creds_[host] = c;
    return c;
}

void Authenticator::set_credentials(const std::string& host, Credentials c) {
    std::lock_guard g(mu_);
    creds_[host] = std::move(c);
}

std::string Authenticator::header(const std::string& host, const std::string& scope) {
    std::lock_guard g(mu_);
    auto it = tokens_.find(host + " " + scope);
    if (it == tokens_.end()) it = tokens_.find(host + " *");  // basic auth covers every scope
    if (it == tokens_.end() || std::chrono::steady_clock::now() >= it->second.expires) return "";
    return it->second.header;
}

bool Authenticator::answer(Http& http, const Endpoint& ep, const std::string& scope, const std::string& www) {
    Challenge ch = parse_challenge(www);
    Credentials cred = credentials(ep.host);
    std::string basic = cred.empty() ? "" : "Authorization: Basic " + base64_encode(cred.username + ":" + cred.password);
    std::string key = ch.scheme == "basic" ? ep.host + " *" : ep.host + " " + scope;
    if (ch.scheme == "basic") {
        if (basic.empty()) return false;
        std::lock_guard g(mu_);
        tokens_[key].header = basic;
        tokens_[key].expires = std::chrono::steady_clock::time_point::max();
        return true;
    }
    if (ch.scheme != "bearer") throw Error("registry " + ep.host + " asks for \"" + ch.scheme + "\" authentication, which berth does not speak");
    std::string realm = ch.params["realm"];
    if (realm.empty()) throw Error("registry " + ep.host + " asks for a token but names no realm");
    auto [rep, path] = split_url(realm);
    if (rep.insecure && !ep.insecure)
        throw Error("registry " + ep.host + " sends its credentials' token realm over plain HTTP: " + realm,
                    "list the registry in insecure-registries only if you trust this network");
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (!ch.params["service"].empty()) url += "service=" + url_encode(ch.params["service"]) + "&";
    std::string want = ch.params.count("scope") ? ch.params["scope"] : scope;
    if (!want.empty()) url += "scope=" + url_encode(want);
    Request req;
    req.url = url;
    if (!basic.empty()) req.headers.push_back(basic);
    Response r = http.perform(rep, req);
    if (r.status == 401 || r.status == 403)
        throw Error("registry " + ep.host + " refused the credentials" +
                        (cred.empty() ? std::string(" (none were given)") : " of " + cred.username),
                    "run `berth login " + ep.host + "`");
    if (r.status != 200)
        throw Error("the token service of " + ep.host + " answered " + std::to_string(r.status) + ": " + r.body.substr(0, 200));
    json j = json::parse(r.body, nullptr, false);
    std::string token = j.is_object() ? j.value("token", j.value("access_token", "")) : "";
    if (token.empty()) throw Error("the token service of " + ep.host + " sent no token");
    int64_t ttl = j.is_object() && j.contains("expires_in") && j["expires_in"].is_number() ? j["expires_in"].get<int64_t>() : 60;
    std::lock_guard g(mu_);
    auto& t = tokens_[key];
    t.header = "Authorization: Bearer " + token;
    // Renewed a little before the registry stops taking it.
    t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(ttl - 10, 5));
    return true;
}

}  // namespace berth::registry
