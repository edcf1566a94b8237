#!/usr/bin/env bash
# Front-end check of p4src/traffic_clone_tna.p4 (Tofino 1, TNA) with p4c's
# p4test against the TNA include files; any warning or error is a failure.
#
# Usage:
#   P4CLONE_TNA_INCLUDE=DIR scripts/p4c-check-tna.sh
#
# DIR holds tna.p4 and the files it includes (in p4c's source tree:
# backends/tofino/bf-p4c/p4include). The compiler is $P4CLONE_P4TEST if set,
# else `p4test` on PATH. Without either the script prints a SKIP line and
# exits 0. The full build for a switch (bf-p4c) is in the README, "Running on
# Tofino".
#
# Exit status: 0 ok or skipped, 1 front-end warning or error.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
p4test="${P4CLONE_P4TEST:-$(command -v p4test || true)}"
include="${P4CLONE_TNA_INCLUDE:-}"

if [ -z "$p4test" ]; then
    echo "SKIP: p4test not found (set P4CLONE_P4TEST or put p4test on PATH)"
    exit 0
fi
if [ -z "$include" ] || [ ! -f "$include/tna.p4" ]; then
    echo "SKIP: no TNA include files (set P4CLONE_TNA_INCLUDE to the directory holding tna.p4)"
    exit 0
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "$p4test" --std p4-16 -D__TARGET_TOFINO__=1 -I "$include" \
        "$root/p4src/traffic_clone_tna.p4" >"$log" 2>&1; then
    cat "$log" >&2
    echo "FAIL: p4test rejected p4src/traffic_clone_tna.p4" >&2
    exit 1
fi
if grep -qi "warning" "$log"; then
    cat "$log" >&2
    echo "FAIL: p4test warned on p4src/traffic_clone_tna.p4" >&2
    exit 1
fi
echo "ok: p4src/traffic_clone_tna.p4 passes p4test against $include/tna.p4"
