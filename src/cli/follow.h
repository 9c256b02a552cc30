// cli/follow: an attached `up` on a project that is already up. The running
// supervisor applies the file (cli/up.cc); this process then streams the
// output of the services it attaches to from their log files, as logs -f
// does, until the services it watches have exited. Ctrl-C stops only the
// services `up` was asked for (their dependencies keep running); a second
// Ctrl-C kills them.
#pragma once

#include "cli/cli.h"
#include "compose/model.h"
#include "state/state.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace berth::cli {

struct FollowSpec {
    std::set<std::string> printed;        // services whose output is shown
    int64_t since_ns = 0;                 // when `up` began: an exit after it gets its line, seen late or not
    std::set<std::string> watched;        // `up` ends once none of these runs
    std::vector<std::string> stop_on_ctrl_c;  // the services `up` was asked for (empty: all)
    bool color = false;
};

struct UpFlags;

// What an attached `up` with these flags prints, watches and stops (the rules of supervisor::UpOptions).
FollowSpec follow_spec(const compose::Project& project, const UpFlags& f, bool color);

// Sizes of the project's log files now: what is there before `up` is not shown again.
std::map<std::string, long long> log_sizes(const state::ProjectState& ps);

// Streams until the watched services have exited (or Ctrl-C has stopped them); returns `up`'s exit code.
int follow_attached(const state::ProjectState& ps, const FollowSpec& spec, const std::map<std::string, long long>& from);

}  // namespace berth::cli
