#include "base/error.h"
#include "build/parser.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace berth::build;

namespace {

std::string error_of(std::string_view text) {
    try {
        parse_dockerfile(text);
    } catch (const berth::Error& e) {
        return e.message() + (e.hint().empty() ? "" : " | " + e.hint());
    }
    return "no error";
}

const Instruction& nth(const Dockerfile& df, size_t i) { return df.instructions.at(i); }

}  // namespace

TEST_CASE("directives: escape with backtick, syntax, only at the top, case-insensitive") {
    auto df = parse_dockerfile("# Syntax = docker/dockerfile:1\n# ESCAPE=`\nFROM windows\n"
                               "RUN dir c:\\ `\n    && echo done\nCOPY a\\b c:\\x\\\n");
    CHECK(df.escape == '`');
    REQUIRE(df.directives.size() == 2);
    CHECK(df.directives[0].name == "syntax");
    CHECK(df.directives[0].value == "docker/dockerfile:1");
    CHECK(df.directives[1].line == 2);
    REQUIRE(df.instructions.size() == 3);
    CHECK(nth(df, 1).as<RunData>().cmd.args[0] == "dir c:\\     && echo done");
    CHECK(nth(df, 1).loc.line == 4);
    CHECK(nth(df, 1).loc.end_line == 5);
    // A backslash at the end is no continuation with the backtick escape.
    CHECK(nth(df, 2).as<CopyData>().dest == "c:\\x\\");

    // After a comment, a blank line or an instruction, "# escape=" is a comment.
    CHECK(parse_dockerfile("# hello\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(parse_dockerfile("\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(parse_dockerfile("FROM a\n# escape=`\nRUN x\n").escape == '\\');
    CHECK(parse_dockerfile("# unknown=1\n# escape=`\nFROM a\n").escape == '\\');
    CHECK(error_of("# escape=`\n# escape=\\\nFROM a\n") ==
          "Dockerfile:2:1: only one escape parser directive can be used | remove the second '# escape=' line");
    CHECK(error_of("# escape=x\nFROM a\n").find("Dockerfile:1:1: invalid escape token 'x'") == 0);
}

TEST_CASE("continuations: comments and empty lines inside, JSON across lines, trailing spaces, EOF") {
    auto df = parse_dockerfile(
        "FROM busybox\n"
        "RUN apt-get update \\\n"
        "# a comment inside the continuation\n"
        "\n"
        "    && apt-get install -y x   \\   \n"
        "  && echo ok\n"
        "CMD [\"/bin/sh\", \\\n"
        "     \"-c\", \\\n"
        "     \"echo hi\"]\n"
        "ENTRYPOINT [\"a\" \\\n"
        "RUN echo \\\\\n"
        "RUN last \\");
    REQUIRE(df.instructions.size() == 5);
    CHECK(nth(df, 1).as<RunData>().cmd.args[0] == "apt-get update     && apt-get install -y x     && echo ok");
    CHECK(nth(df, 1).loc.end_line == 6);
    const auto& cmd = nth(df, 2).as<CmdData>().cmd;
    CHECK(cmd.json);
    CHECK(cmd.args == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
    // A broken JSON array falls back to shell form, as docker does.
    const auto& ep = nth(df, 3).as<CmdData>().cmd;
    CHECK_FALSE(ep.json);
    CHECK(ep.args == std::vector<std::string>{"[\"a\" RUN echo \\\\"});
    CHECK(nth(df, 4).as<RunData>().cmd.args[0] == "last");  // arguments are trimmed
}

TEST_CASE("shell and exec forms") {
    auto df = parse_dockerfile("FROM a\nCMD [\"echo\", \"a b\"]\nCMD echo [not json\nRUN [ -f /x ] && echo\n"
                               "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nENTRYPOINT []\n");
    CHECK(nth(df, 1).as<CmdData>().cmd.json);
    CHECK_FALSE(nth(df, 2).as<CmdData>().cmd.json);
    CHECK_FALSE(nth(df, 3).as<RunData>().cmd.json);
    CHECK(nth(df, 3).as<RunData>().cmd.args[0] == "[ -f /x ] && echo");
    CHECK(nth(df, 4).as<ShellData>().shell.size() == 4);
    CHECK(nth(df, 5).as<CmdData>().cmd.json);
    CHECK(nth(df, 5).as<CmdData>().cmd.args.empty());
    CHECK(error_of("FROM a\nCMD [\"a\", 1]\n") ==
          "Dockerfile:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only | "
          "quote every element: [\"a\", \"1\"]");
    CHECK(error_of("FROM a\nSHELL /bin/sh -c\n").find("Dockerfile:2:1: SHELL: SHELL requires the arguments to be in JSON form") == 0);
}

TEST_CASE("every instruction types its fields") {
    auto df = parse_dockerfile(R"(ARG BASE=alpine:3.19 OTHER
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
LABEL a=b "c d"="e f" g='h'
LABEL legacy value with spaces
EXPOSE 80 53/udp
ENV A=1 B="two words" C=3\ 4
ENV OLD some value
ADD --chown=1:1 --chmod=644 --link --checksum=sha256:abc https://x/y.tar /opt/
COPY --from=build --parents a b /dest/
VOLUME ["/data", "/logs"]
VOLUME /a /b
USER nobody:nogroup
WORKDIR /app
STOPSIGNAL SIGTERM
MAINTAINER someone <a@b>
HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1s --start-interval=2s --retries=3 CMD curl -f http://x/
HEALTHCHECK NONE
HEALTHCHECK CMD ["true"]
ONBUILD RUN echo triggered
ONBUILD COPY . /src
)");
    REQUIRE(df.meta_args.size() == 1);
    REQUIRE(df.meta_args[0].args.size() == 2);
    CHECK(df.meta_args[0].args[0].value == std::optional<std::string>("alpine:3.19"));
    CHECK_FALSE(df.meta_args[0].args[1].value);
    const auto& from = nth(df, 0).as<FromData>();
    CHECK(from.image == "${BASE}");
    CHECK(from.stage_name == "build");
    CHECK(from.platform == "$BUILDPLATFORM");
    const auto& label = nth(df, 1).as<PairsData>();
    REQUIRE(label.pairs.size() == 3);
    CHECK(label.pairs[1] == KeyValue{"\"c d\"", "\"e f\""});
    CHECK(nth(df, 2).as<PairsData>().legacy);
    CHECK(nth(df, 2).as<PairsData>().pairs[0] == KeyValue{"legacy", "value with spaces"});
    CHECK(nth(df, 3).as<WordsData>().words == std::vector<std::string>{"80", "53/udp"});
    CHECK(nth(df, 4).as<PairsData>().pairs[2] == KeyValue{"C", "3\\ 4"});
    CHECK(nth(df, 5).as<PairsData>().pairs[0] == KeyValue{"OLD", "some value"});
    const auto& add = nth(df, 6).as<CopyData>();
    CHECK(add.chown == "1:1");
    CHECK(add.chmod == "644");
    CHECK(add.link);
    CHECK(add.checksum == "sha256:abc");
    CHECK(add.sources == std::vector<std::string>{"https://x/y.tar"});
    CHECK(add.dest == "/opt/");
    const auto& copy = nth(df, 7).as<CopyData>();
    CHECK(copy.from == "build");
    CHECK(copy.parents);
    CHECK(copy.sources.size() == 2);
    CHECK(nth(df, 8).as<WordsData>().json);
    CHECK(nth(df, 9).as<WordsData>().words.size() == 2);
    CHECK(nth(df, 10).as<StringData>().value == "nobody:nogroup");
    CHECK(nth(df, 11).kind == Kind::Workdir);
    CHECK(nth(df, 12).as<StringData>().value == "SIGTERM");
    CHECK(nth(df, 13).kind == Kind::Maintainer);
    const auto& hc = nth(df, 14).as<HealthcheckData>();
    CHECK(hc.interval == std::chrono::seconds(90));
    CHECK(hc.timeout == std::chrono::milliseconds(500));
    CHECK(hc.start_interval == std::chrono::seconds(2));
    CHECK(hc.retries == 3);
    CHECK(hc.test == std::vector<std::string>{"CMD-SHELL", "curl -f http://x/"});
    CHECK(nth(df, 15).as<HealthcheckData>().none);
    CHECK(nth(df, 16).as<HealthcheckData>().test == std::vector<std::string>{"CMD", "true"});
    const auto& ob = nth(df, 17).as<OnbuildData>();
    CHECK(ob.expression == "RUN echo triggered");
    CHECK(ob.trigger->kind == Kind::Run);
    CHECK(ob.trigger->loc.column == 9);
    CHECK(nth(df, 18).as<OnbuildData>().trigger->kind == Kind::Copy);
}

TEST_CASE("RUN flags: --mount forms, --network, --security") {
    auto df = parse_dockerfile(
        "FROM a\n"
        "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000 "
        "--mount=type=bind,from=build,source=/out,target=/in,rw "
        "--mount=type=secret,id=token,required --mount=type=tmpfs,target=/tmp,size=64m "
        "--network=none --security=insecure pip install x\n");
    const auto& run = nth(df, 1).as<RunData>();
    REQUIRE(run.mounts.size() == 4);
    CHECK(run.mounts[0].type == MountType::Cache);
    CHECK(run.mounts[0].target == "/root/.cache");
    CHECK(run.mounts[0].sharing == "locked");
    CHECK_FALSE(run.mounts[0].readonly);
    CHECK(run.mounts[1].from == "build");
    CHECK_FALSE(run.mounts[1].readonly);
    CHECK(run.mounts[2].required);
    CHECK(run.mounts[2].readonly);
    CHECK(run.mounts[3].size == "64m");
    CHECK(run.network == "none");
    CHECK(run.security == "insecure");
    CHECK(run.cmd.args[0] == "pip install x");

    CHECK(error_of("FROM a\nRUN --mount=type=cahce,target=/x make\n") ==
          "Dockerfile:2:5: RUN: --mount=type=cahce,target=/x: unsupported mount type \"cahce\" | did you mean cache?");
    CHECK(error_of("FROM a\nRUN --mount=type=bind,targte=/x make\n").find("unexpected key 'targte'") != std::string::npos);
    CHECK(error_of("FROM a\nRUN --mount=type=bind,target=/x,mode=0755 make\n").find("not allowed for \"bind\"") != std::string::npos);
    CHECK(error_of("FROM a\nRUN --mount=type=cache,target=/x,uid=abc make\n").find("invalid value abc for uid") != std::string::npos);
    CHECK(error_of("FROM a\nRUN --mount=type=secret make\n").find("one of source, target required") != std::string::npos);
    CHECK(error_of("FROM a\nRUN --network=bridge make\n") ==
          "Dockerfile:2:5: RUN: unsupported network mode \"bridge\" | use --network=default, none or host");
}

TEST_CASE("flag errors: unknown with did-you-mean, missing value, duplicates, bad booleans and values") {
    CHECK(error_of("FROM a\nCOPY --frm=b x /y\n") == "Dockerfile:2:6: COPY: unknown flag: --frm | did you mean --from?");
    CHECK(error_of("FROM a\nCOPY --from x /y\n") == "Dockerfile:2:6: COPY: missing a value on flag: --from | write --from=VALUE");
    CHECK(error_of("FROM a\nCOPY --from=a --from=b x /y\n").find("duplicate flag specified: --from") != std::string::npos);
    CHECK(error_of("FROM a\nCOPY --link=yes x /y\n").find("expecting boolean value for flag --link, not: yes") != std::string::npos);
    CHECK(error_of("FROM a\nADD --from=b x /y\n").find("ADD: unknown flag: --from") != std::string::npos);
    CHECK(error_of("FROM a\nENV --x=1 A=1\n") == "Dockerfile:2:5: ENV: unknown flag: --x | this instruction takes no flags");
    CHECK(error_of("FROM a\nCOPY --chmod=99z x /y\n").find("invalid --chmod value \"99z\"") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK --interval=10 CMD true\n").find("invalid duration \"10\"") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK --retries=-1 CMD true\n").find("--retries cannot be negative") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK --interval=" + std::string(5000, '9') + "s CMD true\n").find("invalid duration") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK --interval=1ns CMD true\n").find("cannot be less than 1ms") != std::string::npos);
    // "--" ends the flags; the rest are arguments.
    auto df = parse_dockerfile("FROM a\nCOPY --link -- --weird /y\n");
    CHECK(nth(df, 1).as<CopyData>().sources == std::vector<std::string>{"--weird"});
}

TEST_CASE("errors name the file, line, column and instruction, with the fix") {
    CHECK(error_of("FROM a\n  FRON b\n") == "Dockerfile:2:3: unknown instruction: FRON | did you mean FROM?");
    CHECK(error_of("FROM a\ncopy x\n") ==
          "Dockerfile:2:1: COPY: COPY requires at least two arguments, but only 1 was provided. Destination could not "
          "be determined | write COPY <source>... <destination>");
    CHECK(error_of("FROM\n").find("Dockerfile:1:1: FROM: FROM requires either one or three arguments") == 0);
    CHECK(error_of("FROM a AS 1x\n").find("Dockerfile:1:11: FROM: invalid name for build stage: \"1x\"") == 0);
    CHECK(error_of("FROM a b\n").find("FROM requires either one or three arguments, got 2") != std::string::npos);
    CHECK(error_of("RUN x\n") ==
          "Dockerfile:1:1: RUN: no build stage in current context | the first instruction must be FROM (only ARG may "
          "come before it)");
    CHECK(error_of("") == "Dockerfile:1:1: file with no instructions | a Dockerfile starts with FROM <image>");
    CHECK(error_of("# only a comment\n\n") == "Dockerfile:2:1: file with no instructions | a Dockerfile starts with FROM <image>");
    CHECK(error_of("FROM a\nUSER\n").find("USER: USER requires exactly one argument") != std::string::npos);
    CHECK(error_of("FROM a\nENV\n").find("ENV: ENV requires at least one argument") != std::string::npos);
    CHECK(error_of("FROM a\nENV A\n").find("ENV: ENV must have two arguments") != std::string::npos);
    CHECK(error_of("FROM a\nENV A=1 B\n").find("Syntax error - can't find = in \"B\"") != std::string::npos);
    CHECK(error_of("FROM a\nARG =x\n").find("ARG names can not be blank") != std::string::npos);
    CHECK(error_of("FROM a\nONBUILD ONBUILD RUN x\n").find("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed") != std::string::npos);
    CHECK(error_of("FROM a\nONBUILD FROM b\n").find("FROM isn't allowed as an ONBUILD trigger") != std::string::npos);
    CHECK(error_of("FROM a\nONBUILD maintainer b\n").find("MAINTAINER isn't allowed as an ONBUILD trigger") != std::string::npos);
    CHECK(error_of("FROM a\nONBUILD RUNN x\n").find("unknown instruction: RUNN | did you mean RUN?") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK NONE x\n").find("HEALTHCHECK NONE takes no arguments") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK CMD\n").find("Missing command after HEALTHCHECK CMD") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK TEST x\n").find("Unknown type \"TEST\" in HEALTHCHECK (try CMD)") != std::string::npos);
    CHECK(error_of("FROM a\nEXPOSE\n").find("EXPOSE requires at least one argument") != std::string::npos);
    CHECK(error_of("FROM a\nVOLUME [\"\"]\n").find("VOLUME specified can not be an empty string") != std::string::npos);
    CHECK(error_of("FROM a\nRUN\n").find("RUN requires at least one argument") != std::string::npos);
    CHECK(error_of("ARG X\n").find("no FROM instruction") != std::string::npos);
}

TEST_CASE("here-documents") {
    auto df = parse_dockerfile(
        "FROM a\n"
        "RUN <<EOF\n"
        "echo $HOME\n"
        "  indented\n"
        "EOF\n"
        "RUN <<-\"END\" bash\n"
        "\t\techo tabs\n"
        "\tEND\n"
        "RUN cat <<A >/a && cat <<'B' >/b\n"
        "a $X\n"
        "A\n"
        "b $X\n"
        "B\n"
        "COPY <<EOF /etc/conf\n"
        "k=v\n"
        "EOF\n"
        "COPY --chmod=755 <<one <<two /bin/\n"
        "1\n"
        "one\n"
        "2\n"
        "two\n"
        "RUN echo \"<<NOT\" '<<NOT'\n"
        "RUN [\"sh\", \"-c\", \"cat <<X\"]\n"
        "ONBUILD RUN <<EOF\n"
        "echo later\n"
        "EOF\n"
        "RUN 3<<FD cat <&3\n"
        "via fd\n"
        "FD\n");
    const auto& r1 = nth(df, 1).as<RunData>().cmd;
    CHECK(r1.args[0] == "<<EOF");
    REQUIRE(r1.files.size() == 1);
    CHECK(r1.files[0].name == "EOF");
    CHECK(r1.files[0].content == "echo $HOME\n  indented\n");
    CHECK(r1.files[0].expand);
    CHECK(nth(df, 1).loc.end_line == 5);
    const auto& r2 = nth(df, 2).as<RunData>().cmd.files.at(0);
    CHECK(r2.name == "END");
    CHECK(r2.chomp);
    CHECK_FALSE(r2.expand);
    CHECK(r2.content == "echo tabs\n");
    const auto& r3 = nth(df, 3).as<RunData>().cmd.files;
    REQUIRE(r3.size() == 2);
    CHECK(r3[0].content == "a $X\n");
    CHECK(r3[0].expand);
    CHECK(r3[1].content == "b $X\n");
    CHECK_FALSE(r3[1].expand);
    const auto& c1 = nth(df, 4).as<CopyData>();
    CHECK(c1.sources.empty());
    REQUIRE(c1.inline_sources.size() == 1);
    CHECK(c1.inline_sources[0].content == "k=v\n");
    CHECK(c1.dest == "/etc/conf");
    const auto& c2 = nth(df, 5).as<CopyData>();
    REQUIRE(c2.inline_sources.size() == 2);
    CHECK(c2.inline_sources[1].name == "two");
    CHECK(c2.inline_sources[1].content == "2\n");
    CHECK(nth(df, 6).as<RunData>().cmd.files.empty());
    CHECK(nth(df, 7).as<RunData>().cmd.json);
    const auto& ob = nth(df, 8).as<OnbuildData>();
    CHECK(ob.expression == "RUN <<EOF\necho later\nEOF");
    CHECK(ob.trigger->as<RunData>().cmd.files.at(0).content == "echo later\n");
    CHECK(nth(df, 9).as<RunData>().cmd.files.at(0).fd == 3);

    CHECK(error_of("FROM a\nRUN <<EOF\necho\n") ==
          "Dockerfile:2:1: RUN: unterminated heredoc <<EOF: no line 'EOF' ends it | end the here-document with a "
          "line holding only EOF");
    CHECK(error_of("FROM a\nCOPY x <<EOF\nEOF\n").find("COPY cannot accept a heredoc as a destination") != std::string::npos);
}

TEST_CASE("CRLF line endings, a BOM, keywords in any case, leading blanks") {
    auto df = parse_dockerfile("\xEF\xBB\xBF" "from a as B\r\n  run echo \\\r\n  x\r\n\tcMd [\"y\"]\r\n");
    REQUIRE(df.instructions.size() == 3);
    CHECK(nth(df, 0).as<FromData>().stage_name == "b");
    CHECK(nth(df, 1).keyword == "run");
    CHECK(nth(df, 1).loc.column == 3);
    CHECK(nth(df, 1).as<RunData>().cmd.args[0] == "echo   x");
    CHECK(nth(df, 2).as<CmdData>().cmd.json);
}

TEST_CASE("the fuzz seed corpus parses") {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(BERTH_TEST_DATA) / ".." / "fuzz" / "corpus-dockerfile";
    int parsed = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".Dockerfile") continue;
        CAPTURE(e.path().string());
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        Dockerfile df = parse_dockerfile(ss.str(), e.path().filename().string());
        CHECK(!df.instructions.empty());
        if (e.path().filename() == "windows.Dockerfile") {
            CHECK(df.escape == '`');
            CHECK(df.instructions.back().as<CmdData>().cmd.args ==
                  std::vector<std::string>{"C:\\app\\run.exe", "--flag"});
        }
        ++parsed;
    }
    CHECK(parsed == 5);
}

TEST_CASE("--chmod forms and stage names as docker accepts them") {
    CHECK(error_of("FROM a\nCOPY --chmod=0755 x /y\n") == "no error");
    CHECK(error_of("FROM a\nCOPY --chmod=u+x,go-w x /y\n") == "no error");
    CHECK(error_of("FROM a\nCOPY --chmod=a=rX x /y\n") == "no error");
    CHECK(error_of("FROM a\nCOPY --chmod=$MODE x /y\n") == "no error");  // checked once expanded
    CHECK(error_of("FROM a\nCOPY --chmod=u+q x /y\n").find("invalid --chmod value") != std::string::npos);
    CHECK(error_of("FROM a\nCOPY --chmod=75 x /y\n").find("invalid --chmod value") != std::string::npos);
    CHECK(error_of("FROM a AS my-stage_1.x\n") == "no error");
    CHECK(error_of("FROM a AS -x\n").find("invalid name for build stage") != std::string::npos);
    CHECK(error_of("FROM a AS x/y\n").find("invalid name for build stage") != std::string::npos);
    CHECK(error_of("FROM a\nHEALTHCHECK --retries=x CMD true\n").find("--retries: invalid number \"x\"") != std::string::npos);
}

// BuildKit's parser testfiles (jeztah-invalid-json-*, json): what is and is not exec form.
TEST_CASE("invalid JSON is shell form, with a warning when it was meant as JSON") {
    auto df = parse_dockerfile(
        "FROM x\n"
        "CMD \"[\\\"echo\\\", \\\"Phew\\\"]\"\n"
        "CMD '[\"echo\", \"JSON in a string\"]'\n"
        "CMD ['echo','single quotes are invalid JSON']\n"
        "CMD [\"echo\", \"Please, close the brackets\"\n"
        "CMD [\"echo\", \"look ma, no quote!]\n"
        "CMD [\t\"a\",\t\"b\"\t]\t\n"
        "CMD [\"abc 123\", \"\\u2665\", \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000\"]\n"
        "RUN [ -f /etc/passwd ] && echo yes\n");
    for (size_t i = 1; i <= 5; ++i) CHECK_FALSE(nth(df, i).as<CmdData>().cmd.json);
    CHECK(nth(df, 3).as<CmdData>().cmd.args[0] == "['echo','single quotes are invalid JSON']");
    CHECK(nth(df, 6).as<CmdData>().cmd.args == std::vector<std::string>{"a", "b"});
    CHECK(nth(df, 7).as<CmdData>().cmd.args ==
          std::vector<std::string>{"abc 123", "\xE2\x99\xA5", std::string("\" \\ / \b \f \n \r \t \0", 17)});
    REQUIRE(df.warnings.size() == 3);  // lines 4, 5, 6; not the quoted strings, not `[ -f … ]`
    CHECK(df.warnings[0].loc.line == 4);
    CHECK(df.warnings[0].message ==
          "Dockerfile:4:1: CMD: the arguments look like a JSON array but are not valid JSON: they run as a shell command");
    CHECK(df.warnings[2].loc.line == 6);
}

TEST_CASE("load_dockerfile reads a file and names it in errors") {
    char tmpl[] = "/tmp/berth-df-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string dir = tmpl;
    std::ofstream(dir + "/Dockerfile.dev") << "FROM a\nRUNN x\n";
    try {
        load_dockerfile(dir + "/Dockerfile.dev", "app/Dockerfile.dev");
        FAIL("no error");
    } catch (const berth::Error& e) {
        CHECK(std::string(e.what()) == "app/Dockerfile.dev:2:1: unknown instruction: RUNN");
    }
    std::ofstream(dir + "/Dockerfile") << "FROM a\n";
    CHECK(load_dockerfile(dir + "/Dockerfile").filename == dir + "/Dockerfile");
    try {
        load_dockerfile(dir + "/missing");
        FAIL("no error");
    } catch (const berth::Error& e) {
        CHECK(std::string(e.what()) == "cannot read the Dockerfile " + dir + "/missing: No such file or directory");
        CHECK(e.code() == ENOENT);
    }
    std::filesystem::remove_all(dir);
}
