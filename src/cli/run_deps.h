// What `berth run` starts before its one-off: the service's dependencies,
// brought up as `up -d` would bring them (through the supervisor), then
// waited for until their conditions hold (started, healthy, completed).
#pragma once

#include "cli/cli.h"
#include "compose/model.h"

namespace berth::cli {

// Throws berth::Error when a required dependency cannot become ready (unhealthy, exited, no
// healthcheck for service_healthy); an optional one only warns.
void start_dependencies(const GlobalOptions& g, const compose::Project& project, const compose::Service& svc);

}  // namespace berth::cli
