// keeper/wire: messages between the keeper and its clients on a SOCK_SEQPACKET
// unix socket. One message is NUL-separated text fields ("kind", then its
// arguments) with up to kMaxFds descriptors attached (SCM_RIGHTS); the socket
// keeps message boundaries, so there is no framing to get wrong.
#pragma once

#include "base/fd.h"

#include <optional>
#include <string>
#include <vector>

namespace berth::keeper {

constexpr size_t kMaxFds = 4;
constexpr size_t kMaxMessage = 256 * 1024;

struct Message {
    std::vector<std::string> fields;
    std::vector<UniqueFd> fds;  // received close-on-exec
    const std::string& kind() const;
    const std::string& at(size_t i) const;  // "" past the end
};

// How long a send on a non-blocking socket (the keeper's clients, the
// supervisor's end once its loop polls it) waits for room when the peer reads
// nothing, before that peer is taken as gone.
constexpr int kSendWaitMs = 5000;

// Sends one message; false when the peer is gone (or read nothing for
// kSendWaitMs while the socket was full). Throws berth::Error otherwise.
bool send_message(int sock, const std::vector<std::string>& fields, const std::vector<int>& fds = {});
// Receives one message; nullopt when the peer is gone (or, on a non-blocking
// socket, when nothing is there: `would_block` then says so).
std::optional<Message> recv_message(int sock, bool* would_block = nullptr);

// A listening socket at `path` (a stale file there is replaced).
UniqueFd listen_at(const std::string& path);
// A connection to `path`; an empty UniqueFd when nothing listens there.
UniqueFd connect_to(const std::string& path);

}  // namespace berth::keeper
