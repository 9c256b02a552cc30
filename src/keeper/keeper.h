// keeper: the per-project process that outlives the supervisor (live restore).
//
// DESIGN. A project brought up with `up -d` has two processes: the keeper
// (`berth __keeper DIR`, this file) and the supervisor, which the keeper
// forks and execs when `up -d` asks it to (SPAWN). The keeper is
// PR_SET_CHILD_SUBREAPER and the supervisor's parent, so containers orphaned
// by a dead supervisor (kill -9, OOM, a crash) are re-parented to the keeper,
// not to init: their exit statuses are not lost. The supervisor stays the
// parent of what it starts (pidfds, waitid, exec) and does everything else;
// the keeper only holds, per container, its pid, a dup of its stdout and
// stderr read ends (sent by the supervisor with SCM_RIGHTS right after the
// start), and where its log is.
//
//   supervisor attached (HELLO seen, connection open): the keeper reads none
//     of the pipes (the supervisor does); it reaps only what is re-parented to
//     it (containers a previous supervisor started) and sends their exits.
//   no supervisor (its connection closed without BYE): the keeper drains every
//     pipe into the container's log file (logs/log_file.h, the same JSON lines)
//     so no writer blocks on a full pipe and none gets SIGPIPE, and reaps the
//     orphans, recording exit statuses.
//   the next supervisor says HELLO: it gets every held container (name, pid,
//     pipe fds) and every exit recorded meanwhile, re-adopts them without a
//     restart (pidfd_open for signals; exits keep coming from the keeper, the
//     containers being the keeper's children now), and the keeper stops reading.
//
// Alternatives weighed: systemd's fd store holds fds but reaps nothing and
// exists only under systemd; making the keeper the containers' direct parent
// (CLONE_PARENT) would route every exit, even with a healthy supervisor,
// through the keeper; a keeper that always reads the pipes copies every byte
// twice. The one window left: bytes the supervisor had read but not yet
// written when it was killed (one chunk, written at once after each read).
//
// The keeper is small and allocation-light: one poll() loop over its socket,
// its clients, a signalfd for SIGCHLD and (detached) the pipes; a fixed read
// buffer. A container the new supervisor does not take back (an orphan of a
// service gone from the file, kept as docker compose keeps it) stays the
// keeper's to drain (DRAIN). It ends on QUIT (`down`), after a supervisor's BYE once that
// supervisor is gone, or when nothing it started runs and it holds nothing.
#pragma once

#include "base/fd.h"
#include "keeper/wire.h"
#include "logs/log_file.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace berth::keeper {

// Files of the keeper of the project whose runtime directory is `dir`.
std::string socket_path(const std::string& dir);  // DIR/keeper.sock
// The running keeper (DIR/keeper.lock is held): its pid and start time (as
// state::process_start_time counts it) from DIR/keeper.pid; pid 0 when none runs.
struct KeeperId {
    pid_t pid = 0;
    uint64_t start_time = 0;
};
KeeperId running_keeper(const std::string& dir);
// The keeper's pid, 0 when none holds DIR/keeper.lock.
int running_pid(const std::string& dir);

// An exit status as a shell reports it: code, or 128 + signal.
struct Exit {
    pid_t pid = 0;
    int code = 0;
    int signal = 0;
};

class Keeper {
public:
    // Takes DIR/keeper.lock (throws when another keeper holds it), listens on
    // DIR/keeper.sock, becomes a subreaper and blocks SIGCHLD into a signalfd.
    explicit Keeper(std::string dir);
    ~Keeper();

    // One round of the loop, waiting at most timeout_ms; false once it should end.
    bool step(int timeout_ms);
    int run();  // step until the end

    // For tests.
    size_t held() const { return entries_.size(); }
    bool attached() const { return attached_ >= 0; }

private:
    struct Entry {
        std::string name;
        pid_t pid = 0;
        UniqueFd fds[2];  // stdout, stderr read ends
        std::string log_path;
        logs::LogOptions log_opts;
        std::unique_ptr<logs::LogWriter> log;  // open only while draining
        std::optional<Exit> exit;              // reaped, not yet told to a supervisor
        bool drain = false;                    // read even with a supervisor attached (an orphan it left)
    };
    struct Client {
        UniqueFd sock;
        bool bye = false;
        bool failed = false;  // a send to it failed (gone, or reads nothing): dropped in this round
    };

    void accept_clients();
    void tell(size_t client, const std::vector<std::string>& fields, const std::vector<int>& fds = {});
    void on_message(size_t client, Message& m);
    void hello(size_t client);
    void add(Message& m);
    void reap();
    void drain(Entry& e, int stream);
    void stop_draining();
    pid_t spawn(const Message& m);
    Entry* find(const std::string& name);
    bool should_end() const;

    std::string dir_;
    UniqueFd lock_, listen_, sigfd_;
    std::vector<Client> clients_;
    std::vector<pollfd> pfds_;                     // reused each round
    std::vector<std::pair<Entry*, int>> pipes_;    // … and which pipe each polled fd past the clients is
    std::vector<std::unique_ptr<Entry>> entries_;
    std::vector<pid_t> supervisors_;  // spawned and not reaped yet
    bool spawned_any_ = false;
    bool quit_ = false;
    bool ended_cleanly_ = false;  // the last supervisor said BYE
    int attached_ = -1;           // index in clients_ of the supervisor, -1 while none
};

// `berth __keeper DIR`: runs a keeper until it ends; the process's exit code.
int keeper_main(const std::string& dir);

}  // namespace berth::keeper
