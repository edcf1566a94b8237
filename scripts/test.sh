#!/usr/bin/env bash
# The project's test command (README "Tests"): sets up what the tests need on a
# fresh machine, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stored packet test vectors must be exactly what the generator derives from the
# data-plane contract.
if [ -f scripts/gen_vectors.py ]; then
  python3 scripts/gen_vectors.py --check
fi

# Tests that need p4c or BMv2 skip with a message where those are absent.
[ -x scripts/p4c-check.sh ] && ./scripts/p4c-check.sh

cargo test --workspace
