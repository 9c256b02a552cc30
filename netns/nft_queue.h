// nft(8) scripts run from the supervisor's libuv loop without blocking it:
// nft is a child process (uv_spawn) fed the script on stdin. Scripts run in
// the order given, one nft at a time, so a container's rules are never removed
// before they were added, nor added after they were removed. Scripts queued
// while nft runs go together into the next run (one transaction); if that
// fails, each is run again by itself so that only a bad one reports failure.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

namespace berth::netns {

class NftQueue {
public:
    explicit NftQueue(uv_loop_t* loop);
    ~NftQueue();  // scripts not yet run are dropped; a running nft finishes on its own
    NftQueue(const NftQueue&) = delete;
    NftQueue& operator=(const NftQueue&) = delete;

    // `done` is called on the loop with "" or what went wrong (nft's own message).
    using Done = std::function<void(const std::string& error)>;
    void apply(std::string script, Done done = {});
    bool idle() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace berth::netns
