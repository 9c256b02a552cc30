#include "registry/helper.h"

#include "base/fd.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth::registry {

HelperResult run_helper(const std::string& program, const std::string& verb, const std::string& input) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0) return {-1, std::strerror(errno)};
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) return {-1, std::strerror(errno)};
    UniqueFd out_r(out[0]), out_w(out[1]);
    pid_t pid = ::fork();
    if (pid < 0) return {-1, std::strerror(errno)};
    if (pid == 0) {
        ::dup2(in_r.get(), 0);
        ::dup2(out_w.get(), 1);
        ::execlp(program.c_str(), program.c_str(), verb.c_str(), static_cast<char*>(nullptr));
        const char msg[] = "cannot run the credential helper\n";
        [[maybe_unused]] auto n = ::write(1, msg, sizeof msg - 1);
        ::_exit(127);
    }
    in_r.reset();
    out_w.reset();
    auto old = std::signal(SIGPIPE, SIG_IGN);
    write_all(in_w.get(), input);
    in_w.reset();
    std::signal(SIGPIPE, old);
    HelperResult r;
    r.output = read_all(out_r.get(), 1 << 20);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

}  // namespace berth::registry
