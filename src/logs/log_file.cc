#include "logs/log_file.h"

#include "base/error.h"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>

namespace berth::logs {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string format_time(int64_t ns) {
    time_t secs = static_cast<time_t>(ns / 1'000'000'000);
    long frac = static_cast<long>(ns % 1'000'000'000);
    if (frac < 0) {
        frac += 1'000'000'000;
        --secs;
    }
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char out[64];
    snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return out;
}

int64_t parse_time(std::string_view t) {
    int Y, M, D, h, m, s;
    if (t.size() < 19 || sscanf(std::string(t.substr(0, 19)).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &Y, &M, &D, &h, &m, &s) != 6)
        return -1;
    if (t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' ')) return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < t.size() && t[i] == '.') {
        ++i;
        int digits = 0;
        while (i < t.size() && isdigit(static_cast<unsigned char>(t[i]))) {
            if (digits < 9) {
                frac = frac * 10 + (t[i] - '0');
                ++digits;
            }
            ++i;
        }
        while (digits++ < 9) frac *= 10;
    }
    int64_t offset = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
        ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh, om;
        if (t.size() < i + 6 || sscanf(std::string(t.substr(i + 1, 5)).c_str(), "%2d:%2d", &oh, &om) != 2) return -1;
        offset = (oh * 3600 + om * 60) * (t[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != t.size()) return -1;
    struct tm tm {};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    time_t secs = timegm(&tm);
    return (static_cast<int64_t>(secs) - offset) * 1'000'000'000 + frac;
}

namespace {

// JSON string escaping for the writer's hot path; invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    size_t i = 0;
    while (i < s.size()) {
        // Plain printable ASCII, the common case, is copied in runs.
        size_t run = i;
        while (run < s.size()) {
            unsigned char r = static_cast<unsigned char>(s[run]);
            if (r < 0x20 || r >= 0x7f || r == '"' || r == '\\') break;
            ++run;
        }
        if (run > i) {
            out.append(s.data() + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++i;
            continue;
        }
        // A valid UTF-8 sequence is copied; anything else is one U+FFFD per byte.
        size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
        if (ok && len == 2 && c < 0xC2) ok = false;  // overlong
        if (ok && len == 3) {
            unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) ok = false;  // overlong, surrogates
        }
        if (ok && len == 4) {
            unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xF0 && c1 < 0x90) || c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) ok = false;
        }
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    out += '"';
}

constexpr size_t kFlushAt = 64 * 1024;

}  // namespace

LogWriter::LogWriter(std::string path, LogOptions opts) : path_(std::move(path)), opts_(opts) {
    if (opts_.max_file < 1) opts_.max_file = 1;
    open_file();
}

LogWriter::~LogWriter() {
    try {
        flush_partial(now_ns());
    } catch (...) {
    }
    if (fd_ >= 0) ::close(fd_);
}

void LogWriter::open_file() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) throw Error::sys(errno, "open log " + path_);
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
}

void LogWriter::write(Stream s, std::string_view bytes, int64_t time_ns) {
    if (error_ != 0) flush();  // stalled: the disk may have room again, before anything new is dropped
    std::string& pend = pending_[static_cast<int>(s)];
    while (!bytes.empty()) {
        size_t nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            pend.append(bytes);
            while (pend.size() >= kMaxLine) {
                append_entry(s, std::string_view(pend).substr(0, kMaxLine), time_ns, true);
                pend.erase(0, kMaxLine);
            }
            break;
        }
        if (pend.empty()) {
            append_entry(s, bytes.substr(0, nl + 1), time_ns, false);
        } else {
            pend.append(bytes.substr(0, nl + 1));
            append_entry(s, pend, time_ns, false);
            pend.clear();
        }
        bytes.remove_prefix(nl + 1);
    }
    if (buf_.size() >= kFlushAt) flush();
}

void LogWriter::flush_partial(int64_t time_ns) {
    for (int i = 0; i < 2; ++i) {
        if (!pending_[i].empty()) {
            append_entry(static_cast<Stream>(i), pending_[i], time_ns, false);
            pending_[i].clear();
        }
    }
    flush();
}

void LogWriter::append_entry(Stream s, std::string_view text, int64_t time_ns, bool partial) {
    if (error_ != 0 && buf_.size() >= kHoldBytes) {  // stalled and holding enough: dropped
        ++dropped_;
        ++dropped_total_;
        return;
    }
    size_t before = buf_.size();
    buf_ += "{\"log\":";
    append_json_string(buf_, text);
    buf_ += s == Stream::Stdout ? ",\"stream\":\"stdout\",\"time\":\"" : ",\"stream\":\"stderr\",\"time\":\"";
    if (time_ns != cached_time_) {  // every line of one read shares its time
        cached_time_ = time_ns;
        cached_time_text_ = format_time(time_ns);
    }
    buf_ += cached_time_text_;
    buf_ += partial ? "\",\"partial\":true}\n" : "\"}\n";
    int64_t added = static_cast<int64_t>(buf_.size() - before);
    if (error_ == 0 && opts_.max_size > 0 && size_ + static_cast<int64_t>(before) + added > opts_.max_size && size_ + static_cast<int64_t>(before) > 0) {
        // This entry would overflow the file: write what precedes it, rotate, then carry on.
        std::string entry = buf_.substr(before);
        buf_.resize(before);
        flush();
        if (error_ != 0) {  // stalled: no rotation until the held entries are written
            buf_ += entry;
            return;
        }
        rotate();
        buf_ = std::move(entry);
    }
}

void LogWriter::flush() {
    if (fd_ < 0) {  // a rotation could not open the new file
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd_ < 0) {
            error_ = errno;
            return;
        }
        struct stat st {};
        size_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
    }
    size_t off = 0;
    while (off < buf_.size()) {
        ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            error_ = errno;  // stalled: keep the rest (from mid-entry on, so the file's line ends whole)
            buf_.erase(0, off);
            size_ += static_cast<int64_t>(off);
            return;
        }
        off += static_cast<size_t>(n);
    }
    size_ += static_cast<int64_t>(buf_.size());
    buf_.clear();
    if (error_ != 0) {  // writing again after a stall
        error_ = 0;
        if (dropped_ > 0) {
            std::string note = "[berth: " + std::to_string(dropped_) + " lines of output lost: cannot write the log]\n";
            dropped_ = 0;
            append_entry(Stream::Stderr, note, now_ns(), false);
            flush();
        }
    }
}

void LogWriter::rotate() {
    ::close(fd_);
    fd_ = -1;
    if (opts_.max_file <= 1) {
        ::unlink(path_.c_str());
    } else {
        std::string oldest = path_ + "." + std::to_string(opts_.max_file - 1);
        ::unlink(oldest.c_str());
        for (int i = opts_.max_file - 2; i >= 1; --i)
            ::rename((path_ + "." + std::to_string(i)).c_str(), (path_ + "." + std::to_string(i + 1)).c_str());
        ::rename(path_.c_str(), (path_ + ".1").c_str());
    }
    size_ = 0;  // flush() opens the new file, or stalls when it cannot
}

bool parse_line(std::string_view line, LogEntry& out, bool& partial) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("log") || !j["log"].is_string()) return false;
    out.text = j["log"].get<std::string>();
    out.stream = j.value("stream", "stdout") == "stderr" ? Stream::Stderr : Stream::Stdout;
    out.time_ns = parse_time(j.value("time", ""));
    partial = j.value("partial", false);
    return true;
}

std::vector<LogEntry> read_log(const std::string& path) {
    std::vector<std::string> files;
    for (int i = 64; i >= 1; --i) {
        std::string f = path + "." + std::to_string(i);
        if (::access(f.c_str(), F_OK) == 0) files.push_back(f);
    }
    files.push_back(path);
    std::vector<LogEntry> out;
    std::string carry[2];
    for (const auto& f : files) {
        std::ifstream in(f);
        std::string line;
        while (std::getline(in, line)) {
            LogEntry e;
            bool partial = false;
            if (!parse_line(line, e, partial)) continue;
            std::string& c = carry[static_cast<int>(e.stream)];
            if (partial) {
                c += e.text;
                continue;
            }
            if (!c.empty()) {
                e.text = c + e.text;
                c.clear();
            }
            out.push_back(std::move(e));
        }
    }
    return out;
}

}  // namespace berth::logs
