#!/usr/bin/env bash
# Runs every cargo-fuzz target of the tree briefly (default 30 s each). The toolchain here is stable only;
# cargo-fuzz needs a few unstable flags, which RUSTC_BOOTSTRAP=1 enables on stable.
# A fuzz directory is any `fuzz/` folder with its own Cargo.toml; seeds are taken from `fuzz/seeds/<target>`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
mapfile -t dirs < <(find . -path ./target -prune -o -path '*/fuzz/Cargo.toml' -print | xargs -r -n1 dirname | sort)
for dir in "${dirs[@]}"; do
  for t in $(cd "$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz list --fuzz-dir .); do
    echo "fuzz: $dir $t for ${secs}s"
    mkdir -p "$dir/corpus/$t"
    seeds=()
    [ -d "$dir/seeds/$t" ] && seeds=("seeds/$t")
    (cd "$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -rss_limit_mb=2048)
  done
done
