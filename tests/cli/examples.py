#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Extract every example of the docs, mechanically, so that none can rot.

    tests/cli/examples.py OUTDIR [MDEVD]

Sources: the man pages as a reader sees them (rendered by groff, so that roff's quoting
is what is tested: a `.B` line that loses its quotes is no longer JSON), README.md
(```json blocks and inline `{...}` code), and `mdevd policy --help` (MDEVD, default
mdevd/mdevd).

Writes into OUTDIR:
  NAME.json      one file per JSON example, NAME = source-N (e.g. mdevd-policy.5-2).
                 Fragments (a selector entry, a layout) are wrapped into the smallest
                 policy that holds them, so every example can be policy-checked.
  NAME.bad       an example that is not valid JSON as rendered (the caller fails it),
                 with the text and the reason.
  commands       one example command line a line: "SOURCE<TAB>mdevd ARGS...".
  NAME.transcript  a README block that shows a command and what it prints ("$ mdevd ARGS"
                 on its first line, the output after it; NAME = README.md-transcript-N):
                 ARGS on the first line, then the output as shown. The caller runs ARGS on
                 the fixture tree the command names and compares the start of its output.
Schematic blocks (with "..." or "…") are skipped, and listed in OUTDIR/skipped.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def render_man(path):
    """The man page as text: no hyphenation, long lines, no bold/underline codes."""
    out = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P-cbou", "-rHY=0", "-rLL=300n", path],
        check=True, capture_output=True, text=True).stdout
    return out


def balanced_objects(lines):
    """Yield the text of every {...} that starts a line, joined across lines."""
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s.startswith("{"):
            i += 1
            continue
        buf, depth, in_str, esc, j, done = [], 0, False, False, i, False
        while j < len(lines) and not done:
            line = lines[j].strip() if j > i else s
            taken = []
            for ch in line:
                taken.append(ch)
                if in_str:
                    if esc:
                        esc = False
                    elif ch == "\\":
                        esc = True
                    elif ch == '"':
                        in_str = False
                    continue
                if ch == '"':
                    in_str = True
                elif ch in "{[":
                    depth += 1
                elif ch in "}]":
                    depth -= 1
                    if depth == 0:
                        done = True
                        break
            buf.append("".join(taken))
            j += 1
        if done:
            yield "\n".join(buf)
            i = j
        else:
            i += 1


POLICY_KEYS = {"permittedHostDevices", "mediatedDevicesConfiguration", "mdevd", "kind",
               "apiVersion", "spec"}


def as_policy(obj):
    """The smallest policy holding @obj, or None when it is no policy part we know."""
    if not isinstance(obj, dict):
        return None
    if POLICY_KEYS & set(obj):
        return obj
    if "mdevNameSelector" in obj:
        return {"permittedHostDevices": {"mediatedDevices": [obj]}}
    if "pciVendorSelector" in obj:
        return {"permittedHostDevices": {"pciHostDevices": [obj]}}
    if "pciDeviceSelector" in obj:
        return {"kind": "HyperConverged", "spec": {"permittedHostDevices":
                                                   {"pciHostDevices": [obj]}}}
    if "parents" in obj and "types" in obj:
        return {"mdevd": {"layouts": [obj]}}
    if "mediatedDeviceTypes" in obj:
        return {"mediatedDevicesConfiguration": obj}
    return None


def nofill_blocks(path):
    """The text of a man page's .nf ... .fi blocks, roff escapes undone."""
    out, keep = [], False
    for line in open(path):
        if line.startswith(".nf"):
            keep = True
        elif line.startswith(".fi"):
            keep = False
        elif keep and not line.startswith("."):
            out.append(line.replace("\\-", "-").replace("\\(dq", '"'))
    return "".join(out)


def commands_in(text):
    """Example command lines: those that start with "mdevd " or "$ mdevd "."""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("$ "):
            s = s[2:]
        if not s.startswith("mdevd "):
            continue
        s = re.sub(r"\s+#.*$", "", s)  # README comments after the command
        if "$" in s:
            continue  # a line of a shell loop (README's attach loop: tests/libvirt runs it)
        yield s


def fenced_blocks(markdown):
    """Yield (info string, lines) of every fenced block, fences paired in order."""
    tag, body = None, []
    for line in markdown.splitlines():
        if tag is None:
            if line.startswith("```"):
                tag, body = line[3:].strip(), []
        elif line.strip() == "```":
            yield tag, body
            tag = None
        else:
            body.append(line)


def transcripts(markdown):
    """(ARGS, output lines) of each block that starts with "$ mdevd ARGS" and shows output."""
    for tag, lines in fenced_blocks(markdown):
        if tag not in ("", "sh", "console") or not lines or not lines[0].startswith("$ mdevd "):
            continue
        output = lines[1:]
        if not output or any(line.startswith("$ ") for line in output):
            continue  # a command alone, or several: no single output to compare
        yield lines[0][len("$ mdevd "):], output


def main():
    out = sys.argv[1]
    mdevd = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "mdevd", "mdevd")
    os.makedirs(out, exist_ok=True)
    sources = []
    for page in ("mdevd-policy.5", "mdevd.8"):
        text = render_man(os.path.join(ROOT, "docs", page))
        sources.append((page, nofill_blocks(os.path.join(ROOT, "docs", page)),
                        list(balanced_objects(text.splitlines()))))
    readme = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```json\n(.*?)```", readme, re.S)
    blocks += [m for m in re.findall(r"`(\{[^`]*\})`", readme, re.S)]
    sh = "\n".join(re.findall(r"```sh\n(.*?)```", readme, re.S))
    sources.append(("README.md", sh, blocks))
    helptext = subprocess.run([mdevd, "policy", "--help"], capture_output=True,
                              text=True).stdout
    sources.append(("policy-help", "", list(balanced_objects(helptext.splitlines()))))

    skipped = []
    with open(os.path.join(out, "commands"), "w") as cmds:
        for name, text, examples in sources:
            for c in commands_in(text):
                cmds.write("%s\t%s\n" % (name, c))
            n = 0
            for ex in examples:
                if "..." in ex or "…" in ex:
                    skipped.append("%s: %s" % (name, ex.splitlines()[0]))
                    continue
                n += 1
                base = os.path.join(out, "%s-%d" % (name, n))
                try:
                    obj = json.loads(ex)
                except ValueError as e:
                    with open(base + ".bad", "w") as f:
                        f.write("%s\n--- not JSON as rendered: %s\n" % (ex, e))
                    continue
                pol = as_policy(obj)
                if pol is None:
                    with open(base + ".bad", "w") as f:
                        f.write("%s\n--- JSON, but no part of a policy\n" % ex)
                    continue
                with open(base + ".json", "w") as f:
                    json.dump(pol, f, indent=2)
                    f.write("\n")
    for n, (args, output) in enumerate(transcripts(readme), 1):
        with open(os.path.join(out, "README.md-transcript-%d.transcript" % n), "w") as f:
            f.write(args + "\n" + "".join(line + "\n" for line in output))
    with open(os.path.join(out, "skipped"), "w") as f:
        f.write("".join(s + "\n" for s in skipped))


if __name__ == "__main__":
    main()
