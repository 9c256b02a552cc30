// std::filesystem calls that cannot throw past their context: each takes the
// error_code form and raises berth::Error with errno and "operation path"
// ("create directory /var/lib/berth/x: Permission denied") instead of
// std::filesystem_error's "filesystem error: …". Same names as std::filesystem.
#pragma once

#include <cstdint>
#include <filesystem>

namespace berth::files {

using Path = std::filesystem::path;

bool exists(const Path& p);
bool is_directory(const Path& p);
bool is_regular_file(const Path& p);
bool is_empty(const Path& p);
void create_directories(const Path& p);
bool remove(const Path& p);          // false when there was nothing
uintmax_t remove_all(const Path& p);
void rename(const Path& from, const Path& to);
uintmax_t file_size(const Path& p);
void copy_file(const Path& from, const Path& to, std::filesystem::copy_options options = {});

}  // namespace berth::files
