//! Classic libpcap files, as BMv2 reads and writes them.
//!
//! BMv2's file mode reads `pN_in.pcap` with libpcap (which stops with a fatal
//! error on a record whose captured length is below its wire length) and writes
//! `pN_out.pcap` through `pcap_open_dead(0, 0)`: **link type 0 and snaplen 0**,
//! in the host's byte order, one record per frame stamped with the send time.
//! So inputs are rewritten before BMv2 sees them ([`normalize_input`]: classic
//! little-endian, microseconds, Ethernet, captured = wire length, exactly what
//! the software target would read from the same file), and outputs are read
//! with a reader that accepts any link type ([`read`]) and rewritten as
//! Ethernet pcaps like the software target's ([`write`]).

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Bmv2Error, Result};

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_PCAPNG: u32 = 0x0a0d_0d0a;
const MAX_RECORD: u32 = 262_144;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Timestamp, ns since the Unix epoch.
    pub ts_ns: u64,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire (may exceed `data.len()`).
    pub orig_len: u32,
}

/// A whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFile {
    /// The link type in the header.
    pub linktype: u32,
    /// The records in file order.
    pub records: Vec<Record>,
}

/// Reads a classic pcap file (either byte order, µs or ns), any link type.
/// A truncated last record is an error naming its 1-based index.
pub fn read(path: &Path) -> Result<PcapFile> {
    let bytes = std::fs::read(path).map_err(|e| Bmv2Error::io(format!("cannot read {}", path.display()), e))?;
    parse(&bytes).map_err(|reason| Bmv2Error::Input { path: path.to_path_buf(), reason })
}

/// Reads one of BMv2's `pN_out.pcap` files. BMv2 writes the file header only
/// with the first frame, so a port that sent nothing leaves a 0-byte file: that
/// is a file of zero frames, not an error (any other malformation still is).
pub fn read_output(path: &Path) -> Result<PcapFile> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => Ok(PcapFile { linktype: LINKTYPE_ETHERNET, records: Vec::new() }),
        _ => read(path),
    }
}

/// [`read`] over bytes.
pub fn parse(b: &[u8]) -> std::result::Result<PcapFile, String> {
    if b.len() >= 4 && u32::from_le_bytes([b[0], b[1], b[2], b[3]]) == MAGIC_PCAPNG {
        return Err("pcapng is not supported; convert it with `editcap -F pcap IN OUT`".into());
    }
    if b.len() < 24 {
        return Err(format!("truncated file header ({} of 24 bytes): not a pcap file", b.len()));
    }
    let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (big, nanos) = match (le, be) {
        (MAGIC_US, _) => (false, false),
        (MAGIC_NS, _) => (false, true),
        (_, MAGIC_US) => (true, false),
        (_, MAGIC_NS) => (true, true),
        _ => return Err(format!("not a classic pcap file (magic 0x{be:08x})")),
    };
    let u32_at = |i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let snaplen = u32_at(16);
    let linktype = u32_at(20) & 0xFFFF;
    let limit = MAX_RECORD.max(snaplen);
    let mut records = Vec::new();
    let mut off = 24;
    while off < b.len() {
        let index = records.len() + 1;
        if b.len() - off < 16 {
            return Err(format!("record {index}: truncated record header"));
        }
        let (sec, frac, caplen, orig_len) = (u32_at(off), u32_at(off + 4), u32_at(off + 8), u32_at(off + 12));
        if caplen > limit {
            return Err(format!("record {index}: captured length {caplen} is implausible"));
        }
        off += 16;
        let end = off + caplen as usize;
        if end > b.len() {
            return Err(format!("record {index}: truncated ({} of {caplen} bytes)", b.len() - off));
        }
        let ns = if nanos { u64::from(frac) } else { u64::from(frac) * 1_000 };
        records.push(Record { ts_ns: u64::from(sec) * 1_000_000_000 + ns, data: b[off..end].to_vec(), orig_len });
        off = end;
    }
    Ok(PcapFile { linktype, records })
}

/// Writes classic little-endian, microsecond, Ethernet pcap (snaplen 65535);
/// every record's wire length is its captured length.
pub fn write<'a>(path: &Path, records: impl IntoIterator<Item = (u64, &'a [u8])>) -> Result<u64> {
    let what = || format!("cannot write {}", path.display());
    let f = std::fs::File::create(path).map_err(|e| Bmv2Error::io(what(), e))?;
    let mut w = BufWriter::new(f);
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&MAGIC_US.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&65_535u32.to_le_bytes());
    hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&hdr).map_err(|e| Bmv2Error::io(what(), e))?;
    let mut n = 0;
    for (ts_ns, data) in records {
        let len = data.len() as u32;
        let mut rh = [0u8; 16];
        rh[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        rh[4..8].copy_from_slice(&(((ts_ns % 1_000_000_000) / 1_000) as u32).to_le_bytes());
        rh[8..12].copy_from_slice(&len.to_le_bytes());
        rh[12..16].copy_from_slice(&len.to_le_bytes());
        w.write_all(&rh).map_err(|e| Bmv2Error::io(what(), e))?;
        w.write_all(data).map_err(|e| Bmv2Error::io(what(), e))?;
        n += 1;
    }
    w.flush().map_err(|e| Bmv2Error::io(what(), e))?;
    Ok(n)
}

/// Rewrites an input file for BMv2 (see the module docs): refuses anything but
/// Ethernet; captured bytes are kept, wire length set to them. Returns the
/// number of frames.
pub fn normalize_input(input: &Path, output: &Path) -> Result<u64> {
    let f = read(input)?;
    if f.linktype != LINKTYPE_ETHERNET {
        return Err(Bmv2Error::Input {
            path: input.to_path_buf(),
            reason: format!("link type {} is not supported, only LINKTYPE_ETHERNET (1)", f.linktype),
        });
    }
    write(output, f.records.iter().map(|r| (r.ts_ns, r.data.as_slice())))
}

/// An empty input file (header only) for a port that receives nothing.
pub fn write_empty(path: &Path) -> Result<()> {
    write(path, std::iter::empty()).map(|_| ())
}

/// Size of a file in bytes, 0 if it does not exist yet.
pub(crate) fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as BMv2 writes it: `pcap_open_dead(0, 0)`, native (LE) order.
    fn bmv2_style(frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC_US.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&0u32.to_le_bytes()); // snaplen 0
        b.extend_from_slice(&0u32.to_le_bytes()); // DLT_NULL
        for (s, us, d) in frames {
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&us.to_le_bytes());
            b.extend_from_slice(&(d.len() as u32).to_le_bytes());
            b.extend_from_slice(&(d.len() as u32).to_le_bytes());
            b.extend_from_slice(d);
        }
        b
    }

    #[test]
    fn reads_bmv2_output_and_rewrites_as_ethernet() {
        let d = tempfile::tempdir().unwrap();
        let raw = d.path().join("p1_out.pcap");
        std::fs::write(&raw, bmv2_style(&[(10, 5, &[1, 2, 3]), (10, 6, &[4; 60])])).unwrap();
        let f = read(&raw).unwrap();
        assert_eq!(f.linktype, 0);
        assert_eq!(f.records.len(), 2);
        assert_eq!(f.records[0].ts_ns, 10_000_005_000);
        let out = d.path().join("port-1.pcap");
        assert_eq!(write(&out, f.records.iter().map(|r| (r.ts_ns, r.data.as_slice()))).unwrap(), 2);
        let back = read(&out).unwrap();
        assert_eq!(back.linktype, LINKTYPE_ETHERNET);
        assert_eq!(back.records, f.records);
        // normalize refuses the non-Ethernet file
        assert!(normalize_input(&raw, &d.path().join("x.pcap")).unwrap_err().is_input());
    }

    #[test]
    fn refuses_garbage_and_truncation() {
        assert!(parse(b"hello").is_err());
        assert!(parse(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]).unwrap_err().contains("pcapng"));
        let mut b = bmv2_style(&[(1, 1, &[9; 20])]);
        b.truncate(b.len() - 3);
        assert!(parse(&b).unwrap_err().contains("record 1"));
    }

    #[test]
    fn empty_file_has_no_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p9_in.pcap");
        write_empty(&p).unwrap();
        assert_eq!(size_of(&p), 24);
        assert!(read(&p).unwrap().records.is_empty());
    }

    #[test]
    fn zero_byte_output_is_a_port_that_sent_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p3_out.pcap");
        std::fs::write(&p, b"").unwrap();
        assert!(read_output(&p).unwrap().records.is_empty());
        assert!(read(&p).unwrap_err().to_string().contains("truncated file header (0 of 24 bytes)"));
        std::fs::write(&p, b"abc").unwrap();
        assert!(read_output(&p).unwrap_err().to_string().contains("truncated file header (3 of 24 bytes)"));
    }
}
