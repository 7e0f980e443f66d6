#!/usr/bin/env bash
# Runs every Tests/Benchmarks/*-bench.sh in one go and prints one table of measured figures.
# Each bench script prints markdown rows "| measure | value | unit |" (and may print notes on other lines).
# The table is also written to .build/bench/bench-<UTC time>.md so runs can be compared.
set -uo pipefail
cd "$(dirname "$0")"
: "${BIN:?BIN must point at the built binaries}"
export BIN SHARED="${SHARED:-$(cd ../../.. && pwd)/shared}"
out_dir=$(cd ../.. && pwd)/.build/bench; mkdir -p "$out_dir"
out="$out_dir/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# checkpointd benchmarks — $(date -u +%FT%TZ) — $(uname -m), $(nproc) cores, $(git -C ../.. rev-parse --short HEAD 2>/dev/null)"
  echo
  echo "| measure | value | unit |"
  echo "|---|---|---|"
} > "$out"
status=0
for b in ${BENCHES:-*-bench.sh}; do
  [ -f "$b" ] || continue
  echo "=== $b" >&2
  log=$(mktemp)
  if ! bash "$b" > "$log"; then echo "bench $b failed" >&2; status=1; fi
  grep -E '^\|' "$log" | grep -v -E '^\| *measure *\||^\|[- |]+\|$' >> "$out"
  grep -v -E '^\|' "$log" >&2 || true
  rm -f "$log"
done
echo
cat "$out"
echo
echo "written to $out"
exit $status
