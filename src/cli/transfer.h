// The progress display of pull and push: on a terminal one live line per image
// and per blob (status, a bar, bytes and rate while it moves), redrawn at most
// ten times a second; otherwise the plain status lines, nothing for bytes.
#pragma once

#include "registry/progress.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace berth::cli {

class TransferDisplay {
public:
    TransferDisplay(bool tty, bool color, std::FILE* out = stderr) : tty_(tty), color_(color), out_(out) {}
    ~TransferDisplay();  // the last state drawn
    TransferDisplay(const TransferDisplay&) = delete;
    TransferDisplay& operator=(const TransferDisplay&) = delete;

    void show(const registry::ProgressEvent& e);  // from any thread

    // A sink for PullOptions/PushOptions::progress: on standard error, live on a terminal;
    // null with quiet.
    static registry::ProgressSink to_stderr(bool quiet);

private:
    using Clock = std::chrono::steady_clock;
    struct Row {
        std::string image, blob, status;
        int64_t done = -1, total = 0;
        bool finished = false;
        Clock::time_point started;
    };
    Row& row(const registry::ProgressEvent& e);
    void redraw();
    std::string render(const Row& r) const;

    bool tty_, color_;
    std::FILE* out_;
    std::mutex mu_;
    std::vector<Row> rows_;
    size_t drawn_ = 0;
    Clock::time_point last_draw_{};
};

}  // namespace berth::cli
