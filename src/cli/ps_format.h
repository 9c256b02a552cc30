// ps_format: a container as `docker compose ps --format json` shows it (Name,
// Service, Project, State, Status, Health, ExitCode, Image, Command, CreatedAt,
// Labels, Publishers), beside berth's own record fields.
#pragma once

#include "compose/model.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace berth::cli {

// Adds docker compose's fields to `j` (berth's record as JSON). `status` is the
// STATUS column's text.
void add_docker_ps_fields(nlohmann::json& j, const state::ContainerRecord& r, const compose::Project& project,
                          const std::string& status);

// The PORTS of a container as docker shows them: its published ports, then the
// ports its service only exposes (`expose:`, "80/tcp") that none publishes.
std::vector<std::string> shown_ports(const state::ContainerRecord& r, const compose::Project& project);

// "0.0.0.0:8080->80/tcp" as docker's Publisher {URL, TargetPort, PublishedPort, Protocol};
// a port that is only exposed ("80/tcp") has PublishedPort 0 and no URL.
nlohmann::json publisher(const std::string& port);

}  // namespace berth::cli
