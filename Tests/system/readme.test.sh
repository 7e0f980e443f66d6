#!/usr/bin/env bash
# The README's key reference is the one the schema generates, and its two commands are the first thing it says.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
diff <("$BIN/checkpointd" --print-reference) <(sed -n '/<!-- BEGIN REFERENCE -->/,/<!-- END REFERENCE -->/p' "$ROOT/README.md" | sed '1d;$d') > /tmp/readme-ref.diff \
  && echo "PASS README key reference matches the schema" || { echo "FAIL README key reference: $(head -5 /tmp/readme-ref.diff)"; fails=1; }
head -12 "$ROOT/README.md" | grep -q '^make demo' && head -12 "$ROOT/README.md" | grep -q '^make test' \
  && echo "PASS README opens with make demo and make test" || { echo "FAIL README opens with the two commands"; fails=1; }
exit $fails
