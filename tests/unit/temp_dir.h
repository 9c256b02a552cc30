// tests/unit/temp_dir: a test's own directory under /tmp, removed with all it holds when the test
// ends; write() puts a file in it (its folders made). For the unit tests (compose's wire and loader).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace berth::test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "berth-test") {
        std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path write(const std::string& rel, const std::string& text) const {
        std::filesystem::path p = path / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p;
    }
};

}  // namespace berth::test
