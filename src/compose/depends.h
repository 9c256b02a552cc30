// The depends_on graph of a project's active services, walked once: the order
// they start in (dependencies first, otherwise by name) or the first cycle.
// The normalizer's cycle check uses it; plan::start_order computes the same
// walk and can call this instead.
#pragma once

#include "compose/model.h"

#include <string>
#include <vector>

namespace berth::compose {

struct DependencyWalk {
    std::vector<std::string> order;  // every service after its dependencies; partial when there is a cycle
    std::vector<std::string> cycle;  // "a", "b", "a": empty when there is none
};

// Dependencies on services that are not active (optional ones) are skipped.
DependencyWalk walk_dependencies(const Project& p);


// Naming a service on the command line enables it, as compose does: the named
// services and, transitively, what they depend on with `required: true` move
// from disabled_services (an inactive profile) to services. Names the project
// does not know at all are left to the caller to refuse.
void activate_services(Project& p, const std::vector<std::string>& names);

}  // namespace berth::compose
