#include "notify/journal.h"
#include "notify/notify.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

using namespace berth;
using namespace berth::notify;

TEST_CASE("journal entry: docker's journald fields, the binary form for a value with a newline") {
    CHECK(Journal::entry("shop", "web", "shop-web-1", "GET / 200") ==
          "MESSAGE=GET / 200\nPRIORITY=6\nSYSLOG_IDENTIFIER=web\nCONTAINER_NAME=shop-web-1\n"
          "COMPOSE_PROJECT=shop\nCOMPOSE_SERVICE=web\n");
    std::string e = Journal::entry("p", "s", "p-s-1", "a\nb");
    CHECK(e.rfind(std::string("MESSAGE\n") + std::string("\x03\0\0\0\0\0\0\0", 8) + "a\nb\nPRIORITY=6\n", 0) == 0);
}

TEST_CASE("journal send: one datagram to the socket; false without a journal") {
    std::string name = "@berth-journal-test-" + std::to_string(::getpid());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    auto a = socket_address(name);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a->first), a->second) == 0);
    Journal j(name);
    CHECK(j.send("shop", "db", "shop-db-1", "ready"));
    char buf[512];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == Journal::entry("shop", "db", "shop-db-1", "ready"));
    Journal none("@berth-journal-test-nobody-" + std::to_string(::getpid()));
    CHECK_FALSE(none.send("shop", "db", "shop-db-1", "lost"));
}
