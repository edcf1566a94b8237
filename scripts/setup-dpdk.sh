#!/usr/bin/env bash
# Installs what the DPDK port backend (cargo feature `dpdk`) needs on Debian /
# Ubuntu: the DPDK 22.11 libraries, headers and PMD plugins (dpdk, dpdk-dev,
# libdpdk-dev), libclang for bindgen (libclang-dev) and pkg-config. Idempotent:
# only missing packages are installed; nothing is done when all are present.
set -euo pipefail

pkgs=(dpdk dpdk-dev libdpdk-dev libclang-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-dpdk: ${pkgs[*]} already installed (DPDK $(pkg-config --modversion libdpdk))"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "setup-dpdk: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
echo "setup-dpdk: DPDK $(pkg-config --modversion libdpdk)"
