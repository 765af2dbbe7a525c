#!/usr/bin/env python3
"""docs/LOGINS.md and pam_lockbox(8) show what an engineer sees, pasted from the e2e runs.

Each pasted block follows a marker naming a transcript and one of its sections:

    <!-- transcript sshd-kbd-approved "at the id prompt" -->       (Markdown, then a ``` block)
    .\\" transcript sshd-kbd-approved "at the id prompt"             (roff, then a .nf/.fi block)

The transcripts are BUILD/e2e-transcripts/NAME.txt, written by the e2e tests (e2e_lib.record).
What changes from run to run is made stable first: request ids, times, ports, the tests'
account names. `--write` pastes the blocks in; `--check` (a ctest after the e2e suites) exits 1
naming every block that no longer matches what the tests saw, so the docs cannot drift from
the code. Exit 77 (skipped) when the e2e suites did not run.

    logins_doc.py BUILD_DIR [--write|--check]"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = [os.path.join(ROOT, "docs", "LOGINS.md"),
        os.path.join(ROOT, "packaging", "man", "pam_lockbox.8")]
MD_MARK = re.compile(r'^<!-- transcript (\S+) "([^"]+)" -->$')
ROFF_MARK = re.compile(r'^\.\\" transcript (\S+) "([^"]+)"$')
SAMPLE_IDS = ["5eb395d07c1e4f0a9b2c3d4e5f607182", "9c41d7aa02b34e6f8d1c5b7a3e9f0d24"]
NAMES = [(re.compile(r"\be2[su][a-z0-9]*_eng\d+\b"), "eng1"),
         (re.compile(r"\be2u[a-z0-9]*_caller\d+\b"), "bob"),
         (re.compile(r"\be2[su][a-z0-9]*_adm\b"), "alice")]


def stable(text):
    """The transcript as the docs show it: sample ids in order of appearance, one time, port 22
    for the client's port, the tests' account names as eng1/alice/bob, no carriage returns."""
    ids = {}

    def sample(match):
        if match.group(0) not in ids:
            ids[match.group(0)] = SAMPLE_IDS[min(len(ids), len(SAMPLE_IDS) - 1)]
        return ids[match.group(0)]

    text = text.replace("\r", "")
    text = re.sub(r"(\^C)+", "^C", text)  # the test presses Ctrl-C again until ssh is gone
    text = re.sub(r"\b[0-9a-f]{32}\b", sample, text)
    text = re.sub(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d ", r"<\1>Dec  2 21:30:00 ", text,
                  flags=re.M)
    text = re.sub(r"lockboxd\[\d+\]", "lockboxd[812]", text)
    seqs = [int(n) for n in re.findall(r"\bseq=(\d+)", text)]
    if seqs:  # where a record falls in the chain depends on the tests that ran before
        text = re.sub(r"\bseq=(\d+)", lambda m: "seq=%d" % (41 + int(m.group(1)) - min(seqs)),
                      text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "2026-12-02T21:30:00Z", text)
    text = re.sub(r"(Connection closed by 127\.0\.0\.1 port )\d+", r"\g<1>51234", text)
    for pattern, name in NAMES:
        text = pattern.sub(name, text)
    return text


def sections(build, name):
    path = os.path.join(build, "e2e-transcripts", name + ".txt")
    out, title = {}, None
    with open(path) as f:
        for line in f:
            head = re.match(r"^--- (.*) ---$", line.rstrip("\n"))
            if head:
                title = head.group(1)
                out[title] = ""
            elif title is not None:
                out[title] += line
    return out


def block_for(build, name, title):
    found = sections(build, name)
    if title not in found:
        raise KeyError("%s has no section %r (has: %s)" % (name, title, ", ".join(found)))
    text = stable(found[title]).rstrip("\n")
    return text if text else "(nothing)"


def roff_escape(line):
    line = line.replace("\\", "\\e")
    return ("\\&" + line) if line.startswith((".", "'")) else line


def render(doc, build):
    """The document with every marked block replaced; and the list of markers it has."""
    lines, out, marks, i = open(doc).read().split("\n"), [], [], 0
    roff = doc.endswith(".8")
    while i < len(lines):
        line = lines[i]
        out.append(line)
        mark = (ROFF_MARK if roff else MD_MARK).match(line)
        i += 1
        if not mark:
            continue
        marks.append(mark.groups())
        opener, closer = (".nf", ".fi") if roff else ("```text", "```")
        if i >= len(lines) or lines[i] != opener:
            raise ValueError("%s: marker %s not followed by %s" % (doc, mark.groups(), opener))
        end = lines.index(closer, i + 1)
        body = block_for(build, *mark.groups()).split("\n")
        out += [opener] + ([roff_escape(b) for b in body] if roff else body) + [closer]
        i = end + 1
    return "\n".join(out), marks


def main(argv):
    if len(argv) != 3 or argv[2] not in ("--write", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    build = argv[1]
    if not os.path.isdir(os.path.join(build, "e2e-transcripts")):
        print("logins_doc: no e2e transcripts in %s (the e2e suites did not run)" % build)
        return 77
    stale = []
    for doc in DOCS:
        try:
            text, marks = render(doc, build)
        except (OSError, KeyError, ValueError) as err:
            print("logins_doc: %s: %s" % (doc, err), file=sys.stderr)
            return 1
        if argv[2] == "--write":
            with open(doc, "w") as f:
                f.write(text)
            print("logins_doc: %s: %d blocks" % (os.path.relpath(doc, ROOT), len(marks)))
        elif text != open(doc).read():
            stale.append(doc)
    for doc in stale:
        print("logins_doc: %s no longer shows what the e2e tests saw; run "
              "tests/e2e/logins_doc.py BUILD --write and review the diff" % doc, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
