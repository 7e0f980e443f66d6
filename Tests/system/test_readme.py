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


def layout_table():
    """The README's source-layout table: {path named in a row's first cell: the row}."""
    section = README.split("Source layout", 1)[1].split("\n\n", 2)[1]
    rows = [l for l in section.splitlines() if l.startswith("| `")]
    named = {}
    for r in rows:
        for p in re.findall(r"`([^`]+)`", re.split(r"(?<!\\)\|", r)[1]):
            named[p.rstrip("/")] = r
    return named


def test_layout_table_matches_the_tree():
    """Every path the layout table names exists, and every folder at the top of the tree, of Sources/ and of Tests/
    (what git tracks) has a row."""
    named = layout_table()
    assert named, "no layout table found after 'Source layout'"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == [], f"the layout table names paths that do not exist: {missing}"
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    folders = {f.split("/")[0] for f in files if "/" in f}
    folders |= {"/".join(f.split("/")[:2]) for f in files if f.startswith(("Sources/", "Tests/")) and f.count("/") >= 2}
    folders -= {"Sources", "Tests"}
    unnamed = sorted(f for f in folders if not any(n == f or n.startswith(f + "/") for n in named))
    assert unnamed == [], f"folders with no row in the README's layout table: {unnamed}"
