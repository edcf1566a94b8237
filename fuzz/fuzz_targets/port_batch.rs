//! The software target's receive batch (`ports::RxBatch`, the DPDK-free buffer every
//! port backend fills: pcap and AF_PACKET copy into it, AF_PACKET also writes
//! several frames in place through `spare` / `commit_spare` / `advance_spare`)
//! driven by a sequence of operations from the bytes, against a model.
//!
//! Input: byte 0 is the batch capacity (1..=32); then operations, each an opcode
//! byte and its fields: push (timestamp, length, bytes), push_with (the same, or a
//! fill that fails), spare + in-place frames + advance (region size, frames as
//! offset / length inside it), clear, stamp_port (from, port).
//!
//! Checked after every operation: no panic; `len`, `room`, `is_empty`; every frame's
//! bytes, port and timestamp equal the model's (frames declared inside the spare
//! region hold what was written there, also after later pushes grow the arena); a
//! full batch refuses frames without changing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_soft::ports::RxBatch;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
}

#[derive(Debug, Clone)]
struct Frame {
    port: u16,
    ts: u64,
    data: Vec<u8>,
}

fn check(b: &RxBatch, m: &[Frame], cap: usize) {
    assert_eq!(b.len(), m.len());
    assert_eq!(b.room(), cap - m.len());
    assert_eq!(b.is_empty(), m.is_empty());
    for (i, f) in m.iter().enumerate() {
        assert_eq!(b.frame(i), &f.data[..], "frame {i}");
        assert_eq!(b.port(i), f.port, "port of frame {i}");
        assert_eq!(b.ts_ns(i), f.ts, "timestamp of frame {i}");
    }
    assert!(b.frame(m.len()).is_empty(), "a frame past the end");
    assert_eq!(b.iter().count(), m.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    let cap = usize::from(c % 32) + 1;
    let mut b = RxBatch::new(cap);
    assert_eq!(b.capacity(), cap);
    let mut m: Vec<Frame> = Vec::new();
    let mut r = Bytes(rest);
    let mut ts = 0u64;
    while let Some(op) = r.u8() {
        ts += 1;
        match op % 5 {
            0 => {
                let Some(n) = r.u8() else { break };
                let d = r.take(usize::from(n));
                let ok = b.push(ts, &d);
                assert_eq!(ok, m.len() < cap, "push accepted on a full batch, or refused with room");
                if ok {
                    m.push(Frame { port: 0, ts, data: d });
                }
            }
            1 => {
                let Some(n) = r.u8() else { break };
                let fail = n & 0x80 != 0;
                let d = r.take(usize::from(n & 0x7F));
                let res = b.push_with(ts, d.len(), |buf: &mut [u8]| {
                    assert_eq!(buf.len(), d.len(), "push_with hands out the asked length");
                    buf.copy_from_slice(&d);
                    if fail {
                        Err(())
                    } else {
                        Ok(())
                    }
                });
                match res {
                    Ok(true) => m.push(Frame { port: 0, ts, data: d }),
                    Ok(false) => assert_eq!(m.len(), cap, "push_with refused with room"),
                    Err(()) => assert!(fail, "push_with failed on its own"),
                }
            }
            2 => {
                // A driver writing frames in place: region, frames inside it, advance.
                let (Some(size), Some(k)) = (r.u16(), r.u8()) else { break };
                let size = usize::from(size % 4096);
                let fill = r.take(size);
                let spare = b.spare(size);
                assert_eq!(spare.len(), size, "spare hands out the asked length");
                spare[..fill.len()].copy_from_slice(&fill);
                spare[fill.len()..].fill(0xA5);
                let region: Vec<u8> = spare.to_vec();
                for _ in 0..k % 8 {
                    let (Some(off), Some(len)) = (r.u16(), r.u16()) else { break };
                    let (off, len) = (usize::from(off) % (size + 1), usize::from(len));
                    let len = len % (size - off + 1);
                    let ok = b.commit_spare(ts, off, len);
                    assert_eq!(ok, m.len() < cap, "commit_spare inside the region refused with room, or accepted full");
                    if ok {
                        m.push(Frame { port: 0, ts, data: region[off..off + len].to_vec() });
                    }
                }
                b.advance_spare(size);
            }
            3 => {
                b.clear();
                m.clear();
            }
            _ => {
                let (Some(from), Some(port)) = (r.u8(), r.u16()) else { break };
                b.stamp_port(usize::from(from % 40), port);
                for f in m.iter_mut().skip(usize::from(from % 40)) {
                    f.port = port;
                }
            }
        }
        check(&b, &m, cap);
    }
});
