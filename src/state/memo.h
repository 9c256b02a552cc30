// memo: a set of texts remembered across berth processes, as empty files named
// by a SHA-256 under $BERTH_RUNTIME_DIR/memo/<kind>/. Used to remember compose
// documents already found valid, so that `ps`, `run` or `exec` on an unchanged
// file do not compile the schema again.
//
// The key also covers the identity of the running berth binary (device, inode,
// size, mtime of /proc/self/exe): a rebuilt or upgraded berth starts afresh.
// Entries are empty files made with O_EXCL, so a reader never sees a half
// entry; any failure to read or write the memo is silent and only costs time
// (the runtime dir may be missing or not writable for a non-root user).
#pragma once

#include <string>
#include <string_view>

namespace berth::state {

class Memo {
public:
    // dir: the memo's directory (made on first add); at most `limit` entries
    // are kept: past that the directory is emptied before the next add.
    explicit Memo(std::string dir, int limit = 512);

    bool contains(std::string_view text) const;
    void add(std::string_view text) const;

    // The path of the entry for `text` (for tests).
    std::string entry_path(std::string_view text) const;

private:
    std::string dir_;
    std::string binary_id_;
    int limit_;
};

// The memo of compose documents that match the schema: $BERTH_RUNTIME_DIR/memo/compose-valid.
Memo compose_valid_memo();

}  // namespace berth::state
