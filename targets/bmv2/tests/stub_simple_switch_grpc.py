#!/usr/bin/env python3
"""A stand-in for the *process interface* of BMv2 simple_switch_grpc in file mode, used only
by targets/bmv2/tests/launcher.rs to exercise the launcher's process handling (argument
syntax, readiness, settling, SIGTERM, output collection, early-exit reporting) where BMv2
is not installed. It does not process packets and speaks no P4Runtime: it copies each
port's input frames to the same port's output. It is never used for a fidelity result.

Behaviour follows BMv2's (src/bm_sim/options_parse.cpp, switch.cpp, pcap_file.cpp):
- `--help` prints the option list and exits 0;
- general options before `--`, target options (`--grpc-server-addr`) after it;
- `-i N@NAME` opens NAME_in.pcap (missing: fatal, exit 1) and creates NAME_out.pcap with
  pcap_open_dead(0, 0): link type 0, snaplen 0; the file header is written only with the
  port's first frame, so a port that sends nothing leaves a 0-byte file;
- `--use-files N`: processing starts N seconds later (here: after start, not after a
  pipeline is set, since the stub has no P4Runtime);
- SIGTERM is not caught.

A work directory whose path contains `exit-early` makes it print a parse error and exit 1
(tests run in parallel, so the mode travels in the arguments, not the environment).
"""
import os
import socket
import struct
import sys
import threading
import time

HELP = """Usage: SWITCH_NAME [options] <path to JSON config file>
Options:
  -h [ --help ]                Display this help message
  -i [ --interface ] arg       <port-num>@<interface-name>
  --use-files arg              Read/write packets from files
  --thrift-port arg            TCP port on which to run the Thrift runtime server
  --device-id arg              Device ID
  --log-file arg               Enable logging to given file
  --log-level arg              Set log level
  --log-flush                  Flush
  --no-p4                      Enable the switch to start without an inout configuration
Target specific options:
  --grpc-server-addr arg       Bind gRPC server to given address [default is 0.0.0.0:9559]
"""


def fail(msg):
    print(msg)
    sys.stdout.flush()
    sys.exit(1)


def read_pcap(path):
    data = open(path, "rb").read()
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        fail(f"[critical] bad pcap {path}")
    off, recs = 24, []
    while off < len(data):
        s, us, cap, orig = struct.unpack("<IIII", data[off:off + 16])
        if cap != orig:
            fail(f"[critical] Incompletely captured packet in {path}")
        recs.append(((s, us), data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return recs


def main():
    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        print(HELP)
        return 0
    if "exit-early" in " ".join(argv):
        fail("Error while parsing command line arguments")
    if "--" not in argv:
        fail("stub: no `--` before target options")
    sep = argv.index("--")
    general, target = argv[:sep], argv[sep + 1:]
    if target[:1] != ["--grpc-server-addr"] or len(target) != 2:
        fail(f"stub: target options {target!r}")
    ports, use_files, i = [], None, 0
    while i < len(general):
        a = general[i]
        if a == "-i":
            n, name = general[i + 1].split("@", 1)
            ports.append((int(n), name))
            i += 2
        elif a in ("--use-files", "--device-id", "--log-file", "--log-level", "--thrift-port"):
            if a == "--use-files":
                use_files = int(general[i + 1])
            i += 2
        elif a in ("--no-p4", "--log-flush"):
            i += 1
        else:
            fail(f"Error while parsing command line arguments: {a}")
    if use_files is None:
        fail("stub: --use-files missing")
    if [p for p, _ in ports] != sorted(p for p, _ in ports):
        fail("stub: -i ports not in ascending order")
    inputs, outs = {}, {}
    for p, name in ports:
        print(f"Adding interface {name} as port {p} (files)")
        if not os.path.exists(name + "_in.pcap"):
            fail(f"[critical] {name}_in.pcap: No such file or directory")
        inputs[p] = read_pcap(name + "_in.pcap")
        outs[p] = open(name + "_out.pcap", "wb")
    sys.stdout.flush()
    host, port = target[1].rsplit(":", 1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(16)

    def accept():
        while True:
            c, _ = srv.accept()
            c.close()

    threading.Thread(target=accept, daemon=True).start()
    time.sleep(use_files)
    merged = sorted(((ts, k, p, d) for k, (p, recs) in enumerate(sorted(inputs.items())) for ts, d in recs[:]),
                    key=lambda r: (r[0], r[1]))
    for _, _, p, d in merged:
        if outs[p].tell() == 0:
            outs[p].write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 0))
        now = time.time()
        outs[p].write(struct.pack("<IIII", int(now), int((now % 1) * 1e6), len(d), len(d)) + d)
        outs[p].flush()
        time.sleep(0.01)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
