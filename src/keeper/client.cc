#include "keeper/client.h"

#include "base/error.h"
#include "state/state.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace berth::keeper {

std::unique_ptr<Client> Client::connect(const std::string& dir) {
    if (running_pid(dir) <= 0) return nullptr;
    UniqueFd s = connect_to(socket_path(dir));
    if (!s) return nullptr;
    return std::unique_ptr<Client>(new Client(std::move(s)));
}

void Client::send(const std::vector<std::string>& fields, const std::vector<int>& fds) {
    if (gone_) return;
    if (!send_message(sock_.get(), fields, fds)) gone_ = true;
}

std::vector<Held> Client::hello() {
    send({"hello"});
    std::vector<Held> out;
    while (!gone_) {
        auto m = recv_message(sock_.get());
        if (!m) {
            gone_ = true;
            break;
        }
        if (m->kind() == "end") break;
        if (m->kind() != "held") continue;
        Held h;
        h.name = m->at(1);
        h.pid = static_cast<pid_t>(std::atoi(m->at(2).c_str()));
        const std::string& mask = m->at(3);
        size_t next = 0;
        UniqueFd* ends[2] = {&h.out, &h.err};
        for (size_t s = 0; s < 2 && s < mask.size(); ++s)
            if (mask[s] == '1' && next < m->fds.size()) *ends[s] = std::move(m->fds[next++]);
        if (m->fields.size() >= 6)
            h.exit = Exit{h.pid, std::atoi(m->at(4).c_str()), std::atoi(m->at(5).c_str())};
        out.push_back(std::move(h));
    }
    return out;
}

void Client::add(const std::string& name, pid_t pid, const std::string& log_path, const logs::LogOptions& lo, int out,
                 int err) {
    std::vector<int> fds;
    std::string mask;
    for (int fd : {out, err}) {
        mask += fd >= 0 ? '1' : '0';
        if (fd >= 0) fds.push_back(fd);
    }
    send({"add", name, std::to_string(pid), log_path, std::to_string(lo.max_size), std::to_string(lo.max_file), mask}, fds);
}

void Client::del(const std::string& name) { send({"del", name}); }
void Client::drain(const std::string& name) { send({"drain", name}); }
void Client::bye() { send({"bye"}); }
void Client::quit() { send({"quit"}); }

pid_t Client::spawn(const std::string& exe, const std::string& cwd, const std::vector<std::string>& argv,
                    const std::vector<std::string>& env, int report, int out, int err) {
    std::vector<std::string> f = {"spawn", exe, cwd, std::to_string(argv.size())};
    f.insert(f.end(), argv.begin(), argv.end());
    f.insert(f.end(), env.begin(), env.end());
    if (out >= 0 && err >= 0) send(f, {report, out, err});
    else send(f, {report});
    auto m = gone_ ? std::nullopt : recv_message(sock_.get());
    if (!m || m->kind() != "spawned") throw Error("the project's keeper did not start the supervisor");
    pid_t pid = static_cast<pid_t>(std::atoi(m->at(1).c_str()));
    if (pid <= 0) throw Error("the project's keeper could not fork the supervisor");
    return pid;
}

std::optional<Exit> Client::read_exit() {
    bool would_block = false;
    auto m = recv_message(sock_.get(), &would_block);
    if (!m) {
        if (!would_block) gone_ = true;
        return std::nullopt;
    }
    if (m->kind() != "exit") return std::nullopt;
    return Exit{static_cast<pid_t>(std::atoi(m->at(1).c_str())), std::atoi(m->at(2).c_str()), std::atoi(m->at(3).c_str())};
}

namespace {

pid_t start_keeper(const std::string& exe, const std::string& dir, const std::string& log_path) {
    pid_t child = ::fork();
    if (child < 0) throw Error::sys(errno, "fork the keeper");
    if (child == 0) {
        ::setsid();
        int null = ::open("/dev/null", O_RDWR);
        int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
        ::dup2(null, 0);
        ::dup2(log >= 0 ? log : null, 1);
        ::dup2(log >= 0 ? log : null, 2);
        ::close_range(3, ~0U, 0);
        ::execl(exe.c_str(), "berth", "__keeper", dir.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return child;
}

}  // namespace

// A keeper that is ending (nothing left to hold) may still hold its lock for an
// instant: it is waited for, and another started once it is gone.
void ensure_running(const std::string& exe, const std::string& dir, const std::string& log_path) {
    pid_t child = 0;
    int starts = 0;
    for (int i = 0; i < 500; ++i) {
        int pid = running_pid(dir);
        if (pid > 0 && connect_to(socket_path(dir))) return;
        if (pid <= 0 && child == 0 && starts < 3) child = start_keeper(exe, dir, log_path), ++starts;
        if (child > 0 && ::waitpid(child, nullptr, WNOHANG) == child) child = 0;  // it lost a race, or failed
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw Error("the project's keeper did not start", "see " + log_path);
}

// The pid is read before it is opened: that keeper may have ended meanwhile and
// its pid gone to another process (a keeper.pid also outlives a killed keeper
// until the next one writes its own). The pidfd is trusted only if, once open,
// its pid still has the keeper's start time: then it is the keeper, and every
// signal through it reaches the keeper or nothing.
void stop(const std::string& dir) {
    KeeperId id = running_keeper(dir);
    if (id.pid <= 0) return;
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, id.pid, 0)));
    if (pidfd && (id.start_time == 0 || !state::process_alive(id.pid, id.start_time))) pidfd.reset();
    if (auto c = Client::connect(dir)) c->quit();
    if (!pidfd) return;
    pollfd p{pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 3000) > 0) return;
    syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    ::poll(&p, 1, 1000);
}

}  // namespace berth::keeper
