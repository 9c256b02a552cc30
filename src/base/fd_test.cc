#include "base/fd.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

using namespace berth;

namespace {
bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }
}  // namespace

TEST_CASE("make_pipe returns two owned, connected, close-on-exec ends") {
    int r = -1, w = -1;
    {
        Pipe p = make_pipe();
        r = p.read.get();
        w = p.write.get();
        REQUIRE(r >= 0);
        REQUIRE(w >= 0);
        CHECK((fcntl(r, F_GETFD) & FD_CLOEXEC) != 0);
        CHECK((fcntl(w, F_GETFD) & FD_CLOEXEC) != 0);
        CHECK(::write(w, "x", 1) == 1);
        char c = 0;
        CHECK(::read(r, &c, 1) == 1);
        CHECK(c == 'x');
    }
    // Both ends are closed when the Pipe goes out of scope.
    CHECK_FALSE(is_open(r));
    CHECK_FALSE(is_open(w));
}

TEST_CASE("make_pipe passes its flags") {
    Pipe p = make_pipe(O_CLOEXEC | O_NONBLOCK);
    CHECK((fcntl(p.read.get(), F_GETFL) & O_NONBLOCK) != 0);
    char c;
    CHECK(::read(p.read.get(), &c, 1) == -1);
    CHECK(errno == EAGAIN);
}

TEST_CASE("write_all and read_all move a whole text through a pipe, read_all bounded") {
    berth::Pipe p = berth::make_pipe();
    berth::write_all(p.write.get(), "hello, pipe");
    p.write.reset();
    CHECK(berth::read_all(p.read.get(), 5) == "hello");
    berth::Pipe q = berth::make_pipe();
    berth::write_all(q.write.get(), "whole");
    q.write.reset();
    CHECK(berth::read_all(q.read.get()) == "whole");
}
