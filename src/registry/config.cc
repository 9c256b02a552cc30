#include "registry/config.h"

#include "base/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

using json = nlohmann::json;

namespace berth::registry {
namespace {

std::string strip_scheme(std::string s) {
    for (const char* p : {"https://", "http://"})
        if (s.rfind(p, 0) == 0) s = s.substr(std::string(p).size());
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

std::string config_path() {
    const char* e = std::getenv("BERTH_CONFIG");
    return e && *e ? e : "/etc/berth/config.json";
}

Settings parse_settings(const std::string& text, const std::string& env_insecure) {
    Settings s;
    if (!text.empty()) {
        json j;
        try {
            j = json::parse(text);
        } catch (const json::exception& e) {
            throw Error(config_path() + " is not valid JSON: " + e.what());
        }
        auto list = [&](const char* key) {
            std::vector<std::string> out;
            if (!j.is_object() || !j.contains(key)) return out;
            if (!j[key].is_array()) throw Error(config_path() + ": `" + key + "` must be a list of strings");
            for (const auto& v : j[key]) {
                if (!v.is_string()) throw Error(config_path() + ": `" + key + "` must be a list of strings");
                out.push_back(v.get<std::string>());
            }
            return out;
        };
        for (auto& h : list("insecure-registries")) s.insecure.push_back(strip_scheme(h));
        s.mirrors = list("registry-mirrors");
    }
    std::stringstream ss(env_insecure);
    for (std::string h; std::getline(ss, h, ',');)
        if (!h.empty()) s.insecure.push_back(strip_scheme(h));
    return s;
}

Settings load_settings() {
    std::ifstream in(config_path());
    std::string text;
    if (in) {
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    const char* env = std::getenv("BERTH_INSECURE_REGISTRIES");
    return parse_settings(text, env ? env : "");
}

std::string api_host(const std::string& domain) {
    return domain == "docker.io" || domain == "index.docker.io" ? "registry-1.docker.io" : domain;
}

std::vector<Endpoint> endpoints(const Settings& s, const std::string& domain) {
    auto insecure = [&](const std::string& host) {
        return std::find(s.insecure.begin(), s.insecure.end(), host) != s.insecure.end();
    };
    std::vector<Endpoint> out;
    if (domain == "docker.io")
        for (const auto& m : s.mirrors) {
            std::string host = strip_scheme(m);
            out.push_back({host, m.rfind("http://", 0) == 0 || insecure(host)});
        }
    std::string host = api_host(domain);
    out.push_back({host, insecure(host) || insecure(domain)});
    return out;
}

}  // namespace berth::registry
