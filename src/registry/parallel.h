// parallel_for: the blob workers of pull and push. Runs fn(0) … fn(n-1) on at
// most `width` threads at once, each taking the next index in turn, waits for
// all of them, then rethrows the first exception any of them threw.
#pragma once

#include <cstddef>
#include <functional>

namespace berth::registry {

void parallel_for(size_t n, int width, const std::function<void(size_t)>& fn);

}  // namespace berth::registry
