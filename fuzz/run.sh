#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60): bytes in, no panic.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
# Seeds (a real archive's plaintext, a filter, a document) are in fuzz/seeds/.
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the one stable
# toolchain on our machines provide them.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(account_document stored_record filter_text archive_plaintext write_read filter_large)
for t in "${targets[@]}"; do
  echo "== $t for ${secs}s"
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  cargo fuzz run "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048
done
