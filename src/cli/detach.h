// cli/detach: `up -d`'s supervisor, a process of its own: the project's
// keeper (keeper/keeper.h) spawns it, running this binary again with the same
// command line and BERTH_SUPERVISOR_FD, the pipe it reports its progress on.
#pragma once

#include "compose/model.h"
#include "supervisor/supervisor.h"

#include <string>
#include <vector>
#include <sys/types.h>

namespace berth::cli {

// The detached supervisor's stdio: /dev/null in, stdout and stderr to
// $BERTH_RUNTIME_DIR/PROJECT.supervisor.log; of its fds only `keep` stays.
int detach_stdio(const std::string& project, int keep);
// The detached supervisor's body, in the process the keeper spawned; never returns.
[[noreturn]] void supervise_detached(compose::Project project, supervisor::UpOptions o, int report);
// `up -d` with no supervisor: has the project's keeper (started unless it runs) spawn one reporting on
// `report` (attached: on this process's stdout and stderr, cli/kept.h); returns its pid.
// `extra_env` ("NAME=VALUE") is added to this process's environment for it.
pid_t spawn_supervisor(const compose::Project& project, int report, bool attached = false,
                       const std::vector<std::string>& extra_env = {});

}  // namespace berth::cli
