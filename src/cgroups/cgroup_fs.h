// Internal to cgroups: the file operations both backends make on a cgroup
// filesystem (read a value, write one with errno kept, make a group's
// directories, remove one, killing what is left in it).
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace berth::cgroups::fs {

std::string read_text(const std::string& path);  // "" when unreadable
// One open + one write (the start path of every container goes through here);
// throws berth::Error with errno and `hint`.
void write_value(const std::string& path, const std::string& value, const std::string& hint = {});
bool exists(const std::string& path);
// mkdir -p root/rel, starting over when a parent vanishes underneath.
void make_dirs(const std::string& root, const std::string& rel);
// The parents of root/rel that berth made ("berth…") and are now empty.
void remove_empty_parents(const std::string& root, const std::string& rel);
std::vector<pid_t> read_procs(const std::string& dir);
int64_t read_int(const std::string& path);
// Removes one group directory, killing leftovers; throws if it stays busy.
void remove_dir(const std::string& dir);
std::string cpus_hint();  // "this machine has CPUs 0-N"

}  // namespace berth::cgroups::fs
