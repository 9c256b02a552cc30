// keeper/client: what the CLI and the supervisor ask of a project's keeper
// (keeper.h says what it is): start it, have it spawn the supervisor, attach
// to it as the supervisor (HELLO: the containers it holds), hand it each
// started container's pipes (ADD), forget one (DEL), end cleanly (BYE), and
// read the exits it reports of the containers it reaps.
#pragma once

#include "base/fd.h"
#include "keeper/keeper.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::keeper {

// A container the keeper holds: its pid, its pipes' read ends (either may be
// empty) and, when it exited while no supervisor ran, how.
struct Held {
    std::string name;
    pid_t pid = 0;
    UniqueFd out, err;
    std::optional<Exit> exit;
};

class Client {
public:
    // Null when no keeper runs for the project at `dir`.
    static std::unique_ptr<Client> connect(const std::string& dir);

    int fd() const { return sock_.get(); }
    bool gone() const { return gone_; }

    // Attaches as the project's supervisor: what the keeper holds.
    std::vector<Held> hello();
    void add(const std::string& name, pid_t pid, const std::string& log_path, const logs::LogOptions& lo, int out, int err);
    void del(const std::string& name);
    void drain(const std::string& name);  // not taken back: the keeper goes on reading its output
    void bye();
    void quit();
    // Starts the supervisor: `exe` with argv and env in cwd, reporting on `report`; its
    // stdout and stderr `out` and `err` when given (else the keeper's: the supervisor log).
    pid_t spawn(const std::string& exe, const std::string& cwd, const std::vector<std::string>& argv,
                const std::vector<std::string>& env, int report, int out = -1, int err = -1);
    // Call when fd() is readable: an exit it reports (nullopt: another message,
    // or the keeper is gone: gone()).
    std::optional<Exit> read_exit();

private:
    explicit Client(UniqueFd s) : sock_(std::move(s)) {}
    void send(const std::vector<std::string>& fields, const std::vector<int>& fds = {});

    UniqueFd sock_;
    bool gone_ = false;
};

// Starts `exe __keeper dir` (its stdio to log_path) unless one runs; returns once it listens.
void ensure_running(const std::string& exe, const std::string& dir, const std::string& log_path);
// Asks the project's keeper to end and waits for it (up to 3 s, then SIGKILL).
void stop(const std::string& dir);

}  // namespace berth::keeper
