// The terminal side of `berth run` and `berth exec` (see attach.h).
#include "runtime/attach.h"

#include "base/error.h"
#include "base/fd.h"
#include "runtime/container_internal.h"

#include <cerrno>
#include <csignal>
#include <memory>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

namespace berth::runtime {

// The terminal in raw mode for the life of a tty session.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (tcgetattr(fd, &saved_) == 0) {
            termios raw = saved_;
            cfmakeraw(&raw);
            active_ = tcsetattr(fd, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active_) tcsetattr(fd_, TCSANOW, &saved_);
    }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

namespace {

sigset_t forwarded_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
    return set;
}

}  // namespace

void block_forwarded_signals() {
    sigset_t set = forwarded_signals();
    sigprocmask(SIG_BLOCK, &set, nullptr);
}

UniqueFd open_pty(UniqueFd& slave) { return detail::open_pty(slave); }

namespace {

void copy_size(int from, int to) {
    winsize ws{};
    if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

}  // namespace

// Waits for a process (its pidfd), forwarding signals and (with a pty master) the terminal.
ExitStatus attach_until_exit(int pidfd, int master, const std::function<void(int)>& kill,
                                      const std::function<ExitStatus()>& wait) {
    sigset_t set = forwarded_signals();
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    UniqueFd sig(sfd);
    std::unique_ptr<RawTerminal> raw;
    if (master >= 0) {
        if (isatty(0)) {
            raw = std::make_unique<RawTerminal>(0);
            copy_size(0, master);
        }
    }
    bool stdin_open = master >= 0;
    bool master_open = master >= 0;
    char buf[1 << 16];
    for (;;) {
        pollfd fds[4];
        int n = 0;
        fds[n++] = {pidfd, POLLIN, 0};
        fds[n++] = {sig.get(), POLLIN, 0};
        int master_at = -1, stdin_at = -1;
        if (master_open) master_at = n, fds[n++] = {master, POLLIN, 0};
        if (stdin_open) stdin_at = n, fds[n++] = {0, POLLIN, 0};
        if (poll(fds, static_cast<nfds_t>(n), -1) < 0) {
            if (errno == EINTR) continue;
            throw Error::sys(errno, "poll");
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si{};
            while (read(sig.get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                    if (master >= 0) copy_size(0, master);
                } else {
                    kill(static_cast<int>(si.ssi_signo));
                }
            }
        }
        if (master_at >= 0 && (fds[master_at].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(master, buf, sizeof buf);
            if (r > 0) {
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(1, buf + off, static_cast<size_t>(r - off));
                    if (w <= 0) break;
                    off += w;
                }
            } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                master_open = false;
            }
        }
        if (stdin_at >= 0 && (fds[stdin_at].revents & (POLLIN | POLLHUP))) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r > 0) {
                ssize_t w = write(master, buf, static_cast<size_t>(r));
                (void)w;
            } else {
                stdin_open = false;
            }
        }
        if ((fds[0].revents & POLLIN) && !master_open) return wait();
        if ((fds[0].revents & POLLIN) && master_open) {
            // Drain what the pty still holds, then finish.
            for (;;) {
                pollfd p{master, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0) break;
                ssize_t r = read(master, buf, sizeof buf);
                if (r <= 0) break;
                ssize_t w = write(1, buf, static_cast<size_t>(r));
                (void)w;
            }
            return wait();
        }
    }
}

}  // namespace berth::runtime
