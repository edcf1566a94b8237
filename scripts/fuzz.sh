#!/usr/bin/env bash
# Runs a coverage-guided fuzz target (cargo-fuzz / libFuzzer, nightly toolchain) over
# its committed corpus. Installs cargo-fuzz first if it is missing.
#
#   scripts/fuzz.sh [TARGET] [SECONDS]
#
# TARGET: config_yaml (default), compile, pcap_reader, pipeline, pipeline_tables,
# p4runtime_server, import_avi, port_batch, or `all` (each in turn; `cargo fuzz list`). SECONDS:
# libFuzzer's -max_total_time (default 60). New corpus entries stay in
# fuzz/corpus/TARGET/ (ignored by git; only seed-* files are committed); crash
# inputs go to fuzz/artifacts/TARGET/. Figures and findings: RELIABILITY.md.
#
# Toolchain: nightly when rustup has it; otherwise the stable toolchain with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly-only flags; stable ships the
# sanitizer runtimes). CI (.ci/run) runs `fuzz.sh all 20`.
set -euo pipefail

target="${1:-config_yaml}"
seconds="${2:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    echo "fuzz.sh: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi

if [ "$target" = all ]; then
    targets=$(cargo fuzz list)
else
    targets="$target"
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "fuzz.sh: $t for ${seconds}s" >&2
    started=$(date +%s)
    cargo "${toolchain[@]}" fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" 2>"$log" || {
        tail -n 60 "$log" >&2
        echo "fuzz.sh: $t FAILED; the input is in fuzz/artifacts/$t/ (RELIABILITY.md: reproduce)" >&2
        exit 1
    }
    # libFuzzer's last status line: executions, coverage, features, corpus.
    echo "fuzz.sh: $t: $(grep -E '^#[0-9]+' "$log" | tail -n 1) ($(($(date +%s) - started)) s with build)" >&2
done
