// Heap-allocated libuv handles: made zeroed, closed and freed exactly once.
#pragma once

#include <uv.h>

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

}  // namespace berth
