#include "compose/serialize.h"

#include "compose/service_fields.h"
#include "compose/tree.h"
#include "compose/units.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

namespace berth::compose {
namespace {

using J = nlohmann::ordered_json;

J str_map(const std::map<std::string, std::string>& m) {
    J out = J::object();
    for (auto& [k, v] : m) out[k] = v;
    return out;
}

}  // namespace

J service_to_json(const Service& s) {
    J j = J::object();
    for (const auto& field : service_fields())
        if (field.write) field.write(s, j);
    for (auto& [k, v] : s.extensions_json) j[k] = v.empty() ? J(nullptr) : J::parse(v);
    return j;
}

J to_json(const Project& p) {
    J j = J::object();
    j["name"] = p.name;
    J services = J::object();
    for (auto& [name, s] : p.services) services[name] = service_to_json(s);
    j["services"] = services;
    if (!p.networks.empty()) {
        J nets = J::object();
        for (auto& [key, n] : p.networks) {
            J x = J::object();
            x["name"] = n.name;
            if (!n.driver.empty()) x["driver"] = n.driver;
            if (!n.driver_opts.empty()) x["driver_opts"] = str_map(n.driver_opts);
            if (!n.ipam_driver.empty() || !n.ipam_config.empty()) {
                J ipam = J::object();
                if (!n.ipam_driver.empty()) ipam["driver"] = n.ipam_driver;
                if (!n.ipam_config.empty()) {
                    J cfg = J::array();
                    for (auto& c : n.ipam_config) {
                        J cj = J::object();
                        if (!c.subnet.empty()) cj["subnet"] = c.subnet;
                        if (!c.ip_range.empty()) cj["ip_range"] = c.ip_range;
                        if (!c.gateway.empty()) cj["gateway"] = c.gateway;
                        cfg.push_back(cj);
                    }
                    ipam["config"] = cfg;
                }
                x["ipam"] = ipam;
            }
            if (n.external) x["external"] = true;
            if (n.internal) x["internal"] = true;
            if (n.attachable) x["attachable"] = true;
            if (!n.labels.empty()) x["labels"] = str_map(n.labels);
            if (n.enable_ipv6) x["enable_ipv6"] = *n.enable_ipv6;
            nets[key] = x;
        }
        j["networks"] = nets;
    }
    if (!p.volumes.empty()) {
        J vols = J::object();
        for (auto& [key, v] : p.volumes) {
            J x = J::object();
            x["name"] = v.name;
            if (!v.driver.empty()) x["driver"] = v.driver;
            if (!v.driver_opts.empty()) x["driver_opts"] = str_map(v.driver_opts);
            if (v.external) x["external"] = true;
            if (!v.labels.empty()) x["labels"] = str_map(v.labels);
            vols[key] = x;
        }
        j["volumes"] = vols;
    }
    auto files = [](const std::map<std::string, FileObject>& m) {
        J out = J::object();
        for (auto& [key, f] : m) {
            J x = J::object();
            x["name"] = f.name;
            if (!f.file.empty()) x["file"] = f.file;
            if (!f.environment.empty()) x["environment"] = f.environment;
            if (!f.content.empty()) x["content"] = f.content;
            if (f.external) x["external"] = true;
            out[key] = x;
        }
        return out;
    };
    if (!p.secrets.empty()) j["secrets"] = files(p.secrets);
    if (!p.configs.empty()) j["configs"] = files(p.configs);
    return j;
}

namespace {

bool needs_quotes(const std::string& s) {
    if (s.empty()) return true;
    Node probe = Node::scalar(s, true);
    if (probe.scalar_type() != ScalarType::String) return true;
    // YAML 1.1 readers take these for booleans.
    static const std::set<std::string> yaml11 = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                                 "on", "On", "ON", "off", "Off", "OFF"};
    return yaml11.count(s) > 0;
}

void emit(YAML::Emitter& out, const J& v) {
    switch (v.type()) {
    case J::value_t::object:
        if (v.empty()) {
            out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
            return;
        }
        out << YAML::BeginMap;
        for (auto it = v.begin(); it != v.end(); ++it) {
            out << YAML::Key;
            if (needs_quotes(it.key())) out << YAML::DoubleQuoted;
            out << it.key() << YAML::Value;
            emit(out, it.value());
        }
        out << YAML::EndMap;
        return;
    case J::value_t::array:
        if (v.empty()) {
            out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            return;
        }
        out << YAML::BeginSeq;
        for (const auto& item : v) emit(out, item);
        out << YAML::EndSeq;
        return;
    case J::value_t::string: {
        const std::string& s = v.get_ref<const std::string&>();
        if (s.find('\n') != std::string::npos) out << YAML::Literal << s;
        else if (needs_quotes(s)) out << YAML::DoubleQuoted << s;
        else out << s;
        return;
    }
    case J::value_t::boolean: out << (v.get<bool>() ? "true" : "false"); return;
    case J::value_t::number_integer: out << v.get<int64_t>(); return;
    case J::value_t::number_unsigned: out << v.get<uint64_t>(); return;
    case J::value_t::number_float: {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v.get<double>());
        std::string s(buf, r.ptr);
        out << s;
        return;
    }
    case J::value_t::null: out << YAML::Null; return;
    default: out << YAML::Null; return;
    }
}

}  // namespace

std::string to_yaml(const J& value) {
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetSeqFormat(YAML::Block);
    out.SetMapFormat(YAML::Block);
    out.SetNullFormat(YAML::LowerNull);
    emit(out, value);
    std::string s = out.c_str();
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
}

}  // namespace berth::compose
