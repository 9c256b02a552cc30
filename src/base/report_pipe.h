// ReportPipe — owns the write end of a pipe a process reports on (progress
// lines, then one last word such as OK or ERR) and closes it exactly once, on
// finish() or at its end. A write after finish() is dropped, never sent to a
// closed fd, nor to whatever file later reused that fd's number.
#pragma once

#include "base/fd.h"

#include <string_view>

namespace berth {

class ReportPipe {
public:
    explicit ReportPipe(UniqueFd fd) : fd_(std::move(fd)) {}

    // Writes `data` (all of it, unless the reader is gone); false once finished.
    bool write(std::string_view data);
    // Writes `last` and closes the pipe (the reader sees its end); false, writing
    // nothing, when it was finished already.
    bool finish(std::string_view last);
    bool finished() const { return !fd_; }

private:
    UniqueFd fd_;
};

}  // namespace berth
