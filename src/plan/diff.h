// plan/diff: what `up` does to the containers that exist, decided before it
// does anything: create the missing ones, recreate those whose configuration
// changed (saying which key), start the stopped ones, keep those running, and
// remove orphans when asked. `up`, `up` while up (the supervisor's apply),
// `up --dry-run` and `down --remove-orphans` read it. Pure logic.
#pragma once

#include "compose/model.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace berth::plan {

// A container that exists, as its state record says.
struct Current {
    std::string name, service;
    std::string config_hash;
    std::map<std::string, std::string> config_keys;  // empty in records of an older berth
    bool live = false;  // running, or a restart is due
};

enum class Action { Create, Recreate, Start, Keep, Remove };

struct Change {
    Action action = Action::Create;
    std::string container, service;
    int index = 1;
    std::string reason;  // Recreate: "image changed", "environment, ports changed", "forced"; Remove: "orphan"
    // Recreate: it joins the namespaces of a service recreated too (`network_mode: service:X`, `ipc`,
    // `pid`), so it starts again only once that one runs again.
    bool after_dependencies = false;
};

struct DiffOptions {
    std::set<std::string> services;    // the services acted on; the others' containers are left out
    std::map<std::string, int> scale;  // --scale
    // --force-recreate applies to the services named (all acted on when none is); their
    // dependencies are recreated only when changed, or always with --always-recreate-deps.
    std::set<std::string> named;
    bool force_recreate = false;
    bool force_deps = false;  // --always-recreate-deps
    bool no_recreate = false;
    bool remove_orphans = false;
};

// One change per container of the acted-on services (in plan::containers order), then the
// orphans to remove. A container that shares the namespaces of a recreated service
// (`network_mode: service:X`, `ipc:`, `pid:`) is recreated with it, as docker compose does. Replicas beyond the scale and orphans not removed are left out: `up` leaves them.
std::vector<Change> diff(const std::vector<Current>& current, const compose::Project& p, const DiffOptions& o);

// The keys whose hashes differ ("image", "network front"); every key of either side.
std::vector<std::string> changed_keys(const std::map<std::string, std::string>& before,
                                      const std::map<std::string, std::string>& after);

const char* action_name(Action a);  // "Create", "Recreate", "Start", "Running", "Remove"

// docker compose's dry-run line: "Container shop-web-1  Recreate (image changed)".
std::string describe(const Change& c);

}  // namespace berth::plan
