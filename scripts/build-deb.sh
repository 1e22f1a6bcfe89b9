#!/usr/bin/env bash
# Builds the Linux package target/debian/oqs-terminal_<version>-1_<arch>.deb (cargo-deb; metadata in
# reader-daemon/Cargo.toml, files in installer/debian/). Prints the package's path on the last line.
#
#   scripts/build-deb.sh                      # release build: what `make deb` runs
#   OQS_DEB_PROFILE=dev scripts/build-deb.sh  # from the debug binaries (the CI package test; no second build)
#
# The desktop app (target/<profile>/oqs-terminal, from src-tauri; the UI must be built first: `make ui`) goes
# into the same package with its desktop entry (installer/debian/oqs-terminal.desktop) and its icon
# (src-tauri/icons/icon.png).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${OQS_DEB_PROFILE:-release}"
case "$PROFILE" in
  dev) OUT_DIR=target/debug; FAST=(--fast) ;;
  *) OUT_DIR="target/$PROFILE"; FAST=() ;;
esac

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }

# The whole workspace, as `make test` builds it (a -p subset, or --bins without --tests, would unify features
# differently and rebuild); the release package is built from the binaries alone.
case "$PROFILE" in
  dev) cargo build --locked --profile dev --workspace --bins --tests ;;
  *) cargo build --locked --profile "$PROFILE" --workspace --bins ;;
esac
deb="$(cargo deb -p reader-daemon --no-build --profile "$PROFILE" --locked "${FAST[@]}" -o target/debian/ | tail -n 1)"
[[ -f "$deb" ]] || { echo "build-deb: cargo deb did not report a package (got: $deb)" >&2; exit 1; }

[[ -x "$OUT_DIR/oqs-terminal" ]] || { echo "build-deb: $OUT_DIR/oqs-terminal was not built" >&2; exit 1; }
{
  echo "build-deb: adding the desktop app from $OUT_DIR/oqs-terminal" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  dpkg-deb -R "$deb" "$work/root"
  install -D -m 755 "$OUT_DIR/oqs-terminal" "$work/root/usr/bin/oqs-terminal"
  install -D -m 644 installer/debian/oqs-terminal.desktop "$work/root/usr/share/applications/oqs-terminal.desktop"
  install -D -m 644 src-tauri/icons/icon.png "$work/root/usr/share/icons/hicolor/512x512/apps/oqs-terminal.png"
  (cd "$work/root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  # The app needs the WebKitGTK runtime that Tauri links against.
  sed -i 's/^Depends: \(.*\)$/Depends: \1, libwebkit2gtk-4.1-0, libgtk-3-0/' "$work/root/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$work/root" "$deb" >/dev/null
}
echo "$deb"
