#!/usr/bin/env bash
# Compile p4src/traffic_clone.p4 for BMv2 (v1model) with p4c and fail on any
# p4c warning or error; then check that p4c's P4Info equals the hand-kept
# p4src/traffic_clone.p4info.txtpb.
#
# Usage:
#   scripts/p4c-check.sh           compile into a temporary directory (build/ untouched)
#   scripts/p4c-check.sh --update  compile into p4src/build/ and write build/SOURCE.sha256
#
# The compiler is $P4CLONE_P4C if set, else `p4c` on PATH; either the p4c
# driver or the BMv2 back end p4c-bm2-ss. Without one the script prints
#   SKIP: p4c not found (set P4CLONE_P4C or put p4c on PATH)
# and exits 0. In every case it warns (on stderr) when p4src/build/SOURCE.sha256
# is missing or does not match the current source.
#
# Exit status: 0 ok or skipped, 1 compile failure / P4Info mismatch, 2 bad usage.
set -euo pipefail

SRC=traffic_clone.p4
P4INFO=traffic_clone.p4info.txtpb
JSON=traffic_clone.json

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
p4src="$root/p4src"

update=0
case "${1:-}" in
    "") ;;
    --update) update=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "p4c-check: unknown argument '$1' (use --update or nothing)" >&2; exit 2 ;;
esac
[ "$#" -le 1 ] || { echo "p4c-check: too many arguments" >&2; exit 2; }

warn() { echo "WARN: $*" >&2; }

# Is build/ compiled from the current source? Warnings only, never fatal.
check_stale() {
    local record="$p4src/build/SOURCE.sha256"
    if ! command -v sha256sum >/dev/null 2>&1; then
        warn "sha256sum not found; cannot check p4src/build/SOURCE.sha256"
    elif [ ! -f "$record" ]; then
        warn "p4src/build/SOURCE.sha256 is missing: compiled artifacts absent or unrecorded (see p4src/build/README.md)"
    elif ! (cd "$p4src" && sha256sum --check --status build/SOURCE.sha256) 2>/dev/null; then
        warn "p4src/build is stale: build/SOURCE.sha256 does not match $SRC; refresh with scripts/p4c-check.sh --update"
    fi
}

# Find the compiler.
p4c_bin=""
if [ -n "${P4CLONE_P4C:-}" ]; then
    if ! p4c_bin="$(command -v -- "$P4CLONE_P4C" 2>/dev/null)"; then
        echo "p4c-check: P4CLONE_P4C='$P4CLONE_P4C' is not an executable" >&2
        exit 1
    fi
elif command -v p4c >/dev/null 2>&1; then
    p4c_bin="$(command -v p4c)"
fi

if [ -z "$p4c_bin" ]; then
    echo "SKIP: p4c not found (set P4CLONE_P4C or put p4c on PATH)"
    check_stale
    exit 0
fi

if [ "$update" = 1 ]; then
    out="$p4src/build"
    mkdir -p "$out"
else
    out="$(mktemp -d "${TMPDIR:-/tmp}/p4c-check.XXXXXX")"
fi
log="$(mktemp "${TMPDIR:-/tmp}/p4c-check-log.XXXXXX")"
trap 'rm -f "$log"; [ "$update" = 1 ] || rm -rf "$out"' EXIT

# The command of p4src/README.md, with the output directory as a variable.
case "$(basename "$p4c_bin")" in
    p4c-bm2-ss*)
        cmd=("$p4c_bin" --arch v1model --p4runtime-files "$out/$P4INFO" -o "$out/$JSON" "$SRC") ;;
    *)
        cmd=("$p4c_bin" --target bmv2 --arch v1model --p4runtime-files "$out/$P4INFO" -o "$out" "$SRC") ;;
esac

echo "p4c-check: (cd p4src && ${cmd[*]})"
rc=0
(cd "$p4src" && "${cmd[@]}") >"$log" 2>&1 || rc=$?

failed=0
if [ "$rc" -ne 0 ]; then
    echo "FAIL: p4c exited with status $rc" >&2
    failed=1
fi
if grep -Eiq 'warning|error' "$log"; then
    echo "FAIL: p4c reported warnings or errors (any warning fails this check)" >&2
    failed=1
fi
if [ "$failed" = 1 ]; then
    cat "$log" >&2
    exit 1
fi
if [ -s "$log" ]; then
    # Nothing flagged, but show what p4c said.
    cat "$log"
fi
for f in "$JSON" "$P4INFO"; do
    if [ ! -s "$out/$f" ]; then
        echo "FAIL: p4c did not write $f" >&2
        exit 1
    fi
done

# The hand-kept P4Info must be what p4c generates (comments and blank lines aside).
strip() { grep -Ev '^[[:space:]]*(#|$)' "$1" || true; }
if ! diff -u <(strip "$p4src/$P4INFO") <(strip "$out/$P4INFO") >"$log"; then
    echo "FAIL: p4src/$P4INFO differs from the P4Info p4c generated (- hand-kept, + p4c):" >&2
    cat "$log" >&2
    echo "If the program is right, make the hand-kept file match (and docs/dataplane.md with it)." >&2
    exit 1
fi

if [ "$update" = 1 ]; then
    (cd "$p4src" && sha256sum "$SRC" > build/SOURCE.sha256)
    echo "p4c-check: updated p4src/build/ and build/SOURCE.sha256"
fi
check_stale
echo "OK: $SRC compiles cleanly and the hand-kept P4Info matches p4c's"
