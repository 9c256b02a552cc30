#include "base/report_pipe.h"

namespace berth {

bool ReportPipe::write(std::string_view data) {
    if (!fd_) return false;
    write_all(fd_.get(), data);
    return true;
}

bool ReportPipe::finish(std::string_view last) {
    if (!write(last)) return false;
    fd_.reset();
    return true;
}

}  // namespace berth
