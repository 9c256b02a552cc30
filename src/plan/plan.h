// plan: what `up` must do for a project, decided before anything starts.
//
// From the typed model it derives the containers to run (one per replica,
// named as compose names them), each service's configuration hash (a change
// means the service's containers are recreated on the next `up`), and the
// dependency graph: which services may start once which others meet their
// condition, and the reverse order for stopping. Pure logic: no kernel call.
#pragma once

#include "compose/model.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace berth::plan {

struct ContainerPlan {
    std::string service;
    int index = 1;     // replica number, from 1
    std::string name;  // container_name, or <project>-<service>-<index>
};

// The replicas a service runs: scale, then deploy.replicas, else 1.
int replicas(const compose::Service& s);

// Containers of every active service, in service-name then index order.
// `scale` overrides replicas per service (`up --scale web=3`).
std::vector<ContainerPlan> containers(const compose::Project& p,
                                      const std::map<std::string, int>& scale = {});

// sha256 (hex) of the service's canonical form plus what it uses of the
// project (its networks' and volumes' definitions). Stable across runs.
std::string config_hash(const compose::Project& p, const std::string& service);

// The same configuration key by key (top-level service keys, "network NAME", "volume NAME") → a
// short hash of each: what the diff names when a container is recreated.
std::map<std::string, std::string> config_keys(const compose::Project& p, const std::string& service);

// Services in an order where every dependency comes before its dependents
// (ties by name). Throws berth::Error naming the cycle when there is one.
std::vector<std::string> start_order(const compose::Project& p);

// `services` plus everything they depend on, transitively (for `up web`).
std::set<std::string> with_dependencies(const compose::Project& p, const std::vector<std::string>& services);

// Services that depend on `service` (directly), for stop order and `restart: true`.
std::vector<std::string> dependents(const compose::Project& p, const std::string& service);

}  // namespace berth::plan
