// Config instructions: how ENV, CMD, LABEL, … change the image config, as docker writes it.
#include "base/error.h"
#include "build/builder_internal.h"

#include <algorithm>

namespace berth::build::detail {
namespace {

using json = nlohmann::json;

json& cfg(ImageState& st) {
    json& c = st.config["config"];
    if (!c.is_object()) c = json::object();
    return c;
}

std::vector<std::string> default_shell() { return {"/bin/sh", "-c"}; }

void set_env(json& c, const std::string& k, const std::string& v) {
    json& env = c["Env"];
    if (!env.is_array()) env = json::array();
    std::string kv = k + "=" + v;
    for (auto& e : env)
        if (e.is_string() && e.get<std::string>().rfind(k + "=", 0) == 0) {
            e = kv;
            return;
        }
    env.push_back(kv);
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string pairs_text(const PairsData& d) {
    std::string out;
    for (const auto& kv : d.pairs) out += (out.empty() ? "" : " ") + kv.key + "=" + kv.value;
    return out;
}

std::vector<std::string> expose_ports(const std::vector<std::string>& words) {
    std::vector<std::string> out;
    for (const auto& w : words) {
        std::string num = w, proto = "tcp";
        if (auto s = w.find('/'); s != std::string::npos) num = w.substr(0, s), proto = w.substr(s + 1);
        std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
        auto dash = num.find('-');
        if (dash == std::string::npos) {
            out.push_back(num + "/" + proto);
            continue;
        }
        for (unsigned long p = std::stoul(num.substr(0, dash)); p <= std::stoul(num.substr(dash + 1)); ++p)
            out.push_back(std::to_string(p) + "/" + proto);
    }
    return out;
}

}  // namespace

bool is_config_step(Kind k) {
    return k != Kind::Run && k != Kind::Copy && k != Kind::Add && k != Kind::Workdir;
}

std::vector<std::string> command_argv(const CommandLine& cmd, const json& config) {
    if (cmd.json) return cmd.args;
    std::vector<std::string> argv = default_shell();
    const json& c = config.value("config", json::object());
    if (c.contains("Shell") && c["Shell"].is_array() && !c["Shell"].empty()) argv = c["Shell"].get<std::vector<std::string>>();
    argv.push_back(cmd.args.empty() ? std::string() : cmd.args.front());
    return argv;
}

void apply_config(ImageState& st, const Step& step) {
    const Instruction& in = step.inst;
    json& c = cfg(st);
    switch (in.kind) {
    case Kind::Env:
        for (const auto& kv : in.as<PairsData>().pairs) set_env(c, kv.key, kv.value);
        break;
    case Kind::Label:
        for (const auto& kv : in.as<PairsData>().pairs) c["Labels"][kv.key] = kv.value;
        break;
    case Kind::Cmd:
        c["Cmd"] = command_argv(in.as<CmdData>().cmd, st.config);
        st.cmd_set = true;
        break;
    case Kind::Entrypoint:
        c["Entrypoint"] = command_argv(in.as<CmdData>().cmd, st.config);
        if (!st.cmd_set) c["Cmd"] = nullptr;  // docker: a new ENTRYPOINT drops the base image's CMD
        break;
    case Kind::Expose:
        for (const auto& p : expose_ports(in.as<WordsData>().words)) c["ExposedPorts"][p] = json::object();
        break;
    case Kind::Volume:
        for (const auto& v : in.as<WordsData>().words) c["Volumes"][v] = json::object();
        break;
    case Kind::User: c["User"] = in.as<StringData>().value; break;
    case Kind::StopSignal: c["StopSignal"] = in.as<StringData>().value; break;
    case Kind::Maintainer: st.config["author"] = in.as<StringData>().value; break;
    case Kind::Shell: c["Shell"] = in.as<ShellData>().shell; break;
    case Kind::Onbuild: {
        json& ob = c["OnBuild"];
        if (!ob.is_array()) ob = json::array();
        ob.push_back(in.as<OnbuildData>().expression);
        break;
    }
    case Kind::Healthcheck: {
        const auto& h = in.as<HealthcheckData>();
        json hc = {{"Test", h.test}};
        if (h.interval.count()) hc["Interval"] = h.interval.count();
        if (h.timeout.count()) hc["Timeout"] = h.timeout.count();
        if (h.start_period.count()) hc["StartPeriod"] = h.start_period.count();
        if (h.start_interval.count()) hc["StartInterval"] = h.start_interval.count();
        if (h.retries) hc["Retries"] = h.retries;
        c["Healthcheck"] = hc;
        break;
    }
    case Kind::Arg:
    case Kind::From: break;
    default: throw Error(std::string(kind_name(in.kind)) + " is not a config instruction");
    }
}

std::string created_by(const Step& step, const json& config) {
    const Instruction& in = step.inst;
    std::string k = kind_name(in.kind);
    switch (in.kind) {
    case Kind::Run: {
        const auto& r = in.as<RunData>();
        std::string args;
        for (const auto& a : step.args) args += (args.empty() ? "" : " ") + a.key + "=" + a.value;
        std::string prefix = step.args.empty() ? "" : "|" + std::to_string(step.args.size()) + " " + args + " ";
        std::string cmd = r.cmd.json ? json(r.cmd.args).dump() : join(command_argv(r.cmd, config));
        return "RUN " + prefix + cmd + " # buildkit";
    }
    case Kind::Copy:
    case Kind::Add: {
        const auto& d = in.as<CopyData>();
        std::string flags;
        if (!d.from.empty()) flags += "--from=" + d.from + " ";
        if (!d.chown.empty()) flags += "--chown=" + d.chown + " ";
        if (!d.chmod.empty()) flags += "--chmod=" + d.chmod + " ";
        std::vector<std::string> srcs = d.sources;
        for (const auto& h : d.inline_sources) srcs.push_back(h.name);
        return k + " " + flags + join(srcs) + " " + d.dest + " # buildkit";
    }
    case Kind::Env:
    case Kind::Label: return k + " " + pairs_text(in.as<PairsData>());
    case Kind::Cmd:
    case Kind::Entrypoint: return k + " " + json(command_argv(in.as<CmdData>().cmd, config)).dump();
    case Kind::Expose: {
        std::string m;
        for (const auto& p : expose_ports(in.as<WordsData>().words)) m += (m.empty() ? "" : " ") + p + ":{}";
        return k + " map[" + m + "]";
    }
    case Kind::Volume: return k + " " + json(in.as<WordsData>().words).dump();
    case Kind::User:
    case Kind::Workdir:
    case Kind::StopSignal:
    case Kind::Maintainer: return k + " " + in.as<StringData>().value;
    case Kind::Shell: return k + " " + json(in.as<ShellData>().shell).dump();
    case Kind::Onbuild: return k + " " + in.as<OnbuildData>().expression;
    case Kind::Healthcheck: return k + " " + json(in.as<HealthcheckData>().test).dump();
    case Kind::Arg: {
        std::string out;
        for (const auto& a : in.as<ArgData>().args) out += (out.empty() ? "" : " ") + a.name + (a.value ? "=" + *a.value : "");
        return k + " " + out;
    }
    default: return k;
    }
}

}  // namespace berth::build::detail
