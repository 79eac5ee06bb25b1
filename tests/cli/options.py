#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The options every --help lists, against each other and against mdevd(8).

    tests/cli/options.py [MDEVD]

Reads `mdevd --help` (the commands and the global options) and `mdevd COMMAND --help`
for each command (`policy check` for policy), and checks:
  - one meaning per short option: -X stands for the same long option in every command;
  - mdevd(8), as groff renders it, names every option of every command (long, or short
    as in "-o json") in that command's entry, and every global one, so the man page
    cannot fall behind --help.
Prints one line per problem, then "N options checked"; exits 1 when there is a problem.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OPT = re.compile(r"^\s+(?:-([A-Za-z]), )?--([a-z][a-z-]*)")


def help_text(mdevd, args):
    return subprocess.run([mdevd] + args + ["--help"], capture_output=True,
                          text=True).stdout


def options(text):
    """(short or None, long) for every option line of a --help text."""
    out = []
    for line in text.splitlines():
        m = OPT.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
        # "-h, --help  this text;  --version  the version"
        for extra in re.findall(r";\s+--([a-z][a-z-]*)", line):
            out.append((None, extra))
    return out


def man_entries(path):
    """Rendered mdevd(8): the text of each command's entry, by command name."""
    text = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", "-rHY=0", "-rLL=300n",
                           path], check=True, capture_output=True, text=True).stdout
    entries, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^ {7}([a-z][a-z-]*)(?: [a-z]+)?(?: |$)", line)
        if m and not line.startswith("        "):
            cur = m.group(1)
        if cur:
            entries.setdefault(cur, []).append(line)
    return {k: "\n".join(v) for k, v in entries.items()}, text


def main():
    mdevd = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "mdevd", "mdevd")
    top = help_text(mdevd, [])
    cmds = re.findall(r"^  ([a-z][a-z-]+) {2,}", top.split("Commands:")[1].split("\n\n")[0],
                      re.M)
    problems, n = [], 0
    short = {}
    entries, whole = man_entries(os.path.join(ROOT, "docs", "mdevd.8"))
    for s, l in options(top.split("Global options")[1]):
        n += 1
        if s:
            short.setdefault(s, {}).setdefault(l, []).append("global")
        if "--" + l not in whole:
            problems.append("mdevd(8) does not name the global option --%s" % l)
    for cmd in cmds:
        args = ["policy", "check"] if cmd == "policy" else [cmd]
        for s, l in options(help_text(mdevd, args)):
            n += 1
            if s:
                short.setdefault(s, {}).setdefault(l, []).append(cmd)
            if l == "help":
                continue
            entry = entries.get(cmd, "")
            # named by its long form, or by its short one ("-o json")
            if "--" + l not in entry and not (s and re.search(r"(^|[\s\[])-%s\b" % s, entry)):
                problems.append("mdevd(8): the %s entry does not name --%s, which "
                                "'mdevd %s --help' lists" % (cmd, l, " ".join(args)))
    for s, longs in sorted(short.items()):
        if len(longs) > 1:
            problems.append("-%s means %s" % (s, ", ".join(
                "--%s (%s)" % (l, " ".join(c)) for l, c in sorted(longs.items()))))
    for p in problems:
        print(p)
    print("%d options checked" % n)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
