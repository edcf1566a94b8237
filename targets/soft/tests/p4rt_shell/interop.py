#!/usr/bin/env python3
"""Drives the p4clone software target with the third-party P4Runtime client
p4runtime-shell 0.0.6 (PyPI), as a network engineer would drive BMv2.

Run by targets/soft/tests/p4runtime_shell.rs with the venv made by
scripts/setup-p4runtime-shell.sh, in two phases around packets the Rust test
pushes through the pipeline:

  program: setup() with FwdPipeConfig (VERIFY_AND_COMMIT), check Capabilities,
           insert wire, clone_classify_v4, clone_rewrite entries and a clone
           session, read them all back and check every field, read counters
           (all zero), and check that a bad write is refused per update.
  verify:  setup() without config (P4Info read back with
           GetForwardingPipelineConfig), read the counters the packets moved
           (clones_requested, clones_emitted, the classify direct counter),
           reset one with MODIFY, delete what was inserted.

Exits non-zero (AssertionError / P4RuntimeException) on any mismatch.
"""

import argparse
import sys

import p4runtime_sh.shell as sh
from p4runtime_sh.p4runtime import P4RuntimeWriteException

MEMBER = 5
SE_PORT = 3
SRC = "10.0.0.1"
SRC_BYTES = bytes([10, 0, 0, 1])


def classify_entry():
    te = sh.TableEntry("clone_classify_v4")(action="classify_hit")
    te.match["src_addr"] = SRC + "&&&255.255.255.255"
    te.match["protocol"] = "6&&&0xff"
    te.priority = 10
    te.action["first_member"] = str(MEMBER)
    te.action["member_count"] = "1"
    te.action["mode"] = "0"
    te.metadata = b"p4clone interop"
    return te


def program():
    assert sh.APIVersion() == "1.4.1", sh.APIVersion()

    wire = sh.TableEntry("wire")(action="wire_forward")
    wire.match["ingress_port"] = "1"
    wire.action["port"] = "2"
    wire.insert()

    classify_entry().insert()

    rw = sh.TableEntry("clone_rewrite")(action="clone_rewrite_set")
    rw.match["member"] = str(MEMBER)
    rw.action["dst_mac"] = "02:00:00:00:00:01"
    rw.action["src_mac"] = "02:00:00:00:00:02"
    rw.action["vlan_id"] = "0"
    rw.action["truncate_len"] = "0"
    rw.action["nat_restore"] = "0"
    rw.insert()

    sh.CloneSessionEntry(MEMBER).add(SE_PORT, MEMBER).insert()

    # Read back: every table, then the classify table alone.
    all_entries = list(sh.TableEntry("wire").read())
    assert len(all_entries) == 1, all_entries
    got = list(sh.TableEntry("clone_classify_v4").read())
    assert len(got) == 1, got
    e = got[0]
    msg = e.msg()
    assert e.priority == 10, e.priority
    assert e.metadata == b"p4clone interop", e.metadata
    matches = {m.field_id: m for m in msg.match}
    assert set(matches) == {1, 3}, matches  # src_addr, protocol; others don't-care
    assert matches[1].ternary.value == SRC_BYTES, matches[1]
    assert matches[1].ternary.mask == b"\xff\xff\xff\xff", matches[1]
    assert matches[3].ternary.value == b"\x06", matches[3]
    assert e.action.action_name == "classify_hit", e.action.action_name
    params = {p.param_id: p.value for p in msg.action.action.params}
    assert params == {1: bytes([MEMBER]), 2: b"\x01", 3: b"\x00"}, params
    # The exact same entry again: ALREADY_EXISTS, reported per update.
    try:
        classify_entry().insert()
        raise AssertionError("a duplicate insert was accepted")
    except P4RuntimeWriteException as ex:
        assert "ALREADY_EXISTS" in str(ex), str(ex)

    # Zero-padded (legacy, non-canonical) bytestrings are refused per update with
    # INVALID_ARGUMENT by default (SoftTarget::set_accept_padded_bytestrings
    # lifts that; BMv2 accepts them).
    sh.global_options["canonical_bytestrings"] = False
    try:
        padded = sh.TableEntry("wire")(action="wire_drop")
        padded.match["ingress_port"] = "9"
        assert padded.msg().match[0].exact.value == b"\x00\x09"
        padded.insert()
        raise AssertionError("a padded bytestring was accepted")
    except P4RuntimeWriteException as ex:
        assert "INVALID_ARGUMENT" in str(ex) and "not canonical" in str(ex), str(ex)
    finally:
        sh.global_options["canonical_bytestrings"] = True

    rws = list(sh.TableEntry("clone_rewrite").read())
    assert len(rws) == 1 and rws[0].action.action_name == "clone_rewrite_set", rws

    sessions = list(sh.CloneSessionEntry().read())
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert s.session_id == MEMBER, s.session_id
    assert len(s.replicas) == 1, s.replicas
    assert s.replicas[0].egress_port == SE_PORT and s.replicas[0].instance == MEMBER
    assert s.packet_length_bytes == 0

    c = sh.CounterEntry("clones_requested")
    c.index = MEMBER
    cells = list(c.read())
    assert len(cells) == 1 and cells[0].packet_count == 0, cells
    every = list(sh.CounterEntry("clones_emitted").read())
    assert len(every) == 32768, len(every)
    direct = list(sh.DirectCounterEntry("classify_v4_hits").read())
    assert len(direct) == 1 and direct[0].packet_count == 0, direct
    print("program: ok")


def verify(packets, nbytes):
    def cell(name):
        c = sh.CounterEntry(name)
        c.index = MEMBER
        (got,) = list(c.read())
        return got.packet_count, got.byte_count

    assert cell("clones_requested") == (packets, nbytes), cell("clones_requested")
    assert cell("clones_emitted") == (packets, nbytes), cell("clones_emitted")
    (d,) = list(sh.DirectCounterEntry("classify_v4_hits").read())
    assert (d.packet_count, d.byte_count) == (packets, nbytes), d
    # Table entries read with their direct counter.
    te = sh.TableEntry("clone_classify_v4")
    te.counter_data.packet_count = 0
    (e,) = list(te.read())
    assert e.counter_data.packet_count == packets, e.counter_data

    # Reset a counter cell with MODIFY.
    c = sh.CounterEntry("clones_requested")
    c.index = MEMBER
    c.packet_count = 0
    c.byte_count = 0
    c.modify()
    assert cell("clones_requested") == (0, 0), cell("clones_requested")

    # Delete what phase 1 made.
    sh.TableEntry("clone_classify_v4").read(lambda e: e.delete())
    sh.TableEntry("clone_rewrite").read(lambda e: e.delete())
    sh.TableEntry("wire").read(lambda e: e.delete())
    sh.CloneSessionEntry(MEMBER).delete()
    assert list(sh.TableEntry("clone_classify_v4").read()) == []
    assert list(sh.CloneSessionEntry().read()) == []
    print("verify: ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--device-id", type=int, default=1)
    ap.add_argument("--election-low", type=int, default=1)
    ap.add_argument("--phase", choices=["program", "verify"], required=True)
    ap.add_argument("--p4info")
    ap.add_argument("--bin")
    ap.add_argument("--packets", type=int, default=0)
    ap.add_argument("--bytes", type=int, default=0)
    args = ap.parse_args()

    config = None
    if args.phase == "program":
        config = sh.FwdPipeConfig(args.p4info, args.bin)
    # Keep verbose=True: in p4runtime-shell 0.0.6 the `verbose` and
    # `canonical_bytestrings` options are the same Enum member (both valued
    # `bool`), so verbose=False also switches canonical bytestrings off.
    sh.setup(
        device_id=args.device_id,
        grpc_addr=args.addr,
        election_id=(0, args.election_low),
        config=config,
        verbose=True,
    )
    try:
        if args.phase == "program":
            program()
        else:
            verify(args.packets, args.bytes)
    finally:
        sh.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
