// journal: containers' output lines to systemd's journal through its native protocol (a
// datagram of KEY=value fields to /run/systemd/journal/socket), with the fields docker's
// journald log driver sets: CONTAINER_NAME=, SYSLOG_IDENTIFIER= (the service), and
// COMPOSE_PROJECT=/COMPOSE_SERVICE=. journald adds the sender's unit (_SYSTEMD_UNIT), so
// `journalctl -u berth@shop SYSLOG_IDENTIFIER=web` shows one service. Owns its socket.
#pragma once

#include "base/fd.h"

#include <string>
#include <string_view>

namespace berth::notify {

inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

class Journal {
public:
    explicit Journal(std::string socket = kJournalSocket);
    // One entry (PRIORITY 6, info). False when the journal does not take it (no journald, or
    // it is busy): the caller prints the line instead.
    bool send(const std::string& project, const std::string& service, const std::string& container,
              std::string_view line);

    // The datagram for one entry (exposed for tests): KEY=value lines, a value holding a
    // newline in the protocol's binary form (KEY\n, 64-bit little-endian length, value\n).
    static std::string entry(const std::string& project, const std::string& service, const std::string& container,
                             std::string_view line);

private:
    UniqueFd fd_;
    std::string socket_;
};

}  // namespace berth::notify
