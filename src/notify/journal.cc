#include "notify/journal.h"

#include "notify/notify.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace berth::notify {
namespace {

void field(std::string& out, std::string_view key, std::string_view value) {
    out += key;
    if (value.find('\n') == std::string_view::npos) {
        out += '=';
        out += value;
    } else {
        out += '\n';
        uint64_t n = value.size();
        for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
        out += value;
    }
    out += '\n';
}

}  // namespace

std::string Journal::entry(const std::string& project, const std::string& service, const std::string& container,
                           std::string_view line) {
    std::string d;
    field(d, "MESSAGE", line);
    field(d, "PRIORITY", "6");
    field(d, "SYSLOG_IDENTIFIER", service);
    field(d, "CONTAINER_NAME", container);
    field(d, "COMPOSE_PROJECT", project);
    field(d, "COMPOSE_SERVICE", service);
    return d;
}

Journal::Journal(std::string socket)
    : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)), socket_(std::move(socket)) {}

bool Journal::send(const std::string& project, const std::string& service, const std::string& container,
                   std::string_view line) {
    auto addr = socket_address(socket_);
    if (!fd_ || !addr) return false;
    std::string d = entry(project, service, container, line);
    ssize_t n;
    do {
        n = ::sendto(fd_.get(), d.data(), d.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr->first),
                     addr->second);
    } while (n < 0 && errno == EINTR);
    return n >= 0;
}

}  // namespace berth::notify
