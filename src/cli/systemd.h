// `berth up` under systemd: wires a notify::Notifier (Type=notify: READY=1, STATUS=,
// STOPPING=1, WATCHDOG=1, EXTEND_TIMEOUT_USEC=) and a notify::Journal (containers' lines as
// journal entries) to the supervisor's hooks.
#pragma once

#include "compose/model.h"
#include "notify/journal.h"
#include "notify/notify.h"
#include "supervisor/supervisor.h"

#include <memory>

namespace berth::cli {

// Null unless $NOTIFY_SOCKET is set (notify::Notifier::from_environment(), taken before the
// images are built or pulled, whose progress it reports with preparing()). Otherwise `o`
// waits for health checks before it is ready (READY=1 once every service runs and is healthy,
// or has completed), reports each container change as STATUS=, STOPPING=1 when the stack
// stops, and pings the watchdog from the loop. The returned notifier must outlive the
// supervisor run with `o`; `o.on_ready` must be set before, and is kept (chained).
std::unique_ptr<notify::Notifier> notify_systemd(supervisor::UpOptions& o, std::unique_ptr<notify::Notifier> n);

// Containers' output lines to the journal, as entries with CONTAINER_NAME=, SYSLOG_IDENTIFIER=
// (the service) and COMPOSE_PROJECT=: every line when `o` is attached and stdout is the
// journal's stream (a unit's output; then not printed), and, attached or not, the lines of
// the services with `logging: driver: journald` (printed too when attached). Null when neither applies; else it must outlive the run.
// $BERTH_JOURNAL_SOCKET replaces /run/systemd/journal/socket (tests).
std::unique_ptr<notify::Journal> journal_lines(supervisor::UpOptions& o, const compose::Project& project);

}  // namespace berth::cli
