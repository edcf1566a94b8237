#!/usr/bin/env bash
# Installs Wireshark's command-line decoder `tshark` (Debian package `tshark`),
# which tests/tshark.rs uses to dissect the encapsulated copies p4clone sends.
# Idempotent: nothing is done when tshark is on PATH. Never fatal: where the
# install is impossible (no apt-get, no root or sudo, no network) it prints one
# line and exits 0, and tests/tshark.rs then skips with one SKIP line.
set -uo pipefail

if command -v tshark >/dev/null 2>&1; then
  echo "setup-tshark: $(tshark -v 2>/dev/null | head -n1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-tshark: apt-get not found; tshark not installed (tests/tshark.rs will skip)"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup-tshark: not root and no sudo; tshark not installed (tests/tshark.rs will skip)"
    exit 0
  fi
  sudo="sudo -n"
fi
echo "setup-tshark: installing tshark"
# tshark's postinst asks whether non-root users may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
if $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends tshark; then
  echo "setup-tshark: $(tshark -v 2>/dev/null | head -n1)"
else
  echo "setup-tshark: apt-get install tshark failed; tshark not installed (tests/tshark.rs will skip)"
fi
exit 0
