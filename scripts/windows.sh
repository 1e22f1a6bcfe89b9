#!/usr/bin/env bash
# The Windows build, on Linux (installer/windows/README.md says what it covers and what only a Windows PC can).
#   scripts/windows.sh build       # make windows: the four programs for x86_64-pc-windows-gnu, debug, linted
#   scripts/windows.sh installer   # make windows-installer: release programs and the NSIS installer
#
# `build` compiles oqs-readerd.exe, oqs.exe, oqs-virtual-card.exe and oqs-mock-central.exe with clippy as the
# compiler of the workspace's own crates (RUSTC_WORKSPACE_WRAPPER, what `cargo clippy` itself does) and
# -D warnings, so every cfg(windows) line is compiled and linted in one compilation, not two. It is a debug
# build with the daemon's `virtual-reader` feature, for the Wine test (tests/e2e/tests/windows_wine.rs);
# host build scripts and proc-macros are shared with the Linux debug build in target/debug.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-pc-windows-gnu
CARGO="${CARGO:-cargo}"

rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"
command -v x86_64-w64-mingw32-gcc >/dev/null ||
  { echo "windows: x86_64-w64-mingw32-gcc is missing; run make setup (Debian's mingw-w64)" >&2; exit 1; }

PROGRAMS=(-p reader-daemon -p oqs-cli -p virtual-card -p mock-central)

# Face matching is not run under Wine, so the crates Cargo.toml optimises for the Linux face tests (tract, the
# image decoders, rustfft) are compiled unoptimised here: the slowest part of this build otherwise. They are
# target-only crates, so the host artifacts shared with the Linux build are unchanged.
UNOPTIMISED=()
for p in tract-core tract-data tract-linalg tract-hir tract-onnx tract-onnx-opl tract-nnef face-match rustfft \
  hayro-jpeg2000 zune-jpeg image png fdeflate ndarray; do
  UNOPTIMISED+=(--config "profile.dev.package.$p.opt-level=0")
done

case "${1:-build}" in
  build)
    RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver" \
      CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
      "$CARGO" build --locked --target "$TARGET" "${UNOPTIMISED[@]}" "${PROGRAMS[@]}" \
      --features reader-daemon/virtual-reader --bins
    ls -l target/$TARGET/debug/{oqs-readerd,oqs,oqs-virtual-card,oqs-mock-central}.exe
    ;;
  installer)
    exec installer/windows/build-installer.sh
    ;;
  *)
    echo "usage: $0 build|installer" >&2
    exit 2
    ;;
esac
