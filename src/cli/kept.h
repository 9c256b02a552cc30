// cli/kept: foreground `berth up` under systemd (Type=notify: NOTIFY_SOCKET
// set) keeps its containers across the supervisor's death, as `up -d` does.
//
// DESIGN. docker compose's attached `up` dies with its CLI (the daemon keeps
// the containers); berth's attached `up` in a terminal is its own supervisor,
// and a kill -9 of it leaves containers the next `up` stops and starts again.
// A systemd unit is different: systemd restarts it (Restart=on-failure), and
// the restarted `up` must re-adopt what runs. So under systemd the unit's main
// process (this one) does not supervise: the project's keeper spawns the
// supervisor, as for `up -d`, so that the keeper is its parent and the
// containers' subreaper and holds their pipes should it die; the supervisor
// runs attached to this process's stdout and stderr (the journal) and talks
// to systemd itself (the unit has NotifyAccess=all, KillMode=process so that
// the keeper and the containers outlive a dead main process). This process
// waits for it, forwards SIGTERM and SIGINT, and ends with its exit code, or
// with 1 when it died (systemd then restarts the unit, whose new supervisor
// re-adopts the containers). A main process killed while its supervisor runs:
// the restarted unit finds the supervisor, hands it the file as `up` while up
// does, tells systemd it is ready and waits for it the same way.
#pragma once

#include "cli/cli.h"
#include "compose/model.h"
#include "supervisor/supervisor.h"

#include <functional>
#include <optional>

namespace berth::cli {

// True when foreground `up` runs as a systemd service (NOTIFY_SOCKET set).
bool kept_mode();
// The unit's main process: has the keeper spawn the supervisor (or finds it running) and waits for it.
int up_kept(const compose::Project& project, const std::function<std::optional<int>()>& apply_to_running);
// The supervisor the keeper spawned for up_kept (BERTH_SUPERVISOR_FD and BERTH_KEPT set); never returns.
[[noreturn]] void supervise_kept(compose::Project project, supervisor::UpOptions o, int report);

}  // namespace berth::cli
