"""The README's key reference is the one the schema generates, its two commands are the first thing it says, and its
command table has a row for every checkpointctl command."""
import difflib
import re
import subprocess

from harness import ROOT, binary, run

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_key_reference_matches_the_schema():
    ref = README.split("<!-- BEGIN REFERENCE -->\n", 1)[1].split("<!-- END REFERENCE -->", 1)[0]
    out = run(binary("checkpointd"), "--print-reference").out
    assert out == ref, "".join(list(difflib.unified_diff(out.splitlines(True), ref.splitlines(True)))[:20])


def test_opens_with_make_demo_and_make_test():
    head = README.splitlines()[:12]
    assert any(l.startswith("make demo") for l in head) and any(l.startswith("make test") for l in head), head


def subcommands(*args):
    out = subprocess.run([binary("checkpointctl"), *args, "--help"], capture_output=True, text=True).stdout
    if "SUBCOMMANDS:" not in out:
        return []
    block = out.split("SUBCOMMANDS:", 1)[1].split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)", block, re.M) if m.group(1) != "help"]


def test_command_table_lists_every_checkpointctl_command():
    section = README.split("## Technician commands", 1)[1].split("\n## ", 1)[0]
    rows = [l for l in section.splitlines() if l.startswith("| `checkpointctl")]
    tops = subcommands()
    assert tops, "checkpointctl --help lists no subcommands"
    missing = []
    for top in tops:
        for sub in subcommands(top) or [None]:
            if not any(f"`checkpointctl {top}" in r and (sub is None or re.search(rf"\b{re.escape(sub)}\b",
                                                                                  re.split(r"(?<!\\)\|", r)[1]))
                       for r in rows):
                missing.append(f"{top} {sub or ''}".strip())
    assert missing == []
