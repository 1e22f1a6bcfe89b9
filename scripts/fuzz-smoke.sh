#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly (seconds each, default 30). The toolchain here is stable only;
# cargo-fuzz needs a few unstable flags, which RUSTC_BOOTSTRAP=1 enables on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
for dir in $(find . -path ./target -prune -o -name Cargo.toml -path '*/fuzz/Cargo.toml' -print | xargs -r -n1 dirname | sort); do
  for t in $(cd "$dir/.." && RUSTC_BOOTSTRAP=1 cargo fuzz list --fuzz-dir "$(basename "$dir")"); do
    echo "fuzz: $dir $t for ${secs}s"
    (cd "$dir/.." && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir "$(basename "$dir")" "$t" -- -max_total_time="$secs" -rss_limit_mb=2048)
  done
done
