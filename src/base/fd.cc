#include "base/fd.h"

#include "base/error.h"

#include <cerrno>

namespace berth {

Pipe make_pipe(int flags) {
    int fds[2];
    if (::pipe2(fds, flags) < 0) throw Error::sys(errno, "pipe");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace berth
