#include "base/error.h"

#include <cstring>

namespace berth {

Error::Error(std::string message, std::string hint)
    : message_(std::move(message)), hint_(std::move(hint)) {}

Error Error::sys(int err, std::string op) {
    Error e(std::move(op) + ": " + std::strerror(err));
    e.errno_ = err;
    return e;
}

Error& Error::wrap(const std::string& context) {
    message_ = context + ": " + message_;
    return *this;
}

}  // namespace berth
