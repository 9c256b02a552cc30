// One table of a service's fields. For each key: how the normalizer reads it
// into the Service, and how `config` writes it back; in compose-go's order,
// the order `docker compose config` prints. normalize_service.cc dispatches
// on it and serialize.cc's service_to_json walks it, so a key is added once.
#pragma once

#include "compose/model.h"
#include "compose/tree.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace berth::compose {

namespace detail {
class Normalizer;
}

// What a field's reader may touch while one service is read.
struct ServiceRead {
    detail::Normalizer& norm;
    Service& service;
    Project& project;  // the top-level objects read so far (configs, secrets)
};

struct ServiceField {
    std::string_view key;
    // null: accepted, read elsewhere (env_file, after environment) or ignored (extends, develop)
    void (*read)(ServiceRead& r, const Node& value, const std::string& path);
    // null: never printed
    void (*write)(const Service& s, nlohmann::ordered_json& out);
};

// Every field, in print order.
const std::vector<ServiceField>& service_fields();
// The field for `key`, or nullptr when compose has no such service key.
const ServiceField* service_field(std::string_view key);

}  // namespace berth::compose
