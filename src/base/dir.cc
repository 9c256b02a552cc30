#include "base/dir.h"

#include "base/error.h"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <memory>

namespace berth {

std::vector<std::string> sorted_dir_entries(const std::string& dir) {
    struct Close {
        void operator()(DIR* d) const { ::closedir(d); }
    };
    std::unique_ptr<DIR, Close> d(::opendir(dir.c_str()));
    if (!d) throw Error::sys(errno, "open directory " + dir);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d.get())) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
    }
    if (errno != 0) throw Error::sys(errno, "read directory " + dir);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace berth
