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

}  // namespace berth::compose
