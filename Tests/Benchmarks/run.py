#!/usr/bin/python3
"""Runs the benchmarks in one go and prints one table of measured figures (`make bench`).

A benchmark is Tests/Benchmarks/<topic>/bench.py (run with /usr/bin/python3; its directory holds its helpers). Each
prints markdown rows "| measure | value | unit |" on stdout; other stdout lines (notes) go to stderr, as does its stderr.
The table is also written to .build/bench/bench-<UTC time>.md so runs can be compared.

Env: BIN (required: the built binaries), SHARED (default: ../shared next to the clone), BENCHES (optional,
space-separated: topic names or shell patterns, e.g. "qr uplink" or "ui"; the former file names "ui-bench.sh" and
paths "ui/bench.py" select the same topic). The exit status is 1 when a benchmark failed, else 0.
"""
import datetime
import fnmatch
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = "/usr/bin/python3"
HEADER = re.compile(r"^\| *measure *\||^\|[- |]+\|$")


def benches():
    """{topic: argv}, topics in name order."""
    found = {d.name: [PY, str(d / "bench.py")] for d in HERE.iterdir() if (d / "bench.py").is_file()}
    return dict(sorted(found.items()))


def topic_of(word):
    """'ui', 'ui-bench.sh', 'ui/bench.py', 'ui/' → 'ui' (a pattern stays a pattern)."""
    word = word.strip().rstrip("/")
    for suffix in ("/bench.py", "-bench.sh"):
        if word.endswith(suffix):
            return word[:-len(suffix)]
    return word


def selected(all_benches, spec):
    if not spec:
        return list(all_benches)
    chosen = []
    for word in spec.split():
        hits = fnmatch.filter(all_benches, topic_of(word))
        if not hits:
            print(f"no benchmark matches {word!r} (there are: {', '.join(all_benches)})", file=sys.stderr)
        chosen += [t for t in hits if t not in chosen]
    return chosen


def git_head():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL).stdout.strip()
    except OSError:
        return ""


def main():
    if not os.environ.get("BIN"):
        sys.exit("BIN must point at the built binaries")
    env = dict(os.environ, BIN=str(Path(os.environ["BIN"]).resolve()),
               SHARED=str(Path(os.environ.get("SHARED") or ROOT.parent / "shared").resolve()))
    now = datetime.datetime.now(datetime.timezone.utc)
    out_dir = ROOT / ".build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"bench-{now:%Y%m%dT%H%M%SZ}.md"
    cores = len(os.sched_getaffinity(0))
    title = f"# checkpointd benchmarks — {now:%Y-%m-%dT%H:%M:%SZ} — {platform.machine()}, {cores} cores, {git_head()}"
    lines = [title, "", "| measure | value | unit |", "|---|---|---|"]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status = 0
    all_benches = benches()
    for topic in selected(all_benches, os.environ.get("BENCHES", "")):
        argv = all_benches[topic]
        name = f"{topic}/bench.py"
        print(f"=== {name}", file=sys.stderr, flush=True)
        p = subprocess.run(argv, cwd=HERE, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        text = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            print(f"bench {name} failed", file=sys.stderr)
            status = 1
        rows = [ln for ln in text.splitlines() if ln.startswith("|") and not HEADER.match(ln)]
        with open(out, "a", encoding="utf-8") as f:
            f.writelines(r + "\n" for r in rows)
        others = [ln for ln in text.splitlines() if not ln.startswith("|")]
        if others:
            print("\n".join(others), file=sys.stderr, flush=True)
    print()
    print(out.read_text(encoding="utf-8"), end="")
    print()
    print(f"written to {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
