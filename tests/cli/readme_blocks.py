#!/usr/bin/env python3
"""The README's shell blocks, as the README tests read them.

Every ```sh block in README.md is preceded by a marker line, an HTML comment a reader of the
rendered page does not see:

    <!-- readme-test: run -->            tests/integration/readme_test.sh runs each command
    <!-- readme-test: skip: REASON -->   not run (each test reports it skipped, with REASON)

A block without a marker is an error (tests/cli/readme_test.py): a new command cannot slip in
unexercised. In a run block, a command whose comment says "Ctrl-C" follows forever (`logs -f`):
it is run under `timeout -s INT` and passes when it printed something and was still running.

Run as a program, it writes the run blocks as shell scripts for the integration test:
    readme_blocks.py README.md BUILD_DIR OUT_DIR
writes OUT_DIR/block-LINE.sh for each run block, one per line on stdout ("LINE"), and the
skipped ones as "skip LINE REASON". Paths to the build dir written `build` in the README
(`build/…`, `$PWD/build`, `-B build`, `--build build`, `--install build`, `cd build`) are the
given BUILD_DIR; a `build` that is a word of a command (`berth build`) is left alone.
"""
import re
import shlex
import sys

MARKER = re.compile(r"^<!--\s*readme-test:\s*(run|skip)(?::\s*(.*?))?\s*-->\s*$")


class Block:
    def __init__(self, line, mode, reason):
        self.line = line  # the line of the opening ```
        self.mode = mode  # "run", "skip" or None (no marker)
        self.reason = reason
        self.commands = []  # (line number, command text without its comment, comment)


def split_comment(text):
    """The command and its trailing comment: the first # outside quotes that starts a word."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1:].strip()
    return text.rstrip(), ""


def blocks(path):
    """Every fenced block whose info string is sh/shell/bash/console, in order."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    prev = ""  # the last non-empty line before a fence
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            if lang in ("sh", "shell", "bash", "console"):
                m = MARKER.match(prev)
                b = Block(i + 1, m.group(1) if m else None, (m.group(2) or "") if m else "")
                pending, start = "", 0
                for n in range(i + 1, end):
                    text = lines[n]
                    if not pending:
                        start = n + 1
                    if text.rstrip().endswith("\\"):
                        pending += text.rstrip()[:-1] + " "
                        continue
                    cmd, comment = split_comment(pending + text)
                    pending = ""
                    if cmd.strip():
                        b.commands.append((start, cmd.strip(), comment))
                out.append(b)
            prev = ""
            i = end + 1
            continue
        if line.strip():
            prev = line.strip()
        i += 1
    return out


def with_build_dir(cmd, build):
    """The README's `build` directory, as a path of its own, replaced by `build`."""
    cmd = re.sub(r"\$PWD/build(?=[/\s:\"']|$)", build, cmd)
    cmd = re.sub(r"(?<![\w./$-])(\./)?build(?=/)", build, cmd)
    # the directory as an argument (`-B build`, `--install build`, `cd build`); not `berth build`
    return re.sub(r"(?<![\w./$-])(-B|--build|--install|cd)(\s+)(\./)?build(?=[\s:\"']|$)",
                  lambda m: m.group(1) + m.group(2) + build, cmd)


def follows(comment):
    return "Ctrl-C" in comment


def script(block, build, readme):
    """A shell script running the block's commands in order in one shell (cd and export carry
    over), printing ok/FAIL per command with its README line."""
    out = ["set -u"]
    for n, cmd, comment in block.commands:
        real = with_build_dir(cmd, build)
        where = shlex.quote(f"{readme}:{n}: {cmd}")
        out.append(f"echo \"---- \"{where}")
        if follows(comment):
            out.append(f"out=$(timeout -s INT 5 {real} 2>&1); rc=$?")
            out.append('printf "%s\\n" "$out" | tail -n 20 | sed "s/^/     /"')
            out.append(f"if [ $rc = 124 ] && [ -n \"$out\" ]; then echo \"ok   \"{where}\" (still following after 5 s)\"; "
                       f"else echo \"FAIL \"{where}\": want it following with output after 5 s, got exit $rc\"; fi")
        else:
            out.append(real)
            out.append("rc=$?")
            out.append(f"if [ $rc = 0 ]; then echo \"ok   \"{where}; else echo \"FAIL \"{where}\": exit $rc\"; fi")
    return "\n".join(out) + "\n"


def main():
    readme, build, outdir = sys.argv[1:4]
    for b in blocks(readme):
        if b.mode == "run":
            with open(f"{outdir}/block-{b.line}.sh", "w") as f:
                f.write(script(b, build, "README.md"))
            print(b.line)
        else:
            print(f"skip {b.line} {b.reason or 'no readme-test marker'}")


if __name__ == "__main__":
    main()
