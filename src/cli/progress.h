// The progress display of `up` and `down`, on stderr as docker compose's: on a
// terminal one live line per container, redrawn as its state changes (as compose
// shows it); otherwise a plain line per meaningful change.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace berth::cli {

class Progress {
public:
    Progress(bool tty, bool color) : tty_(tty), color_(color) {}

    // action: a container state ("starting", "running", "exited", …) or
    // "health_status: healthy".
    void update(const std::string& name, const std::string& action) {
        std::string status = label(action);
        if (status.empty()) return;
        size_t i = 0;
        while (i < lines_.size() && lines_[i].first != name) ++i;
        if (i == lines_.size()) lines_.emplace_back(name, "");
        if (lines_[i].second == status) return;
        lines_[i].second = status;
        if (!tty_) {
            std::fprintf(stderr, "Container %s  %s\n", name.c_str(), status.c_str());
            std::fflush(stderr);
            return;
        }
        redraw();
    }

private:
    static std::string label(const std::string& a) {
        if (a == "created") return "Created";
        if (a == "starting") return "Starting";
        if (a == "running") return "Started";
        if (a == "health_status: starting") return "Waiting";
        if (a == "health_status: healthy") return "Healthy";
        if (a == "health_status: unhealthy") return "Unhealthy";
        if (a == "stopping") return "Stopping";
        if (a == "exited") return "Exited";
        if (a == "restarting") return "Restarting";
        if (a == "removed") return "Removed";
        return {};
    }
    void redraw() {
        if (drawn_ > 0) std::fprintf(stderr, "\x1b[%zuA", drawn_);
        for (const auto& [name, status] : lines_) {
            bool done = status == "Started" || status == "Healthy" || status == "Exited" || status == "Removed";
            const char* mark = done ? (color_ ? "\x1b[32m✔\x1b[0m" : "✔") : (color_ ? "\x1b[33m⠿\x1b[0m" : "⠿");
            std::fprintf(stderr, "\x1b[2K %s Container %-32s %s\n", mark, name.c_str(), status.c_str());
        }
        drawn_ = lines_.size();
        std::fflush(stderr);
    }

    bool tty_, color_;
    std::vector<std::pair<std::string, std::string>> lines_;
    size_t drawn_ = 0;
};

}  // namespace berth::cli
