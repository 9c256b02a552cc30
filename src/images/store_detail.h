// Helpers the store's files share (store.cc, ingest.cc), and the registry client reads blobs with.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace berth::images::detail {

std::string read_all(const std::string& path);
nlohmann::json read_json(const std::string& path, const std::string& what);
void write_atomic(const std::string& path, const std::string& data);
std::string hex_of(const std::string& digest);  // checks "sha256:<64 hex>"

}  // namespace berth::images::detail
