#!/usr/bin/env bash
# Creates (idempotently) a Python venv holding the third-party P4Runtime client
# `p4runtime-shell` 0.0.6 (PyPI), which the software target's interop test
# (targets/soft/tests/p4runtime_shell.rs) drives against our P4Runtime server.
# docs/targets.md: 0.0.6 installs in a Python 3.11 venv and pulls p4runtime 1.4.1,
# protobuf 3.20.3 and grpcio.
#
# Venv location: $P4CLONE_VENV, else <repo>/target/p4rt-venv.
# On success the last line on stdout is the venv's directory; progress goes to
# stderr. Exit status 0 = ready, 1 = could not be created (e.g. no python3-venv,
# or PyPI unreachable): the interop test then skips with this script's message.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${P4CLONE_VENV:-$ROOT/target/p4rt-venv}"
PYTHON="${PYTHON:-python3}"
PKG="p4runtime-shell==0.0.6"

log() { echo "setup-p4runtime-shell: $*" >&2; }

ready() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.metadata as md
import p4runtime_sh.shell  # noqa: F401
assert md.version("p4runtime-shell") == "0.0.6"
EOF
}

if ready; then
  echo "$VENV"
  exit 0
fi

# Concurrent runs (several test processes, several worktrees) build it once.
mkdir -p "$(dirname "$VENV")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV.lock"
  flock 9
  if ready; then
    echo "$VENV"
    exit 0
  fi
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "no $PYTHON on PATH"
  exit 1
fi

# A half-made venv (interrupted run) is rebuilt from scratch.
if [ -e "$VENV" ] && [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/pip" ]; then
  log "creating venv $VENV"
  if ! "$PYTHON" -m venv "$VENV" >&2; then
    log "'$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)"
    rm -rf "$VENV"
    exit 1
  fi
fi

log "installing $PKG"
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "$PKG" >&2; then
  log "pip could not install $PKG (is PyPI reachable?)"
  exit 1
fi

if ! ready; then
  log "$PKG installed but 'import p4runtime_sh.shell' fails"
  exit 1
fi
echo "$VENV"
