// berth::Error — the one error type (see STYLE.md).
//
// An Error carries a message for a person, the errno that caused it (0 when
// none), and an optional hint saying how to fix it. Each layer that knows more
// context wraps it on the way up ("service web: start container web-1: mount
// overlay on …: No space left on device"); the CLI prints it once, at the top.
// Errors are never thrown across the clone/exec boundary: the child reports
// through its error pipe instead.
#pragma once

#include <exception>
#include <string>

namespace berth {

class Error : public std::exception {
public:
    explicit Error(std::string message, std::string hint = {});

    // "op: strerror(err)", keeping err.
    static Error sys(int err, std::string op);

    // Prefixes "context: " to the message and returns *this for rethrowing.
    Error& wrap(const std::string& context);

    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const { return message_; }
    const std::string& hint() const { return hint_; }
    void set_hint(std::string hint) { hint_ = std::move(hint); }
    int code() const { return errno_; }
    // The exit status berth ends with when this error reaches the top: 1, or what
    // docker uses for a container that could not start its program (127 not found,
    // 126 not executable).
    int exit_status() const { return exit_status_; }
    Error& set_exit_status(int status) {
        exit_status_ = status;
        return *this;
    }

private:
    std::string message_;
    std::string hint_;
    int errno_ = 0;
    int exit_status_ = 1;
};

}  // namespace berth
