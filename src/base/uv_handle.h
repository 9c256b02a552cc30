// Heap-allocated libuv handles: made zeroed, closed and freed exactly once.
// UvHandle<H> owns one: its destructor closes it, and the memory is freed in
// libuv's close callback (never before libuv is done with it).
#pragma once

#include <uv.h>

#include <utility>

namespace berth {

template <class H>
H* new_handle() {
    return new H{};
}

// Closes `h` (if any and not closing already), frees it in the close callback, and nulls the pointer.
template <class H>
void close_handle(H*& h) {
    if (!h) return;
    auto* raw = reinterpret_cast<uv_handle_t*>(h);
    if (!uv_is_closing(raw)) uv_close(raw, [](uv_handle_t* x) { delete reinterpret_cast<H*>(x); });
    h = nullptr;
}

template <class H>
class UvHandle {
public:
    UvHandle() = default;
    UvHandle(UvHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    UvHandle& operator=(UvHandle&& o) noexcept {
        if (this != &o) {
            close();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;
    ~UvHandle() { close(); }

    // A new zeroed handle in place of any held one; `init` (uv_timer_init, …) is applied to it at once,
    // so an owned handle is always one libuv knows and can close.
    template <class Init>
    H* make(Init&& init, void* data) {
        close();
        h_ = new H{};
        init(h_);
        h_->data = data;
        return h_;
    }
    H* get() const { return h_; }
    H* operator->() const { return h_; }
    explicit operator bool() const { return h_ != nullptr; }
    void close() { close_handle(h_); }

private:
    H* h_ = nullptr;
};

}  // namespace berth
