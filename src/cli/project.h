// Loads the compose project named by the global options (-f, -p,
// --project-directory, --env-file, --profile), for every command that needs one.
//
// Commands that act on what is already there (ps, logs, stop, down, exec…) also
// work by project name alone, as docker compose's do: `berth -p NAME ps` away
// from the compose file loads the files the project was brought up with
// (recorded in its state), or, when those are gone too, a model made of its
// state (its containers' services, its labelled volumes). Commands that create
// (up, run, create, config) still need the file.
#pragma once

#include "cli/cli.h"
#include "compose/model.h"

namespace berth::cli {

compose::Project load_project(const GlobalOptions& g);

// The by-name fallback alone: nullopt when the project has no state.
std::optional<compose::Project> project_from_state(const GlobalOptions& g);

}  // namespace berth::cli
