#!/usr/bin/env bash
# Builds the libFuzzer binary $FUZZ_SCRATCH/fuzz/checkpoint-fuzz (default scratch: <repo>/.build-fuzz).
#
# 1. SwiftPM builds the CheckpointCore target (and what it needs: TOMLKit with its C++ toml++, swift-log) in release
#    mode with libFuzzer coverage and AddressSanitizer in every Swift and C++ file. Nothing else of the package is
#    built: the fuzz targets link only CheckpointCore, which imports no C module.
# 2. swiftc compiles Tests/Fuzz/Sources (the targets, LLVMFuzzerTestOneInput) with the same sanitizers and links
#    them with those objects and libFuzzer's main.
# The package is not changed: CheckpointCore is not a product, so a separate package could not depend on it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${FUZZ_SCRATCH:-$ROOT/.build-fuzz}
SWIFT=${SWIFT:-swift}
SWIFTC=${SWIFTC:-$(dirname "$(command -v "$SWIFT")")/swiftc}
OUT=${FUZZ_OUT:-$SCRATCH/fuzz}
mkdir -p "$OUT"

# Start from dependency checkouts already on this machine instead of fetching them again.
if [ ! -d "$SCRATCH/checkouts" ]; then
  for warm in "$ROOT/.build" "$ROOT"/.build-*; do
    if [ "$warm" != "$SCRATCH" ] && [ -d "$warm/checkouts" ] && [ -f "$warm/workspace-state.json" ]; then
      echo "build.sh: reusing dependency checkouts from $warm"
      cp -a "$warm/checkouts" "$warm/workspace-state.json" "$SCRATCH/"
      [ -d "$warm/repositories" ] && cp -a "$warm/repositories" "$SCRATCH/"
      break
    fi
  done
fi

start=$(date +%s)
# toml++ (inside TOMLKit) has internal assertions that input reaches (known findings tomlpp.*: "[=" aborts the parser).
# The fuzz build compiles C++ with NDEBUG so fuzzing goes on past them, with ASan checking what the parser then does;
# FUZZ_TOMLPP_ASSERTS=1 keeps them, as the package's own builds do.
ndebug=(-Xcxx -DNDEBUG)
[ "${FUZZ_TOMLPP_ASSERTS:-0}" = 1 ] && ndebug=()
[ "${FUZZ_SKIP_CORE:-0}" = 1 ] || (cd "$ROOT" && "$SWIFT" build -c release --scratch-path "$SCRATCH" --target CheckpointCore \
  --sanitize=fuzzer --sanitize=address "${ndebug[@]}")
REL="$SCRATCH/release"
core_done=$(date +%s)

objects=()
for t in CheckpointCore TOMLKit CTOML Logging; do
  [ -d "$REL/$t.build" ] || { echo "build.sh: $REL/$t.build is missing" >&2; exit 1; }
  while IFS= read -r o; do objects+=("$o"); done < <(find "$REL/$t.build" -name '*.o' | sort)
done
ctoml_include=$(find "$SCRATCH/checkouts" -path '*/Sources/CTOML/include' -type d | head -n1)

rm -f "$OUT/checkpoint-fuzz"
"$SWIFTC" -O -g -swift-version 6 -parse-as-library -module-name CheckpointFuzz \
  -sanitize=fuzzer,address \
  -I "$REL/Modules" -I "$REL" \
  -Xcc -fmodule-map-file="$REL/CTOML.build/module.modulemap" ${ctoml_include:+-Xcc -I"$ctoml_include"} \
  "$ROOT"/Tests/Fuzz/Sources/*.swift "${objects[@]}" -lstdc++ \
  -o "$OUT/checkpoint-fuzz" 2>&1 | grep -v "ld.gold: warning: Cannot export local symbol '__asan_" || true
[ -x "$OUT/checkpoint-fuzz" ] || { echo "build.sh: linking failed" >&2; exit 1; }
end=$(date +%s)
echo "build.sh: $OUT/checkpoint-fuzz built (core with sanitizers $((core_done - start)) s, targets and link $((end - core_done)) s)"
