#include "base/report_pipe.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace berth;

// The detached supervisor (cli/detach.cc) reported OK, closed its report pipe and
// went on running; its fd number was then reused by a file it opened (a log, a
// socket). An error it reported after that went into that file. ReportPipe
// drops it instead.
TEST_CASE("ReportPipe: nothing is written after finish, not even to a file that reused the fd") {
    Pipe p = make_pipe();
    int number = p.write.get();
    ReportPipe report(std::move(p.write));
    CHECK(report.write("P\tweb-1\tstarted\n"));
    CHECK(report.finish("OK\n"));
    CHECK(report.finished());
    CHECK(read_all(p.read.get()) == "P\tweb-1\tstarted\nOK\n");  // its end: the reader saw EOF

    char path[] = "/tmp/berth-report-XXXXXX";
    int reused = ::mkstemp(path);
    REQUIRE(reused == number);  // the lowest free number: the one the pipe had
    CHECK_FALSE(report.write("P\tweb-1\trestarting\n"));
    CHECK_FALSE(report.finish("ERR\tthe supervisor failed"));
    CHECK(::lseek(reused, 0, SEEK_END) == 0);  // the file got none of it
    ::close(reused);
    ::unlink(path);
}

TEST_CASE("ReportPipe: closes its end when it goes, finished or not") {
    Pipe p = make_pipe();
    {
        ReportPipe report(std::move(p.write));
        report.write("P\tdb-1\tcreated\n");
    }
    CHECK(read_all(p.read.get()) == "P\tdb-1\tcreated\n");
}
