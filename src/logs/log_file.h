// logs: a container's stdout/stderr as JSON lines on disk, as Docker's
// json-file driver keeps them: {"log":"text\n","stream":"stdout","time":"RFC3339Nano"}.
//
// LogWriter splits what a container writes into lines, keeps a line that
// arrives in pieces whole (up to kMaxLine; a longer one is written in parts
// marked "partial"), replaces invalid UTF-8 as Docker does, buffers writes,
// and rotates at max_size keeping max_file files (name, name.1, … oldest last).
// read_log() reads them back oldest first, joining partial parts.
// A write that fails (the disk full, say) does not throw: the writer stalls,
// holds entries up to kHoldBytes, drops (and counts) those beyond, retries at
// each flush, and once writing works again notes the lines lost in the log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::logs {

enum class Stream { Stdout, Stderr };

struct LogOptions {
    int64_t max_size = 0;  // bytes per file; 0 = never rotate
    int max_file = 1;      // files kept, counting the current one
};

struct LogEntry {
    int64_t time_ns = 0;  // since the epoch
    Stream stream = Stream::Stdout;
    std::string text;  // with its trailing newline when it had one
};

int64_t now_ns();
std::string format_time(int64_t ns);  // 2026-11-24T13:16:15.123456789Z
int64_t parse_time(std::string_view text);  // RFC 3339 (any fraction, Z or ±hh:mm); -1 when invalid

class LogWriter {
public:
    static constexpr size_t kMaxLine = 1 << 20;
    static constexpr size_t kHoldBytes = 1 << 20;  // held while stalled

    LogWriter(std::string path, LogOptions opts);
    ~LogWriter();
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Bytes as read from the container's pipe, in any chunking.
    void write(Stream s, std::string_view bytes, int64_t time_ns);
    // Writes out a pending partial line of each stream (at exit) and the buffer.
    void flush_partial(int64_t time_ns);
    void flush();
    const std::string& path() const { return path_; }
    // The errno of the write that stalled the writer; 0 while it writes.
    int error() const { return error_; }
    // Lines dropped while stalled, in all.
    uint64_t dropped_lines() const { return dropped_total_; }

private:
    void append_entry(Stream s, std::string_view text, int64_t time_ns, bool partial);
    void rotate();
    void open_file();

    std::string path_;
    LogOptions opts_;
    int fd_ = -1;
    int64_t size_ = 0;
    int error_ = 0;
    uint64_t dropped_ = 0, dropped_total_ = 0;
    int64_t cached_time_ = -1;
    std::string cached_time_text_;
    std::string buf_;
    std::string pending_[2];
};

// Every entry of the log at `path` (and its rotated files), oldest first.
std::vector<LogEntry> read_log(const std::string& path);
// Parses one JSON line; false when it is not a log entry.
bool parse_line(std::string_view line, LogEntry& out, bool& partial);

}  // namespace berth::logs
