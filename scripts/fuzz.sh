#!/usr/bin/env bash
# Runs a coverage-guided fuzz target (cargo-fuzz / libFuzzer, nightly toolchain) over
# its committed corpus. Installs cargo-fuzz first if it is missing.
#
#   scripts/fuzz.sh [TARGET] [SECONDS]
#
# TARGET: config_yaml (default), compile, pcap_reader, pipeline, or `all` (each in
# turn). SECONDS: libFuzzer's -max_total_time (default 60). New corpus entries stay
# in fuzz/corpus/TARGET/ (ignored by git; only seed-* files are committed); crash
# inputs go to fuzz/artifacts/TARGET/. Figures and findings: RELIABILITY.md.
set -euo pipefail

target="${1:-config_yaml}"
seconds="${2:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$target" = all ]; then
    targets=$(cargo fuzz list)
else
    targets="$target"
fi

for t in $targets; do
    mkdir -p "corpus/$t"
    echo "fuzz.sh: $t for ${seconds}s" >&2
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds"
done
