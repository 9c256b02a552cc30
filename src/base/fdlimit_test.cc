#include "base/fdlimit.h"

#include <doctest/doctest.h>

TEST_CASE("the fd limit is raised to the hard one, the one before kept for children") {
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    CHECK_FALSE(berth::original_fd_limit());
    berth::raise_fd_limit();
    berth::raise_fd_limit();  // idempotent: the first limit stays the original
    rlimit now{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
    CHECK(now.rlim_cur == before.rlim_max);
    REQUIRE(berth::original_fd_limit());
    CHECK(berth::original_fd_limit()->rlim_cur == before.rlim_cur);
    CHECK(berth::original_fd_limit()->rlim_max == before.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &before);
}
