#!/bin/bash
# Builds capture-check (see capture-check.swift) with swiftc from the product's own camera sources and swift-log,
# without OpenCV. The MJPEG decoder is replaced by one that refuses (vivid offers no MJPEG; the MJPEG path is
# covered by the unit tests with real and truncated JPEG frames). Prints the binary's path; cached by source hash.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUTDIR=${CAPTURE_CHECK_CACHE:-/var/cache/checkpointd-camera-vm/capture-check}
LOGSRC=""
for d in "$ROOT"/.build*/checkouts/swift-log/Sources/Logging /opt/swift-packages/apple/swift-log*/Sources/Logging; do
  [ -d "$d" ] && { LOGSRC=$d; break; }
done
[ -n "$LOGSRC" ] || { echo "swift-log sources not found (build the package first)" >&2; exit 1; }
CORE=("$ROOT"/Sources/CheckpointCore/Support/CoreError.swift "$ROOT"/Sources/CheckpointCore/Support/ReconnectLadder.swift)
for f in "$ROOT"/Sources/CheckpointCore/Camera/*.swift; do
  # the config mapping needs the whole config model; the kiosk preview's drawing needs the faces model
  case "$f" in *+Config.swift|*/PreviewRendering.swift) ;; *) CORE+=("$f") ;; esac
done
ADAPT=("$ROOT"/Sources/CheckpointAdapters/Support/AdapterError.swift "$ROOT"/Sources/CheckpointAdapters/Camera/V4L2{Device,Capabilities,FormatDescription,FrameSize,FrameInterval,FrameRate,DequeuedBuffer,WaitResult}.swift
       "$ROOT"/Sources/CheckpointAdapters/Camera/SystemV4L2Device.swift "$ROOT"/Sources/CheckpointAdapters/Support/CaptureCancellation.swift
       "$ROOT"/Sources/CheckpointAdapters/Camera/V4L2Capture.swift "$ROOT"/Sources/CheckpointAdapters/Camera/CameraProbe.swift)
HASH=$(cat "${CORE[@]}" "${ADAPT[@]}" "$(dirname "$0")/capture-check.swift" "$ROOT/Sources/CV4L2/shim.h" "$0" | sha256sum | cut -c1-16)
BIN=$OUTDIR/capture-check-$HASH
if [ ! -x "$BIN" ]; then
  T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
  mkdir -p "$OUTDIR"
  cat > "$T/NoImageCodec.swift" <<'S'
enum ImageCodec {
    struct Image { var width: Int; var height: Int; var channels: Int; var pixels: [UInt8] }
    static func decode(_ data: [UInt8], gray: Bool = false, maxWidth: Int? = nil, maxHeight: Int? = nil) throws(AdapterError) -> Image {
        throw AdapterError(.unsupported, "capture-check is built without an MJPEG decoder")
    }
}
S
  # One module: the sources' `import CheckpointCore` resolves to an empty stand-in module.
  mkdir -p "$T/mod"
  echo "" > "$T/empty.swift"
  swiftc -parse-as-library -emit-module -module-name CheckpointCore -emit-module-path "$T/mod/CheckpointCore.swiftmodule" "$T/empty.swift"
  swiftc -O -swift-version 5 -package-name swift_log -module-name Logging -emit-module -emit-module-path "$T/mod/Logging.swiftmodule" -parse-as-library \
    -emit-library -static -o "$T/libLogging.a" $(find "$LOGSRC" -name '*.swift')
  sed 's/^import CheckpointCore$//' "$(dirname "$0")/capture-check.swift" > "$T/main.swift"
  for f in "${CORE[@]}" "${ADAPT[@]}"; do sed 's/^import CheckpointCore$//; s/^@_exported import CheckpointCore$//' "$f" > "$T/$(basename "$f")"; done
  swiftc -O -swift-version 6 -module-name CaptureCheck -I "$T/mod" -Xcc -fmodule-map-file="$ROOT/Sources/CV4L2/module.modulemap" \
    "$T"/*.swift "$T/libLogging.a" -o "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
