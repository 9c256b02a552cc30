#include "plan/brief.h"

#include "base/error.h"
#include "base/hash.h"
#include "compose/units.h"
#include "plan/plan.h"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace berth::plan {
namespace {

constexpr int64_t kSecond = 1000000000;

std::optional<int> whole_number(std::string_view s) {
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

RestartPolicy restart_kind(const compose::Service& s) {
    RestartPolicy r;
    if (s.deploy && !s.deploy->restart_condition.empty()) {
        const std::string& c = s.deploy->restart_condition;
        if (c == "none") return r;
        if (c == "any") {
            r.kind = RestartKind::Always;
            return r;
        }
        if (c == "on-failure") {
            r.kind = RestartKind::OnFailure;
            if (s.deploy->restart_max_attempts) r.max = static_cast<int>(*s.deploy->restart_max_attempts);
            return r;
        }
    }
    const std::string& p = s.restart;
    if (p == "always") r.kind = RestartKind::Always;
    else if (p == "unless-stopped") r.kind = RestartKind::UnlessStopped;
    else if (p.rfind("on-failure", 0) == 0) {
        r.kind = RestartKind::OnFailure;
        if (auto colon = p.find(':'); colon != std::string::npos) {
            r.max = whole_number(std::string_view(p).substr(colon + 1));
            if (!r.max || *r.max < 0)
                throw Error("service \"" + s.name + "\": restart: invalid count in \"" + p + "\"",
                            "use on-failure:N with N a whole number");
        }
    } else if (!p.empty() && p != "no") {
        throw Error("service \"" + s.name + "\": invalid restart policy \"" + p + "\"",
                    "use no, always, on-failure[:N] or unless-stopped");
    }
    return r;
}

RestartPolicy restart_policy(const compose::Service& s) {
    RestartPolicy r = restart_kind(s);
    if (s.deploy && s.deploy->restart_delay) r.delay_ms = *s.deploy->restart_delay / 1000000;
    return r;
}

HealthPolicy health_policy(const compose::Service& s, const ImageDefaults& image) {
    HealthPolicy h;
    const compose::Healthcheck* sh = s.healthcheck ? &*s.healthcheck : nullptr;
    const ImageDefaults::Health* ih = image.healthcheck ? &*image.healthcheck : nullptr;
    // As docker compose, when the container is made (other services of the file still start).
    if (sh && sh->start_interval && !sh->start_period && !sh->disable)
        throw Error("service \"" + s.name + "\": healthcheck.start_interval requires healthcheck.start_period to be set",
                    "add `start_period:` (the time probes run every start_interval), or drop start_interval");
    if (sh) h.enabled = !sh->disable && !sh->test.empty();
    else h.enabled = ih && !ih->test.empty() && ih->test[0] != "NONE";
    auto pick = [&](const std::optional<int64_t>& own, int64_t img, int64_t fallback) {
        if (own) return *own;
        return ih && img ? img : fallback;
    };
    h.interval = pick(sh ? sh->interval : std::nullopt, ih ? ih->interval : 0, 30 * kSecond);
    h.timeout = pick(sh ? sh->timeout : std::nullopt, ih ? ih->timeout : 0, 30 * kSecond);
    h.start_period = pick(sh ? sh->start_period : std::nullopt, ih ? ih->start_period : 0, 0);
    h.start_interval = pick(sh ? sh->start_interval : std::nullopt, ih ? ih->start_interval : 0, 5 * kSecond);
    if (sh && sh->retries) h.retries = static_cast<int>(*sh->retries);
    else if (ih && ih->retries) h.retries = ih->retries;
    if (!h.enabled) return h;
    std::vector<std::string> t = sh && !sh->test.empty() ? sh->test : ih->test;
    if (t.empty()) h.argv = t;
    else if (t[0] == "CMD") h.argv.assign(t.begin() + 1, t.end());
    else if (t[0] == "CMD-SHELL") h.argv = {"/bin/sh", "-c", t.size() > 1 ? t[1] : ""};
    else h.argv = t;
    return h;
}

LogPolicy log_policy(const compose::Service& s) {
    LogPolicy l;
    if (!s.logging) return l;
    const std::string& d = s.logging->driver;
    if (d.empty() || d == "json-file") l.driver = LogDriver::JsonFile;
    else if (d == "local") l.driver = LogDriver::Local;
    else l.driver = LogDriver::None;
    const auto& o = s.logging->options;
    if (auto it = o.find("max-size"); it != o.end()) {
        try {
            l.max_size = compose::parse_bytes(it->second);
        } catch (const std::exception&) {
            throw Error("service \"" + s.name + "\": logging.options.max-size: invalid size \"" + it->second + "\"",
                        "use a size such as 10m or 512k");
        }
    }
    if (auto it = o.find("max-file"); it != o.end()) {
        auto n = whole_number(it->second);
        if (!n) throw Error("service \"" + s.name + "\": logging.options.max-file: \"" + it->second + "\" is not a number");
        l.max_file = std::max(1, *n);
    }
    return l;
}

}  // namespace

std::vector<NetworkAttachment> network_attachments(const compose::Project& p, const compose::Service& s) {
    std::vector<std::pair<std::string, const compose::ServiceNetwork*>> order;
    for (const auto& [key, sn] : s.networks) order.emplace_back(key, &sn);
    // Highest priority first (it gets eth0 and the default route), then by name.
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        return a.second->priority.value_or(0) > b.second->priority.value_or(0);
    });
    std::vector<NetworkAttachment> out;
    for (const auto& [key, sn] : order) {
        auto it = p.networks.find(key);
        if (it == p.networks.end()) throw Error("service \"" + s.name + "\": undefined network " + key);
        out.push_back({key, it->second.name, sn->ipv4_address, sn->ipv6_address, sn->aliases});
    }
    return out;
}


bool RestartPolicy::should_restart(int code, int restarts) const {
    switch (kind) {
    case RestartKind::No: return false;
    case RestartKind::Always:
    case RestartKind::UnlessStopped: return true;
    case RestartKind::OnFailure: return code != 0 && (!max || restarts < *max);
    }
    return false;
}

int64_t HealthPolicy::first_delay() const { return start_period > 0 ? std::min(start_interval, interval) : interval; }

std::optional<int> signal_number(const std::string& name) {
    // One parser for the whole of berth: the one that checked stop_signal at load.
    return compose::signal_number(name);
}

int stop_signal(const compose::Service& s, const ImageDefaults& image) {
    if (!s.stop_signal.empty()) {
        auto sig = signal_number(s.stop_signal);
        if (!sig)
            throw Error("service \"" + s.name + "\": stop_signal: unknown signal \"" + s.stop_signal + "\"",
                        "use a name such as SIGTERM, SIGQUIT, SIGINT, or a number");
        return *sig;
    }
    return signal_number(image.stop_signal).value_or(SIGTERM);  // an image's unknown StopSignal: SIGTERM, as before
}

PublishedPort published_port(const compose::Port& p) {
    PublishedPort out;
    out.host_ip = p.host_ip;
    out.target = static_cast<uint16_t>(p.target);
    out.protocol = p.protocol;
    if (p.published.empty()) return out;
    auto dash = p.published.find('-');
    auto first = whole_number(std::string_view(p.published).substr(0, dash));
    auto last = dash == std::string::npos ? first : whole_number(std::string_view(p.published).substr(dash + 1));
    if (!first || !last || *first < 1 || *last > 65535 || *first > *last)
        throw Error("invalid published port \"" + p.published + "\"", "use a port (8080) or a range (8000-8010)");
    out.first = static_cast<uint16_t>(*first);
    out.last = static_cast<uint16_t>(*last);
    return out;
}

ServicePlan resolve(const compose::Project& p, const std::string& service, const ImageDefaults& image) {
    const compose::Service& s = p.services.at(service);
    ServicePlan sp;
    sp.service = service;
    sp.restart = restart_policy(s);
    sp.health = health_policy(s, image);
    sp.stop_signal = stop_signal(s, image);
    if (s.stop_grace_period) sp.stop_grace_s = static_cast<int>((*s.stop_grace_period + kSecond - 1) / kSecond);
    if (s.network_mode != "host" && s.network_mode != "none")
        for (const auto& port : s.ports) {
            try {
                sp.ports.push_back(published_port(port));
            } catch (Error& e) {
                throw e.wrap("service \"" + service + "\": ports");
            }
        }
    sp.log = log_policy(s);
    sp.networks = network_attachments(p, s);
    sp.config_keys = config_keys(p, service);
    sp.config_hash = config_hash(p, service);
    return sp;
}

std::string volume_name(const compose::Project& project, const compose::Mount& m, const std::string& container) {
    if (m.source.empty()) {  // anonymous: one per container and mount point
        uint64_t h = fnv1a(m.target);
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return container + "-anon-" + std::string(buf, 12);
    }
    auto it = project.volumes.find(m.source);
    return it != project.volumes.end() ? it->second.name : m.source;
}

std::vector<std::string> volume_names(const compose::Project& project, const compose::Service& service,
                                      const std::string& container) {
    std::vector<std::string> out;
    for (const auto& m : service.volumes)
        if (m.type == "volume") out.push_back(volume_name(project, m, container));
    return out;
}

}  // namespace berth::plan
