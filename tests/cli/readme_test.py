#!/usr/bin/env python3
"""Every `berth ...` line in README.md's code blocks names commands and options berth has:
each command (and `a|b|c` alternatives, `image ls / rm NAME` subcommands) answers --help, and
each option written on the line appears in that command's help. The README cannot name a
command or flag that is gone or renamed. Usage: readme_test.py README.md BERTH"""
import re
import subprocess
import sys

readme, berth = sys.argv[1], sys.argv[2]
fails = 0
checked = 0
in_code = False
GLOBAL_WITH_VALUE = {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile", "--ansi"}


def help_of(words):
    r = subprocess.run([berth, *words, "--help"], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


for n, line in enumerate(open(readme), 1):
    if line.startswith("```"):
        in_code = not in_code
        continue
    if not in_code or not line.startswith("berth "):
        continue
    tokens = line.split("#", 1)[0].split()[1:]
    while tokens and tokens[0] in GLOBAL_WITH_VALUE:
        tokens = tokens[2:]
    if not tokens:
        continue
    for cmd in tokens[0].split("|"):
        rest = tokens[1:]
        # Subcommands: a|b alternatives right after the command, or "ls / rm NAME / inspect NAME".
        subs = []
        if rest and re.fullmatch(r"[a-z]+(\|[a-z]+)*", rest[0]):
            code, text = help_of([cmd])
            if "Subcommands:" in text:
                subs = rest[0].split("|")
                for i, t in enumerate(rest):
                    if t == "/" and i + 1 < len(rest):
                        subs.append(rest[i + 1])
        for words in ([[cmd, s] for s in subs] or [[cmd]]):
            code, text = help_of(words)
            checked += 1
            if code != 0:
                print(f"FAIL README.md:{n}: berth {' '.join(words)} --help exits {code}: {text.strip()[:200]}")
                fails += 1
                continue
            for t in rest:
                for opt in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", t):
                    if not re.search(r"(^|[\s,])" + re.escape(opt) + r"([\s,=]|$)", text, re.M):
                        print(f"FAIL README.md:{n}: berth {' '.join(words)} has no {opt}")
                        fails += 1
print(f"{checked} README commands checked, {fails} failed")
sys.exit(1 if fails or checked < 20 else 0)
