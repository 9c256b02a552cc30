#include "keeper/wire.h"

#include "base/error.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace berth::keeper {
namespace {

sockaddr_un address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw Error("socket path too long: " + path, "use a shorter BERTH_RUNTIME_DIR");
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

}  // namespace

const std::string& Message::kind() const { return at(0); }

const std::string& Message::at(size_t i) const {
    static const std::string empty;
    return i < fields.size() ? fields[i] : empty;
}

bool send_message(int sock, const std::vector<std::string>& fields, const std::vector<int>& fds) {
    std::string data;
    for (const auto& f : fields) data.append(f).push_back('\0');
    if (data.size() > kMaxMessage) throw Error("keeper message too long (" + std::to_string(data.size()) + " bytes)");
    if (fds.size() > kMaxFds) throw Error("keeper message with too many descriptors");
    iovec iov{data.data(), data.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
    if (!fds.empty()) {
        m.msg_control = control;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        if (::sendmsg(sock, &m, MSG_NOSIGNAL) >= 0) return true;
        if (errno == EINTR) continue;
        if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return false;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking socket, full: wait for room
            pollfd p{sock, POLLOUT, 0};
            int r = ::poll(&p, 1, kSendWaitMs);
            if (r > 0 || (r < 0 && errno == EINTR)) continue;
            if (r == 0) return false;  // the peer reads nothing: taken as gone
            throw Error::sys(errno, "wait on the keeper socket");
        }
        throw Error::sys(errno, "send to the keeper socket");
    }
}

std::optional<Message> recv_message(int sock, bool* would_block) {
    if (would_block) *would_block = false;
    static thread_local std::string buf;  // one allocation for the process's life
    buf.resize(kMaxMessage);
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    Message msg;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            msg.fds.emplace_back(fd);
        }
    }
    if (n < 0) {
        if (errno == EAGAIN && would_block) {
            *would_block = true;
            return std::nullopt;
        }
        if (errno == ECONNRESET || errno == ENOTCONN) return std::nullopt;
        throw Error::sys(errno, "receive from the keeper socket");
    }
    if (n == 0) return std::nullopt;
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i)
        if (buf[i] == '\0') {
            msg.fields.emplace_back(buf.data() + start, i - start);
            start = i + 1;
        }
    if (start < static_cast<size_t>(n)) msg.fields.emplace_back(buf.data() + start, static_cast<size_t>(n) - start);
    return msg;
}

UniqueFd listen_at(const std::string& path) {
    sockaddr_un a = address(path);
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));  // accept() never blocks
    if (!s) throw Error::sys(errno, "socket");
    ::unlink(path.c_str());
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) throw Error::sys(errno, "bind " + path);
    if (::listen(s.get(), 16) < 0) throw Error::sys(errno, "listen on " + path);
    return s;
}

UniqueFd connect_to(const std::string& path) {
    sockaddr_un a = address(path);
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!s) throw Error::sys(errno, "socket");
    int r;
    do r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a); while (r < 0 && errno == EINTR);
    if (r < 0) return {};
    return s;
}

}  // namespace berth::keeper
