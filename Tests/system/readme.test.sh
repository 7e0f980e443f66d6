#!/usr/bin/env bash
# The README's key reference is the one the schema generates, and its two commands are the first thing it says.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
diff <("$BIN/checkpointd" --print-reference) <(sed -n '/<!-- BEGIN REFERENCE -->/,/<!-- END REFERENCE -->/p' "$ROOT/README.md" | sed '1d;$d') > /tmp/readme-ref.diff \
  && echo "PASS README key reference matches the schema" || { echo "FAIL README key reference: $(head -5 /tmp/readme-ref.diff)"; fails=1; }
head -12 "$ROOT/README.md" | grep -q '^make demo' && head -12 "$ROOT/README.md" | grep -q '^make test' \
  && echo "PASS README opens with make demo and make test" || { echo "FAIL README opens with the two commands"; fails=1; }
# Every checkpointctl command (as its --help lists them, hidden ones aside) has a row in the README's command table.
missing=$(/usr/bin/python3 - "$BIN/checkpointctl" "$ROOT/README.md" <<'PY'
import re, subprocess, sys
ctl, readme = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
section = readme.split("## Technician commands", 1)[1].split("\n## ", 1)[0]
rows = [l for l in section.splitlines() if l.startswith("| `checkpointctl")]
def subcommands(args):
    out = subprocess.run([ctl, *args, "--help"], capture_output=True, text=True).stdout
    if "SUBCOMMANDS:" not in out: return []
    block = out.split("SUBCOMMANDS:", 1)[1].split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)", block, re.M) if m.group(1) != "help"]
missing = []
for top in subcommands([]):
    subs = subcommands([top]) or [None]
    for sub in subs:
        ok = any(f"`checkpointctl {top}" in r and (sub is None or re.search(rf"\b{re.escape(sub)}\b", re.split(r"(?<!\\)\|", r)[1])) for r in rows)
        if not ok: missing.append(f"{top} {sub or ''}".strip())
print(", ".join(missing))
PY
)
[ -z "$missing" ] && echo "PASS README command table lists every checkpointctl command" || { echo "FAIL README command table misses: $missing"; fails=1; }
exit $fails
