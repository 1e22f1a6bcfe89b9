#!/usr/bin/env bash
# make windows-installer: the Windows installer, built on Linux. Release builds for x86_64-pc-windows-gnu of
# oqs-readerd.exe, oqs.exe and the app (oqs-terminal.exe, with WebView2Loader.dll), stripped into a staging
# folder, then makensis with oqs-terminal.nsi (src-tauri/windows/hooks.nsh does the folders, ACLs and service).
# Out: target/windows-installer/oqs-terminal-setup-<version>.exe. Nothing is downloaded: Debian's nsis has the
# 64-bit stubs and plugins, and the WebView2 loader comes with the webview2-com-sys crate.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=x86_64-pc-windows-gnu
CARGO="${CARGO:-cargo}"
OUT=target/windows-installer
STAGE="$OUT/stage"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' reader-daemon/Cargo.toml | head -n 1)"
for tool in makensis x86_64-w64-mingw32-strip; do
  command -v "$tool" >/dev/null || { echo "windows-installer: $tool is missing; run make setup" >&2; exit 1; }
done
[ -f ui/dist/index.html ] || { echo "windows-installer: ui/dist is missing; run make ui first" >&2; exit 1; }

# No virtual-reader, no failpoints: what a facility runs.
"$CARGO" build --release --locked --target "$TARGET" -p reader-daemon -p oqs-cli -p oqs-terminal
REL="target/$TARGET/release"
rm -rf "$STAGE" && mkdir -p "$STAGE"
for exe in oqs-readerd.exe oqs.exe oqs-terminal.exe; do
  x86_64-w64-mingw32-strip -o "$STAGE/$exe" "$REL/$exe"
done
loader="$(find "$REL/build" -path '*x64*' -name WebView2Loader.dll -print -quit 2>/dev/null || true)"
[ -n "$loader" ] || loader="$(find "$REL" -name WebView2Loader.dll -print -quit)"
[ -n "$loader" ] || { echo "windows-installer: WebView2Loader.dll was not found under $REL" >&2; exit 1; }
cp "$loader" "$STAGE/WebView2Loader.dll"

installer="$OUT/oqs-terminal-setup-$VERSION.exe"
# makensis works in the script's folder: every path it is given is absolute.
makensis -V2 -DVERSION="$VERSION" -DBIN="$PWD/$STAGE" -DAPP \
  -DEXAMPLE="$PWD/reader-daemon/oqs-readerd.example.toml" -DHOOKS="$PWD/src-tauri/windows/hooks.nsh" \
  -DOUTFILE="$PWD/$installer" installer/windows/oqs-terminal.nsi
ls -l "$installer"
