#!/usr/bin/env python3
"""Inserts table entries and clone sessions into a P4Runtime device through the
third-party client p4runtime-shell 0.0.6 (PyPI), the way an engineer scripts it:
one `TableEntry(...)` / `CloneSessionEntry(...)` object per entity, `.insert()`
each (p4runtime-shell has no batching: one Write RPC per entity).

Run by runtime/benches/runtime.rs (the `p4runtime-shell` row of the cold-push
comparison) with the venv made by scripts/setup-p4runtime-shell.sh.

Input (--entities): JSON lines, in apply order, one entity each, by name:
  {"session": ID, "port": P, "instance": I}
  {"table": T, "match": {FIELD: "V" | "V&&&M"}, "priority": N,
   "action": A, "params": {PARAM: "V"}, "metadata": "HEX"}
Values are decimal integers, as p4runtime-shell parses them for bit<W> fields.

Prints one JSON object on stdout: {"inserted": N, "seconds": S} where S covers
building and inserting the entities (not the connection nor the pipeline set-up).
Exits non-zero if any insert fails.
"""

import argparse
import contextlib
import io
import json
import sys
import time

import p4runtime_sh.shell as sh


def load(path, limit):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(out) >= limit:
                break
            out.append(json.loads(line))
    return out


def insert(e):
    if "session" in e:
        sh.CloneSessionEntry(e["session"]).add(e["port"], e["instance"]).insert()
        return
    te = sh.TableEntry(e["table"])(action=e["action"])
    for field, value in e["match"].items():
        te.match[field] = value
    if e.get("priority"):
        te.priority = e["priority"]
    for param, value in e["params"].items():
        te.action[param] = value
    if e.get("metadata"):
        te.metadata = bytes.fromhex(e["metadata"])
    te.insert()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--device-id", type=int, default=1)
    ap.add_argument("--p4info", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--entities", required=True)
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()

    entities = load(args.entities, args.limit)
    # p4runtime-shell 0.0.6: `verbose` and `canonical_bytestrings` are one Enum
    # member, so verbose stays on (canonical bytestrings, as the server wants);
    # what it prints is discarded.
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        sh.setup(
            device_id=args.device_id,
            grpc_addr=args.addr,
            election_id=(0, 1),
            config=sh.FwdPipeConfig(args.p4info, args.bin),
            verbose=True,
        )
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            for e in entities:
                insert(e)
                sink.seek(0)
                sink.truncate()
        seconds = time.perf_counter() - start
    finally:
        with contextlib.redirect_stdout(sink):
            sh.teardown()
    print(json.dumps({"inserted": len(entities), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
