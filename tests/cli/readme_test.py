#!/usr/bin/env python3
"""README.md cannot go stale. Without root and without running a container, it checks:

- every ```sh block has a readme-test marker (run, or skip with a reason: readme_blocks.py);
  tests/integration/readme_test.sh runs the run blocks; skipped ones are listed with their reason;
- every `berth ...` command, in a shell block or in a table's code span, names commands (and
  `a|b|c` alternatives, `image ls|rm` subcommands) that answer --help, and each option written
  on it appears in that command's help;
- every command `berth --help` lists is in the README's commands table;
- every service key and top-level key of schema/compose.schema.json is in the keys table;
- a path a block runs (./scripts/x, bench/x.sh, build/bench/x) exists: an executable file, or
  a target of bench/CMakeLists.txt;
- each example (examples/*) has a README.md with a shell block of its commands, checked as above
  (tests/integration/examples_test.sh runs their run blocks);
- the README opens with the demo and the test command, and .ci/run runs that same test command.
Usage: readme_test.py README.md BERTH"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import readme_blocks  # noqa: E402

readme, berth = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.abspath(readme))
text = open(readme, encoding="utf-8").read()
fails = 0
checked = 0
GLOBAL_WITH_VALUE = {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile", "--ansi"}


def fail(msg):
    global fails
    print("FAIL " + msg)
    fails += 1


def help_of(words):
    r = subprocess.run([berth, *words, "--help"], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def check_berth_command(where, line):
    """line: `berth ...` (its comment removed)."""
    global checked
    tokens = line.split()[1:]
    while tokens and tokens[0] in GLOBAL_WITH_VALUE:
        tokens = tokens[2:]
    if not tokens:
        return
    for cmd in tokens[0].replace("\\|", "|").split("|"):
        rest = [t.replace("\\|", "|") for t in tokens[1:]]
        subs = []
        if rest and re.fullmatch(r"[a-z]+(\|[a-z]+)*", rest[0]):
            code, out = help_of([cmd])
            if "Subcommands:" in out:
                subs = rest[0].split("|")
                rest = rest[1:]
        if cmd in ("exec", "run"):  # after the service name, the words are the container's command
            for i, t in enumerate(rest):
                if re.fullmatch(r"[a-z][\w.-]*", t):
                    rest = rest[:i]
                    break
        for words in ([[cmd, s] for s in subs] or [[cmd]]):
            code, out = help_of(words)
            checked += 1
            if code != 0:
                fail(f"{where}: berth {' '.join(words)} --help exits {code}: {out.strip()[:200]}")
                continue
            for t in rest:
                for opt in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", t):
                    if not re.search(r"(^|[\s,])" + re.escape(opt) + r"([\s,=]|$)", out, re.M):
                        fail(f"{where}: berth {' '.join(words)} has no {opt}")


# Shell blocks (README.md's and each example's README): markers, berth commands, paths a
# skipped block runs.
def check_blocks(path):
    name = os.path.relpath(path, root)
    found = readme_blocks.blocks(path)
    for b in found:
        if b.mode is None:
            fail(f"{name}:{b.line}: a shell block without a readme-test marker "
                 "(<!-- readme-test: run --> or <!-- readme-test: skip: REASON --> on the line before)")
        elif b.mode == "skip":
            if not b.reason:
                fail(f"{name}:{b.line}: a skipped block must say why")
            print(f"skip {name}:{b.line}: {b.reason}")
        for n, cmd, _ in b.commands:
            for part in re.split(r"&&|;|\|\|", cmd):
                part = part.strip()
                if part.startswith("berth "):
                    check_berth_command(f"{name}:{n}", part)
                first = part.split()[0] if part.split() else ""
                if first.startswith("build/bench/"):
                    target = first.rsplit("/", 1)[1]
                    if f"add_executable({target} " not in open(os.path.join(root, "bench/CMakeLists.txt")).read():
                        fail(f"{name}:{n}: {first}: no such benchmark target")
                elif re.match(r"^(\./)?(scripts|bench|tests|examples)/", first):
                    if not os.access(os.path.join(root, first), os.X_OK):
                        fail(f"{name}:{n}: {first} is not an executable file")
    return found


all_blocks = check_blocks(readme)
examples = sorted(os.path.join(root, "examples", d) for d in os.listdir(os.path.join(root, "examples")))
for d in examples:
    if not os.path.isfile(os.path.join(d, "README.md")):
        fail(f"{os.path.relpath(d, root)} has no README.md")
    elif not check_blocks(os.path.join(d, "README.md")):
        fail(f"{os.path.relpath(d, root)}/README.md has no shell block of its commands")
run_blocks = [b for b in all_blocks if b.mode == "run"]
if len(run_blocks) < 2:
    fail(f"only {len(run_blocks)} README blocks are run by tests")

# Code spans in tables: `berth up [-d] …` (markdown escapes | as \|).
for n, line in enumerate(text.split("\n"), 1):
    if line.startswith("|"):
        for span in re.findall(r"`(berth [^`]*)`", line):
            check_berth_command(f"README.md:{n}", span)

# Every command berth lists is in the commands table.
code, out = help_of([])
listed = re.findall(r"^\s{2}(\S+)\s", out.split("Subcommands:", 1)[-1], re.M)
if len(listed) < 20:
    fail(f"berth --help lists only {len(listed)} commands: {listed}")
table_rows = [line for line in text.split("\n") if line.startswith("| `berth ")]
for c in listed:
    if not any(re.search(r"`berth (\S*\\?\|)*" + re.escape(c) + r"((\\?\|)\S*)?[\s`]", r) for r in table_rows):
        fail(f"README.md: the commands table lacks `berth {c}`")

# Every key of the schema is in the keys table.
schema = json.load(open(os.path.join(root, "schema/compose.schema.json")))
defs = schema.get("definitions", schema.get("$defs", {}))
keys_section = text.split("Compose keys", 1)[-1].split("\n## ", 1)[0]
for kind, keys in (("top-level", schema["properties"]), ("service", defs["service"]["properties"])):
    for k in keys:
        if f"`{k}`" not in keys_section:
            fail(f"README.md: the Compose keys table lacks the {kind} key `{k}`")

# The two opening commands, and .ci/run in sync with the test command.
first = [cmd for b in all_blocks for _, cmd, _ in b.commands][:2]
if first != ["./scripts/demo.sh", "./scripts/test.sh"]:
    fail(f"README.md: the first two commands are {first}, not ./scripts/demo.sh and ./scripts/test.sh")
ci = [line.strip() for line in open(os.path.join(root, ".ci/run")) if line.startswith("exec ")]
if ci != ["exec ./scripts/test.sh"]:
    fail(f".ci/run runs {ci}, not the README's ./scripts/test.sh")
demo = open(os.path.join(root, "scripts/demo.sh")).read()
if not re.search(r"cmake --build \S+ .*--target berth\s*$", demo, re.M):
    fail("scripts/demo.sh does not build the target berth alone")

print(f"{checked} README commands checked against --help, {len(listed)} commands and "
      f"{len(defs['service']['properties'])} service keys in the tables, {len(run_blocks)} blocks run "
      f"by integration_readme_test, {fails} failed")
sys.exit(1 if fails or checked < 20 else 0)
