#!/usr/bin/env bash
# Runs every fuzz target for a fixed time (default 300 s each) starting from the committed seeds, and prints
# libFuzzer's final statistics. Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP lets the stable
# toolchain accept the sanitizer flags cargo-fuzz passes. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-300}"
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in frame_decoder cql_parser cql_values; do
    mkdir -p "corpus/$target"
    cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
    echo "==> $target for ${seconds}s"
    cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|Done)' || true
done
