// Resolving compose's `user:` ("name", "uid", "name:group", "uid:gid") and
// `group_add` against the image's /etc/passwd and /etc/group, as Docker does.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace berth::runtime {

struct ResolvedUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary: the user's groups from /etc/group, then group_add
    std::string home = "/";
};

// passwd/group are the files' text ("" when the image has none).
// Throws berth::Error naming the user or group when a name cannot be found.
ResolvedUser resolve_user(std::string_view user, const std::vector<std::string>& group_add,
                          std::string_view passwd, std::string_view group);

// Reads etc/passwd and etc/group from the top-most layer that has them.
ResolvedUser resolve_user_in_layers(std::string_view user, const std::vector<std::string>& group_add,
                                    const std::vector<std::string>& layers);

}  // namespace berth::runtime
