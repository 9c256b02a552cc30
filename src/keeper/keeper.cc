#include "keeper/keeper.h"

#include "base/error.h"
#include "state/state.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace berth::keeper {

std::string socket_path(const std::string& dir) { return dir + "/keeper.sock"; }

namespace {

// The whole file, for an OFD lock (fcntl F_OFD_*: owned by the open file, so a
// probe closing its own fd never drops the keeper's lock, even in one process).
struct flock whole_file(short type) {
    struct flock fl{};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    return fl;
}

}  // namespace

// Whether a keeper runs is whether DIR/keeper.lock is locked. The test asks the
// kernel (F_OFD_GETLK) and takes nothing: a probe that took the lock, even for
// an instant (flock LOCK_NB then close, as it once did), made a keeper starting
// at that instant fail with "another keeper runs" while none ran.
KeeperId running_keeper(const std::string& dir) {
    UniqueFd fd(::open((dir + "/keeper.lock").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return {};
    struct flock fl = whole_file(F_WRLCK);
    if (::fcntl(fd.get(), F_OFD_GETLK, &fl) < 0 || fl.l_type == F_UNLCK) return {};  // nobody holds it
    char buf[64]{};
    UniqueFd p(::open((dir + "/keeper.pid").c_str(), O_RDONLY | O_CLOEXEC));
    if (!p || ::read(p.get(), buf, sizeof buf - 1) <= 0) return {};
    KeeperId id;
    unsigned long long start = 0;
    if (std::sscanf(buf, "%d %llu", &id.pid, &start) < 1 || id.pid <= 0) return {};
    id.start_time = start;
    return id;
}

int running_pid(const std::string& dir) { return running_keeper(dir).pid; }

Keeper::Keeper(std::string dir) : dir_(std::move(dir)) {
    lock_.reset(::open((dir_ + "/keeper.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock_) throw Error::sys(errno, "open " + dir_ + "/keeper.lock");
    struct flock fl = whole_file(F_WRLCK);
    if (::fcntl(lock_.get(), F_OFD_SETLK, &fl) != 0) throw Error("another keeper runs for " + dir_);
    // A keeper ending unlinks the file it locked: locked after that, this one
    // would share nothing with the next. Only the file at the path counts.
    struct stat held{}, named{};
    if (::fstat(lock_.get(), &held) != 0 || ::stat((dir_ + "/keeper.lock").c_str(), &named) != 0 ||
        held.st_ino != named.st_ino || held.st_dev != named.st_dev)
        throw Error("another keeper runs for " + dir_);
    // "PID STARTTIME": stop() signals the keeper only while that pid is still this process.
    std::string pid = std::to_string(::getpid()) + " " + std::to_string(state::process_start_time(::getpid())) + "\n";
    UniqueFd pf(::open((dir_ + "/keeper.pid").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!pf) throw Error::sys(errno, "write " + dir_ + "/keeper.pid");
    write_all(pf.get(), pid);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) throw Error::sys(errno, "become a subreaper");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd_) throw Error::sys(errno, "signalfd");
    ::signal(SIGPIPE, SIG_IGN);
    listen_ = listen_at(socket_path(dir_));
    reap();  // what ended before
}

Keeper::~Keeper() {
    ::unlink(socket_path(dir_).c_str());
    ::unlink((dir_ + "/keeper.pid").c_str());
    ::unlink((dir_ + "/keeper.lock").c_str());
}

Keeper::Entry* Keeper::find(const std::string& name) {
    for (auto& e : entries_)
        if (e->name == name) return e.get();
    return nullptr;
}

bool Keeper::should_end() const {
    if (quit_) return true;
    if (attached_ >= 0 || !supervisors_.empty()) return false;
    if (!spawned_any_ && !ended_cleanly_) return false;  // waits for its first SPAWN or HELLO
    return entries_.empty();
}

int Keeper::run() {
    for (;;) {
        while (step(-1)) {
        }
        // Nothing left to hold: a client that connected meanwhile (a new `up -d`) is served first.
        if (quit_ || !step(100)) return 0;
    }
}

bool Keeper::step(int timeout_ms) {
    pfds_.clear();
    pfds_.push_back({listen_.get(), POLLIN, 0});
    pfds_.push_back({sigfd_.get(), POLLIN, 0});
    for (const auto& c : clients_) pfds_.push_back({c.sock.get(), POLLIN, 0});
    size_t first_pipe = pfds_.size();
    pipes_.clear();
    for (const auto& e : entries_) {
        if (attached_ >= 0 && !e->drain) continue;  // the supervisor reads these
        for (int s = 0; s < 2; ++s)
            if (e->fds[s]) {
                pfds_.push_back({e->fds[s].get(), POLLIN, 0});
                pipes_.push_back({e.get(), s});
            }
    }
    int n = ::poll(pfds_.data(), pfds_.size(), timeout_ms);
    if (n < 0 && errno != EINTR) throw Error::sys(errno, "poll");
    if (n <= 0) return !should_end();
    if (pfds_[1].revents) {
        signalfd_siginfo si;
        while (::read(sigfd_.get(), &si, sizeof si) == sizeof si)
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) quit_ = true;
        reap();
    }
    // Pipes before messages: a HELLO below changes which fds are polled.
    for (size_t i = first_pipe; i < pfds_.size(); ++i)
        if (pfds_[i].revents) drain(*pipes_[i - first_pipe].first, pipes_[i - first_pipe].second);
    size_t nclients = clients_.size();
    std::vector<bool> gone(nclients, false);
    for (size_t i = 0; i < nclients; ++i)
        if (pfds_[2 + i].revents) {
            bool would_block = false;
            auto m = recv_message(clients_[i].sock.get(), &would_block);
            if (would_block) continue;
            if (!m) {
                gone[i] = true;
                continue;
            }
            try {
                on_message(i, *m);
            } catch (const std::exception& ex) {  // one client's bad message must not end the keeper
                std::fprintf(stderr, "keeper: message \"%s\": %s\n", m->kind().c_str(), ex.what());
                clients_[i].failed = true;
            }
        }
    for (size_t i = nclients; i-- > 0;) {
        if (!gone[i] && !clients_[i].failed) continue;
        if (static_cast<int>(i) == attached_) {
            attached_ = -1;  // the supervisor is gone: draining starts (unless it said BYE)
            if (clients_[i].bye) ended_cleanly_ = true;
        } else if (static_cast<int>(i) < attached_) {
            --attached_;
        }
        clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (pfds_[0].revents) accept_clients();
    return !should_end();
}

// A message to a client; one that cannot take it (gone, or reading nothing
// for kSendWaitMs) is dropped at the end of the round, its socket closed.
void Keeper::tell(size_t client, const std::vector<std::string>& fields, const std::vector<int>& fds) {
    Client& c = clients_[client];
    if (c.failed) return;
    try {
        if (send_message(c.sock.get(), fields, fds)) return;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "keeper: %s\n", ex.what());
    }
    c.failed = true;
}

void Keeper::accept_clients() {
    for (;;) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        clients_.push_back({UniqueFd(fd)});
    }
}

void Keeper::on_message(size_t client, Message& m) {
    const std::string& kind = m.kind();
    if (kind == "hello") return hello(client);
    if (kind == "add") return add(m);
    if (kind == "del") {
        std::erase_if(entries_, [&](const auto& e) { return e->name == m.at(1); });
        return;
    }
    if (kind == "drain") {
        if (Entry* e = find(m.at(1))) e->drain = true;
        return;
    }
    if (kind == "bye") {
        clients_[client].bye = true;
        entries_.clear();  // a supervisor ends cleanly only once its containers are gone
        return;
    }
    if (kind == "spawn") {
        pid_t pid = spawn(m);
        tell(client, {"spawned", std::to_string(pid)});
        return;
    }
    if (kind == "quit") {
        quit_ = true;
        return;
    }
    std::fprintf(stderr, "keeper: unknown message \"%s\"\n", kind.c_str());
}

// A supervisor attaches: every held container, with its pipes and any exit
// recorded, then "end"; from here the supervisor reads the pipes.
void Keeper::hello(size_t client) {
    stop_draining();
    for (auto& e : entries_) e->drain = false;
    for (const auto& e : entries_) {
        std::vector<int> fds;
        std::string mask;
        for (const auto& fd : e->fds) {
            mask += fd ? '1' : '0';
            if (fd) fds.push_back(fd.get());
        }
        std::vector<std::string> f = {"held", e->name, std::to_string(e->pid), mask};
        if (e->exit) {
            f.push_back(std::to_string(e->exit->code));
            f.push_back(std::to_string(e->exit->signal));
        }
        tell(client, f, fds);
    }
    tell(client, {"end"});
    if (clients_[client].failed) return;
    attached_ = static_cast<int>(client);
}

void Keeper::add(Message& m) {
    auto e = std::make_unique<Entry>();
    e->name = m.at(1);
    e->pid = static_cast<pid_t>(std::atoi(m.at(2).c_str()));
    e->log_path = m.at(3);
    e->log_opts.max_size = std::atoll(m.at(4).c_str());
    e->log_opts.max_file = std::max(1, std::atoi(m.at(5).c_str()));
    const std::string& mask = m.at(6);
    size_t next = 0;
    for (int s = 0; s < 2; ++s)
        if (s < static_cast<int>(mask.size()) && mask[static_cast<size_t>(s)] == '1' && next < m.fds.size())
            e->fds[s] = std::move(m.fds[next++]);
    std::erase_if(entries_, [&](const auto& x) { return x->name == e->name; });
    entries_.push_back(std::move(e));
}

void Keeper::reap() {
    for (;;) {
        siginfo_t si{};
        if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0) return;
        std::erase(supervisors_, si.si_pid);
        Exit x{si.si_pid, si.si_status, 0};
        if (si.si_code != CLD_EXITED) x = {si.si_pid, 128 + si.si_status, si.si_status};
        for (auto& e : entries_) {
            if (e->pid != si.si_pid || e->exit) continue;
            e->exit = x;
            if (attached_ >= 0)
                tell(static_cast<size_t>(attached_),
                     {"exit", std::to_string(x.pid), std::to_string(x.code), std::to_string(x.signal)});
        }
    }
}

void Keeper::drain(Entry& e, int stream) {
    static char buf[64 * 1024];  // the keeper's one read buffer
    ssize_t n = ::read(e.fds[stream].get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        e.fds[stream].reset();  // its end (or an error): nothing more comes
        return;
    }
    if (e.log_path.empty()) return;  // no log file (logging driver none, journald): dropped, not blocked
    try {
        if (!e.log) e.log = std::make_unique<logs::LogWriter>(e.log_path, e.log_opts);
        e.log->write(stream ? logs::Stream::Stderr : logs::Stream::Stdout, std::string_view(buf, static_cast<size_t>(n)),
                     logs::now_ns());
        e.log->flush();
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "keeper: %s: %s\n", e.name.c_str(), ex.what());
    }
}

// The supervisor writes the logs from here on: the keeper's writers flush and close.
void Keeper::stop_draining() {
    for (auto& e : entries_) {
        if (!e->log) continue;
        try {
            e->log->flush_partial(logs::now_ns());
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "keeper: %s: %s\n", e->name.c_str(), ex.what());
        }
        e->log.reset();
    }
}

// A supervisor, as `up -d` asked: exe, cwd, argc, argv…, env…; fds: the pipe it reports on.
pid_t Keeper::spawn(const Message& m) {
    size_t argc = static_cast<size_t>(std::atoi(m.at(3).c_str()));
    std::vector<const char*> argv, envp;
    for (size_t i = 0; i < argc; ++i) argv.push_back(m.at(4 + i).c_str());
    argv.push_back(nullptr);
    for (size_t i = 4 + argc; i < m.fields.size(); ++i) envp.push_back(m.fields[i].c_str());
    std::string report = "BERTH_SUPERVISOR_FD=-1";
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        if (!m.fds.empty()) {
            int fd = ::dup(m.fds[0].get());  // without close-on-exec: the supervisor reports on it
            report = "BERTH_SUPERVISOR_FD=" + std::to_string(fd);
        }
        if (m.fds.size() >= 3) {  // an attached supervisor (systemd's `up`): the caller's stdout and stderr
            ::dup2(m.fds[1].get(), 1);
            ::dup2(m.fds[2].get(), 2);
        }
        envp.back() = report.c_str();
        envp.push_back(nullptr);
        if (::chdir(m.at(2).c_str()) < 0) ::chdir("/");
        ::execve(m.at(1).c_str(), const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp.data()));
        std::fprintf(stderr, "keeper: exec %s: %s\n", m.at(1).c_str(), std::strerror(errno));
        _exit(127);
    }
    supervisors_.push_back(pid);
    spawned_any_ = true;
    return pid;
}

int keeper_main(const std::string& dir) {
    try {
        Keeper k(dir);
        return k.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "keeper: %s\n", e.what());
        return 1;
    }
}

}  // namespace berth::keeper
