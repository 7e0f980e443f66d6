#!/usr/bin/env bash
# checkpointctl camera on the host (no camera needed): replay → record → replay round trip, snapshot with faces
# outlined, and clear errors for a missing device and bad arguments. The V4L2 paths run in camera-vm.test.sh.
set -uo pipefail
: "${BIN:?BIN must point at the built binaries}"
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
CTL="$BIN/checkpointctl"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
FACES=$SHARED/fixtures/faces
MODEL=$SHARED/models/face_detection_yunet_2022mar.onnx

mkdir -p "$T/src"
cp "$FACES"/with-face/* "$FACES"/masked/* "$T/src/" 2>/dev/null
n_src=$(ls "$T/src" | wc -l)

# record a whole replay (it stops when the replay ends, or after --seconds: a generous 60 s, not a window to count
# frames in); at 5 fps even a starved recorder keeps most of the images (it keeps the newest frame when it is late)
if out=$("$CTL" camera record --replay "$T/src" --fps 5 --seconds 60 --out "$T/rec" 2>&1); then
  n=$(ls "$T/rec"/frame-*.jpg 2>/dev/null | wc -l)
  first=$(ls "$T/rec"/frame-*.jpg | head -1)
  if [ "$n" -ge 5 ] && [ "$n" -le "$n_src" ] && [ "$(head -c 2 "$first" | od -An -tx1 | tr -d ' ')" = "ffd8" ] && grep -q "recorded $n frames" <<<"$out"; then
    pass camera-cli-record
  else fail camera-cli-record "got $n frames from $n_src images: $out"; fi
else fail camera-cli-record "$out"; fi

# the recording replays: a snapshot from it has the first image's size
if out=$("$CTL" camera snapshot --replay "$T/rec" --out "$T/again.png" 2>&1) && [ "$(head -c 4 "$T/again.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ]; then
  grep -Eq "wrote .*again.png: [0-9]+x[0-9]+ sequence 0" <<<"$out" && pass camera-cli-replay-recording || fail camera-cli-replay-recording "$out"
else fail camera-cli-replay-recording "$out"; fi

# stills and recordings show faces (personal data): files 0600, a new recording directory 0700, whatever the umask
modes=$( (stat -c %a "$T/rec"/frame-*.jpg "$T/again.png" | sort -u | tr '\n' ' ') 2>/dev/null); dmode=$(stat -c %a "$T/rec" 2>/dev/null)
[ "$modes" = "600 " ] && [ "$dmode" = 700 ] && pass camera-cli-images-are-private \
  || fail camera-cli-images-are-private "file modes '$modes' (must be 600), directory $dmode (must be 700)"

# recording into a directory that already holds frames is refused (nothing overwritten)
if out=$("$CTL" camera record --replay "$T/src" --seconds 1 --out "$T/rec" 2>&1); then
  fail camera-cli-record-refuses-overwrite "accepted: $out"
else
  grep -q "already holds" <<<"$out" && pass camera-cli-record-refuses-overwrite || fail camera-cli-record-refuses-overwrite "$out"
fi

# snapshot --faces: a face is found and outlined in green; a scene without a face gets none
if [ -f "$MODEL" ]; then
  mkdir -p "$T/one" "$T/none"; cp "$FACES/with-face/grace_hopper_512.jpg" "$T/one/"; cp "$FACES/no-face/coffee.png" "$T/none/"
  out=$("$CTL" camera snapshot --replay "$T/one" --faces --model "$MODEL" --out "$T/face.png" 2>&1)
  plain=$("$CTL" camera snapshot --replay "$T/one" --out "$T/plain.png" 2>&1)
  if grep -q ", 1 face" <<<"$out" && ! cmp -s "$T/face.png" "$T/plain.png"; then pass camera-cli-snapshot-faces; else fail camera-cli-snapshot-faces "$out"; fi
  out=$("$CTL" camera snapshot --replay "$T/none" --faces --model "$MODEL" --out "$T/noface.jpg" 2>&1)
  grep -q ", 0 faces" <<<"$out" && pass camera-cli-snapshot-no-face || fail camera-cli-snapshot-no-face "$out"
else
  fail camera-cli-snapshot-faces "model missing at $MODEL"
fi

# a missing device: clear error naming it, non-zero exit
if out=$("$CTL" camera list --device "$T/video9" 2>&1); then fail camera-cli-list-missing "exit 0: $out"
else grep -q "cannot open camera $T/video9.*No such file" <<<"$out" && pass camera-cli-list-missing || fail camera-cli-list-missing "$out"; fi
if out=$("$CTL" camera snapshot --device "$T/video9" --timeout 1.5 --out "$T/x.jpg" 2>&1); then fail camera-cli-snapshot-missing "exit 0"
else grep -q "no frame within 1.5 s.*disconnected" <<<"$out" && [ ! -e "$T/x.jpg" ] && pass camera-cli-snapshot-missing || fail camera-cli-snapshot-missing "$out"; fi

# bad arguments say what was wrong
out=$("$CTL" camera snapshot --format H264 --out "$T/a.jpg" 2>&1) && fail camera-cli-bad-args "H264 accepted"
grep -q "H264 is not one of YUYV, MJPEG, GREY" <<<"$out" || fail camera-cli-bad-args "$out"
out=$("$CTL" camera snapshot --replay "$T/src" --out "$T/a.bmp" 2>&1) && fail camera-cli-bad-args "bmp accepted"
grep -q "must end in .jpg, .jpeg or .png" <<<"$out" || fail camera-cli-bad-args "$out"
out=$("$CTL" camera snapshot --replay "$T/empty-dir" --out "$T/a.jpg" 2>&1) && fail camera-cli-bad-args "missing replay dir accepted"
grep -q "cannot read replay directory" <<<"$out" && pass camera-cli-bad-args || fail camera-cli-bad-args "$out"
[ $fails -eq 0 ]
