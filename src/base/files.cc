#include "base/files.h"

#include "base/error.h"

namespace berth::files {
namespace {

namespace stdfs = std::filesystem;

void check(const std::error_code& ec, const std::string& op) {
    if (ec) throw Error::sys(ec.value(), op);
}

}  // namespace

bool exists(const Path& p) {
    std::error_code ec;
    bool r = stdfs::exists(p, ec);
    check(ec, "stat " + p.string());
    return r;
}

bool is_directory(const Path& p) {
    std::error_code ec;
    auto st = stdfs::status(p, ec);
    if (st.type() == stdfs::file_type::none) check(ec, "stat " + p.string());  // not "no such file"
    return stdfs::is_directory(st);
}

bool is_regular_file(const Path& p) {
    std::error_code ec;
    auto st = stdfs::status(p, ec);
    if (st.type() == stdfs::file_type::none) check(ec, "stat " + p.string());  // not "no such file"
    return stdfs::is_regular_file(st);
}

bool is_empty(const Path& p) {
    std::error_code ec;
    bool r = stdfs::is_empty(p, ec);
    check(ec, "read " + p.string());
    return r;
}

void create_directories(const Path& p) {
    std::error_code ec;
    stdfs::create_directories(p, ec);
    check(ec, "create directory " + p.string());
}

bool remove(const Path& p) {
    std::error_code ec;
    bool r = stdfs::remove(p, ec);
    check(ec, "remove " + p.string());
    return r;
}

uintmax_t remove_all(const Path& p) {
    std::error_code ec;
    uintmax_t n = stdfs::remove_all(p, ec);
    check(ec, "remove " + p.string());
    return n;
}

void rename(const Path& from, const Path& to) {
    std::error_code ec;
    stdfs::rename(from, to, ec);
    check(ec, "rename " + from.string() + " to " + to.string());
}

uintmax_t file_size(const Path& p) {
    std::error_code ec;
    uintmax_t n = stdfs::file_size(p, ec);
    check(ec, "size of " + p.string());
    return n;
}

void copy_file(const Path& from, const Path& to, std::filesystem::copy_options options) {
    std::error_code ec;
    stdfs::copy_file(from, to, options, ec);
    check(ec, "copy " + from.string() + " to " + to.string());
}

}  // namespace berth::files
