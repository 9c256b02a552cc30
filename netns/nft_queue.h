// nft(8) scripts run from the supervisor's libuv loop without blocking it:
// each is a child process (uv_spawn) fed the script on stdin. Scripts run one
// at a time in the order given, so a container's rules are never removed
// before they were added, nor added after they were removed.
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
