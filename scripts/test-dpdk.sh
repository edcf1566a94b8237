#!/usr/bin/env bash
# The DPDK backend's checks (cargo feature `dpdk`), on virtual devices with the
# EAL in --no-huge --no-pci mode: no NIC, hugepages or privileges, only the
# packages of scripts/setup-dpdk.sh. About a minute once built.
#
#   scripts/test-dpdk.sh          clippy with the feature, the DPDK tests,
#                                 `p4clone soft --dpdk` on the README example
#                                 against the pcap backend (main lcore and a
#                                 worker lcore), clone send failures as
#                                 `p4clone stats` reads them from a running
#                                 target, and two worker lcores on net_null
#   scripts/test-dpdk.sh --bench  the side-by-side benchmark with dpdk-testpmd
#                                 (BENCHMARKS.md "DPDK"; P4CLONE_BENCH_SECS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! pkg-config --exists libdpdk; then
  echo "test-dpdk: pkg-config finds no libdpdk: run scripts/setup-dpdk.sh first" >&2
  exit 1
fi
# Debian/Ubuntu ship the PMDs as plugins the EAL loads with -d DIR.
PMDS="${P4CLONE_DPDK_PMDS:-$(ls -d "$(pkg-config --variable=libdir libdpdk)"/dpdk/pmds-* 2>/dev/null | tail -n1)}"
if [ -z "$PMDS" ] || [ ! -d "$PMDS" ]; then
  echo "test-dpdk: no PMD plugin directory under $(pkg-config --variable=libdir libdpdk)/dpdk; set P4CLONE_DPDK_PMDS" >&2
  exit 1
fi
export P4CLONE_DPDK_PMDS="$PMDS"
echo "test-dpdk: DPDK $(pkg-config --modversion libdpdk), PMDs in $PMDS"

if [ "${1:-}" = "--bench" ]; then
  exec cargo test --release -p p4clone-soft --features dpdk --test dpdk_bench -- --ignored --nocapture
fi

cargo clippy -p p4clone-dpdk-sys -p p4clone-soft --features p4clone-soft/dpdk --all-targets -- -D warnings
cargo test -p p4clone-soft --features dpdk --lib ports::dpdk
cargo test -p p4clone-soft --features dpdk --test dpdk

# `p4clone soft --dpdk` on the README example (net_pcap devices) must write what
# the pcap backend writes, frame for frame.
cargo build --features dpdk --bin p4clone
bin="${CARGO_TARGET_DIR:-target}/debug/p4clone"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/pcap" "$tmp/dpdk"
"$bin" soft --p4rt 127.0.0.1:0 --config examples/basic.yaml --out "$tmp/pcap" \
  --port 1=pcap:examples/basic-port1.pcap --port 2=pcap:examples/basic-port2.pcap >"$tmp/pcap.txt" 2>&1
timeout -s INT 60 "$bin" soft --p4rt 127.0.0.1:0 --config examples/basic.yaml \
  --dpdk "-l 0 --no-huge -m 512 --no-pci --no-shconf -d $PMDS --log-level=4 \
          --vdev net_pcap0,rx_pcap=examples/basic-port1.pcap,tx_pcap=$tmp/dpdk/port-1.pcap \
          --vdev net_pcap1,rx_pcap=examples/basic-port2.pcap,tx_pcap=$tmp/dpdk/port-2.pcap \
          --vdev net_pcap2,tx_pcap=$tmp/dpdk/port-3.pcap" \
  --port 1=dpdk:net_pcap0 --port 2=dpdk:net_pcap1 --port 3=dpdk:net_pcap2 >"$tmp/dpdk.txt" 2>&1 \
  || { cat "$tmp/dpdk.txt" >&2; exit 1; }
# The same on a worker lcore (the main lcore serves P4Runtime; the two file
# inputs are merged by timestamp on lcore 1).
mkdir -p "$tmp/dpdk2"
timeout -s INT 60 "$bin" soft --p4rt 127.0.0.1:0 --config examples/basic.yaml \
  --dpdk "--lcores 0@0,1@1 --no-huge -m 512 --no-pci --no-shconf -d $PMDS --log-level=4 \
          --vdev net_pcap0,rx_pcap=examples/basic-port1.pcap,tx_pcap=$tmp/dpdk2/port-1.pcap \
          --vdev net_pcap1,rx_pcap=examples/basic-port2.pcap,tx_pcap=$tmp/dpdk2/port-2.pcap \
          --vdev net_pcap2,tx_pcap=$tmp/dpdk2/port-3.pcap" \
  --port 1=dpdk:net_pcap0 --port 2=dpdk:net_pcap1 --port 3=dpdk:net_pcap2 --dpdk-burst 8 >"$tmp/dpdk2.txt" 2>&1 \
  || { cat "$tmp/dpdk2.txt" >&2; exit 1; }
python3 - "$tmp" <<'PY'
import struct, sys
def records(path):
    b = open(path, "rb").read()
    le = b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    out, o = [], 24
    while o < len(b):
        _, _, caplen, _ = struct.unpack("<IIII" if le else ">IIII", b[o:o + 16])
        out.append(b[o + 16:o + 16 + caplen])
        o += 16 + caplen
    return out
tmp, bad = sys.argv[1], 0
for run in ("dpdk", "dpdk2"):
    for n in (1, 2, 3):
        a, d = records(f"{tmp}/pcap/port-{n}.pcap"), records(f"{tmp}/{run}/port-{n}.pcap")
        same = a == d
        bad += not same
        print(f"test-dpdk: README example ({run}) port {n}: pcap backend {len(a)} frames, dpdk {len(d)}: "
              f"{'same' if same else 'DIFFERENT'}")
sys.exit(1 if bad else 0)
PY

# Send failures reach `p4clone stats` over the target's CloneDiagnostics service:
# a 4-mbuf clone pool without a cache makes most clones fail to allocate; the
# stats read from the running target (--hold) must show them, and num_succeeded
# must be the clones that left on port 3.
mkdir -p "$tmp/fail"
"$bin" soft --p4rt 127.0.0.1:0 --config examples/basic.yaml --hold --dpdk-tx-pool 4 --dpdk-pool-cache 0 \
  --dpdk "-l 0 --no-huge -m 512 --no-pci --no-shconf -d $PMDS --log-level=4 \
          --vdev net_pcap0,rx_pcap=examples/basic-port1.pcap,tx_pcap=$tmp/fail/port-1.pcap \
          --vdev net_pcap1,rx_pcap=examples/basic-port2.pcap,tx_pcap=$tmp/fail/port-2.pcap \
          --vdev net_pcap2,tx_pcap=$tmp/fail/port-3.pcap" \
  --port 1=dpdk:net_pcap0 --port 2=dpdk:net_pcap1 --port 3=dpdk:net_pcap2 >"$tmp/fail.txt" 2>&1 &
soft_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o 'P4Runtime on [0-9.:]*' "$tmp/fail.txt" 2>/dev/null | head -n1 | awk '{print $3}' || true)
  # --hold says when the inputs are drained.
  if [ -n "$addr" ] && grep -q 'inputs drained' "$tmp/fail.txt"; then break; fi
  sleep 0.1
done
if [ -z "$addr" ] || ! "$bin" stats examples/basic.yaml --address "$addr" --output json >"$tmp/fail.json"; then
  kill -INT "$soft_pid" 2>/dev/null || true
  cat "$tmp/fail.txt" >&2
  exit 1
fi
kill -INT "$soft_pid"
wait "$soft_pid" || { cat "$tmp/fail.txt" >&2; exit 1; }
python3 - "$tmp/fail.json" "$tmp/fail/port-3.pcap" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
rows = [c for v in rep["virtual_services"] for s in v["se_stats"] if s["se"] != "PROC_Aggregate"
        for c in s["clone_srvr_stats"]]
b = open(sys.argv[2], "rb").read()
frames, o = 0, 24
while o < len(b):
    o += 16 + int.from_bytes(b[o + 8:o + 12], "little")
    frames += 1
failed = sum(c["num_mbuf_alloc_failed"] + c["num_driver_failures"] for c in rows)
ok = (rows and failed > 0
      and all(c["num_succeeded"] + c["num_mbuf_alloc_failed"] + c["num_driver_failures"] == c["num_total_pkts_cloned"]
              for c in rows)
      and sum(c["num_succeeded"] for c in rows) == frames)
print(f"test-dpdk: send failures in p4clone stats: {failed} failed, "
      f"{sum(c['num_succeeded'] for c in rows)} succeeded, {frames} clone frames sent: {'ok' if ok else 'FAILED'}")
if not ok:
    print(json.dumps(rep, indent=1), file=sys.stderr)
sys.exit(0 if ok else 1)
PY

# Two worker lcores (both on CPU 1 here), each with its own queue pair on every
# net_null device (RSS), forwarding until SIGINT: exit 0, frames both ways.
timeout --preserve-status -s INT 4 "$bin" soft --p4rt 127.0.0.1:0 --config examples/basic.yaml \
  --dpdk "--lcores 0@0,1@1,2@1 --no-huge -m 512 --no-pci --no-shconf -d $PMDS --log-level=4 \
          --vdev net_null0 --vdev net_null1 --vdev net_null2" \
  --port 1=dpdk:net_null0 --port 2=dpdk:net_null1 --port 3=dpdk:net_null2 --dpdk-burst 64 >"$tmp/null.txt" 2>&1 \
  || { cat "$tmp/null.txt" >&2; exit 1; }
python3 - "$tmp/null.txt" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
rows = {int(l.split()[0]): l.split() for l in lines if l.strip() and l.split()[0].isdigit() and "dpdk:" in l}
ok = all(n in rows and int(rows[n][1]) > 0 and int(rows[n][2]) > 0 and "txq 0 of 2" in " ".join(rows[n]) for n in (1, 2))
print(f"test-dpdk: two worker lcores on net_null: {'ok' if ok else 'FAILED'}")
if not ok:
    print("\n".join(lines), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
echo "test-dpdk: ok"
