#include "registry/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <vector>

namespace berth::registry {

void parallel_for(size_t n, int width, const std::function<void(size_t)>& fn) {
    std::atomic<size_t> next{0};
    std::vector<std::future<void>> workers;
    size_t count = std::min(n, static_cast<size_t>(std::max(1, width)));
    for (size_t w = 0; w < count; ++w)
        workers.push_back(std::async(std::launch::async, [&] {
            for (size_t i; (i = next++) < n;) fn(i);
        }));
    std::exception_ptr first;
    for (auto& w : workers) {
        try {
            w.get();
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace berth::registry
