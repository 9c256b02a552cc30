// What the COPY/ADD files (copy_step.cc, copy_sources.cc) share. Not a public face.
#pragma once

#include "base/error.h"
#include "build/builder_internal.h"

#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace berth::build::detail {

struct Source {
    std::string rel;  // relative to its root; "" = the root itself
    size_t kept = 0;  // COPY --parents: where the part of rel kept under the destination starts (after a `/./`)
    struct stat st {};
    std::vector<Context::Entry> children;  // a directory's entries (not --exclude'd), rel relative to the root
};

// The sources of a step, from the context or from a stage's or image's tree at `root`.
struct Sources {
    std::vector<Source> list;
    bool from_other = false;
};

bool has_glob(std::string_view s);
bool is_url(const std::string& s);
std::string base_name(const std::string& rel);
std::string file_sha256(const std::string& path);  // hex
Error step_error(const StepEnv& env, const Step& step, const std::string& what, const std::string& hint = {});
// The step's sources in `ctx`, or under `other_root` when not empty; throws when one matches nothing.
Sources find_sources(StepEnv& env, Context& ctx, const Step& step, const std::string& other_root);

}  // namespace berth::build::detail
