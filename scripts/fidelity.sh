#!/usr/bin/env bash
# The fidelity suite (README "Testing on BMv2"): is the software target what BMv2 is, and is
# the p4c build what the repository says?
#
# Usage:
#   scripts/fidelity.sh [CARGO TEST FILTER...]
#
# 1. the stored test vectors are what scripts/gen_vectors.py derives (python3 scripts/gen_vectors.py --check);
# 2. the BMv2 launcher's process handling (cargo test -p p4clone-bmv2);
# 3. cargo test --test fidelity:
#    - every stored vector (tests/vectors/*) on the software target and on BMv2 equals its expected frames;
#    - p4clone diff soft<->soft and soft<->bmv2 over every examples/*.yaml device with pcaps;
#    - an altered output is reported (a comparison that cannot fail is worthless);
#    - p4c compiles p4src/traffic_clone.p4 with no warning, its P4Info equals the hand-kept one
#      semantically, and p4src/build/SOURCE.sha256 matches the source.
#
# BMv2 is $P4CLONE_BMV2 or simple_switch_grpc on PATH; p4c is $P4CLONE_P4C, p4c-bm2-ss or p4c on
# PATH. Where they are absent their parts print one "SKIP: ..." line each and the rest must pass.
# $P4CLONE_FIDELITY_BMV2_ARGS adds flags to every BMv2 run (e.g. "--bmv2-window 2").
#
# Exit status: 0 everything that ran is identical (and the P4Info matches), non-zero otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

echo "== stored vectors are the generator's output"
if command -v python3 >/dev/null 2>&1; then
    python3 scripts/gen_vectors.py --check
else
    echo "SKIP: python3 not found; cannot regenerate the vectors to compare"
fi

echo "== BMv2 launcher (process handling, P4Runtime push path)"
cargo test --quiet -p p4clone-bmv2

echo "== fidelity: vectors, examples soft<->soft / soft<->bmv2, altered output, p4c"
# One test at a time so each SKIP/WARN line sits next to its test.
cargo test --test fidelity -- --test-threads=1 "$@"

bmv2=present; p4c=present
if [ -n "${P4CLONE_BMV2:-}" ]; then [ -x "$P4CLONE_BMV2" ] || command -v -- "$P4CLONE_BMV2" >/dev/null 2>&1 || bmv2=absent
else command -v simple_switch_grpc >/dev/null 2>&1 || bmv2=absent; fi
if [ -n "${P4CLONE_P4C:-}" ]; then [ -x "$P4CLONE_P4C" ] || command -v -- "$P4CLONE_P4C" >/dev/null 2>&1 || p4c=absent
else { command -v p4c-bm2-ss || command -v p4c; } >/dev/null 2>&1 || p4c=absent; fi
echo "fidelity: OK (BMv2 $bmv2, p4c $p4c$( [ "$bmv2$p4c" = presentpresent ] || echo '; the parts needing the absent tools were skipped'))"
