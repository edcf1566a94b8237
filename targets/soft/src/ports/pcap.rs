//! The pcap backend: classic libpcap files in, one pcap per egress port out.
//!
//! **Input**: classic libpcap files in either byte order, with microsecond
//! (`0xa1b2c3d4`) or nanosecond (`0xa1b23c4d`) timestamps, link type
//! `LINKTYPE_ETHERNET` (1) only. A record whose captured length is below its
//! original length yields the captured bytes. pcapng files are detected and refused
//! with a hint to convert them (`editcap -F pcap IN OUT`). A corrupt or truncated
//! file is an error naming the file and the 1-based record index; the reader never
//! panics. The inputs of all ports are merged by [`super::PcapReplay`].
//!
//! **Output**: `DIR/port-<N>.pcap` ([`output_path`]), classic little-endian libpcap,
//! version 2.4, microsecond timestamps, snaplen 65535, `LINKTYPE_ETHERNET`, captured
//! length = frame length (the same format as `tests/vectors`). The file is created
//! when the port first sends a frame, or at once through [`Port::open_output`].
//! **Each output record carries the timestamp of the input frame it came from**
//! (a clone and its original share it), truncated to microseconds. BMv2 writes the
//! send time instead; vector comparisons ignore timestamps.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::batch::{RxBatch, TxBurst};
use super::error::{PortError, Result};
use super::port::{InputKind, Port};

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snaplen written in output headers.
pub const OUTPUT_SNAPLEN: u32 = 65_535;
/// Largest record the reader accepts unless the file's snaplen is larger (libpcap's
/// `MAXIMUM_SNAPLEN`).
pub const MAX_RECORD: u32 = 262_144;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_PCAPNG: u32 = 0x0a0d_0d0a;
const MAGIC_KUZNETZOV: u32 = 0xa1b2_cd34;
const BUF_SIZE: usize = 256 * 1024;

/// The output file of `port` in `dir`: `dir/port-<port>.pcap`.
pub fn output_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("port-{port}.pcap"))
}

/// Byte order and timestamp resolution of a pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PcapFormat {
    /// Fields are big-endian.
    pub big_endian: bool,
    /// Timestamps are in nanoseconds (`0xa1b23c4d`), else microseconds.
    pub nanos: bool,
}

impl Default for PcapFormat {
    /// Little-endian, microseconds: what p4clone writes.
    fn default() -> Self {
        PcapFormat { big_endian: false, nanos: false }
    }
}

/// One record's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordInfo {
    /// Timestamp, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Captured length (bytes returned).
    pub caplen: u32,
    /// Original length on the wire.
    pub orig_len: u32,
}

/// Reads records of a classic libpcap file.
pub struct PcapReader {
    path: PathBuf,
    r: Box<dyn Read + Send>,
    format: PcapFormat,
    snaplen: u32,
    /// Records read so far.
    records: u64,
    /// Byte offset of the next record header.
    offset: u64,
    done: bool,
}

impl std::fmt::Debug for PcapReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("records", &self.records)
            .finish()
    }
}

/// Reads as much of `buf` as the stream holds; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl PcapReader {
    /// Opens a file and checks its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let f = File::open(path).map_err(|e| PortError::io(format!("cannot open pcap {}", path.display()), e))?;
        Self::new(path, BufReader::with_capacity(BUF_SIZE, f))
    }

    /// Reads a pcap stream; `path` names it in errors.
    pub fn new(path: impl Into<PathBuf>, reader: impl Read + Send + 'static) -> Result<Self> {
        let path = path.into();
        let mut r: Box<dyn Read + Send> = Box::new(reader);
        let mut hdr = [0u8; 24];
        let n = read_full(&mut *r, &mut hdr)
            .map_err(|e| PortError::io(format!("cannot read pcap {}", path.display()), e))?;
        let err = |reason: String| PortError::Pcap { path: path.clone(), record: None, reason };
        if n >= 4 {
            let le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            if le == MAGIC_PCAPNG {
                return Err(err("pcapng is not supported; convert it with `editcap -F pcap IN OUT`".into()));
            }
        }
        if n < 24 {
            return Err(err(format!("truncated file header ({n} of 24 bytes): not a pcap file")));
        }
        let magic_le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let magic_be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let format = match (magic_le, magic_be) {
            (MAGIC_US, _) => PcapFormat { big_endian: false, nanos: false },
            (MAGIC_NS, _) => PcapFormat { big_endian: false, nanos: true },
            (_, MAGIC_US) => PcapFormat { big_endian: true, nanos: false },
            (_, MAGIC_NS) => PcapFormat { big_endian: true, nanos: true },
            (MAGIC_KUZNETZOV, _) | (_, MAGIC_KUZNETZOV) => {
                return Err(err(
                    "modified (Kuznetzov) pcap is not supported; convert it with `editcap -F pcap IN OUT`".into()
                ))
            }
            _ => return Err(err(format!("not a pcap file (magic 0x{magic_be:08x})"))),
        };
        let u16_at = |i: usize| {
            let b = [hdr[i], hdr[i + 1]];
            if format.big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            let b = [hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]];
            if format.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let major = u16_at(4);
        if major != 2 {
            return Err(err(format!("unsupported pcap version {major}.{}", u16_at(6))));
        }
        let snaplen = u32_at(16);
        // The link type is in the low 16 bits; the upper bits may carry FCS information.
        let linktype = u32_at(20) & 0xFFFF;
        if linktype != LINKTYPE_ETHERNET {
            return Err(err(format!("link type {linktype} is not supported, only LINKTYPE_ETHERNET (1)")));
        }
        if u32_at(20) & 0x1000_0000 != 0 {
            return Err(err("frames carry an FCS (link type FCS bit set), which is not supported".into()));
        }
        Ok(PcapReader { path, r, format, snaplen, records: 0, offset: 24, done: false })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte order and timestamp resolution.
    pub fn format(&self) -> PcapFormat {
        self.format
    }

    /// Snaplen from the file header.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// True once the end of the file was reached.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn rec_err(&self, reason: String) -> PortError {
        PortError::Pcap { path: self.path.clone(), record: Some(self.records + 1), reason }
    }

    /// Reads the next record header; `None` at a clean end of file.
    fn next_header(&mut self) -> Result<Option<RecordInfo>> {
        if self.done {
            return Ok(None);
        }
        let mut h = [0u8; 16];
        let n = read_full(&mut *self.r, &mut h).map_err(|e| {
            PortError::io(format!("cannot read pcap {} (record {})", self.path.display(), self.records + 1), e)
        })?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        if n < 16 {
            self.done = true;
            return Err(
                self.rec_err(format!("truncated record header at byte offset {} ({n} of 16 bytes)", self.offset))
            );
        }
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if self.format.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (sec, frac, caplen, orig_len) = (u32_at(0), u32_at(4), u32_at(8), u32_at(12));
        let limit = MAX_RECORD.max(self.snaplen.min(1 << 26));
        if caplen > limit {
            self.done = true;
            return Err(self.rec_err(format!(
                "corrupt record header at byte offset {}: captured length {caplen} exceeds {limit}",
                self.offset
            )));
        }
        let frac_ns = if self.format.nanos { u64::from(frac) } else { u64::from(frac) * 1_000 };
        Ok(Some(RecordInfo { ts_ns: u64::from(sec) * 1_000_000_000 + frac_ns, caplen, orig_len }))
    }

    fn data_err(&mut self, info: &RecordInfo, got: usize) -> PortError {
        self.done = true;
        self.rec_err(format!(
            "truncated record data at byte offset {}: header says {} bytes, file has {got}",
            self.offset + 16,
            info.caplen
        ))
    }

    fn finish_record(&mut self, info: &RecordInfo) {
        self.records += 1;
        self.offset += 16 + u64::from(info.caplen);
    }

    /// Reads the next record's bytes into `buf` (replacing its contents). `None` at
    /// the end of the file.
    pub fn next_record(&mut self, buf: &mut Vec<u8>) -> Result<Option<RecordInfo>> {
        let Some(info) = self.next_header()? else {
            return Ok(None);
        };
        buf.clear();
        buf.resize(info.caplen as usize, 0);
        let got = read_full(&mut *self.r, buf)
            .map_err(|e| PortError::io(format!("cannot read pcap {}", self.path.display()), e))?;
        if got < buf.len() {
            return Err(self.data_err(&info, got));
        }
        self.finish_record(&info);
        Ok(Some(info))
    }

    /// Appends the next record to `batch`. `Ok(false)` at the end of the file or
    /// when the batch is full (check [`RxBatch::room`] first).
    pub fn read_into(&mut self, batch: &mut RxBatch) -> Result<bool> {
        if batch.room() == 0 {
            return Ok(false);
        }
        let Some(info) = self.next_header()? else {
            return Ok(false);
        };
        let r = &mut *self.r;
        let mut short = None;
        let res = batch.push_with(info.ts_ns, info.caplen as usize, |buf| match read_full(r, buf) {
            Ok(n) if n < buf.len() => {
                short = Some(n);
                Err(None)
            }
            Ok(_) => Ok(()),
            Err(e) => Err(Some(e)),
        });
        match res {
            Ok(pushed) => {
                self.finish_record(&info);
                Ok(pushed)
            }
            Err(Some(e)) => Err(PortError::io(format!("cannot read pcap {}", self.path.display()), e)),
            Err(None) => Err(self.data_err(&info, short.unwrap_or(0))),
        }
    }
}

/// Reads a whole pcap file: `(timestamp ns, frame)` per record (for tests and tools).
pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut r = PcapReader::open(path)?;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(info) = r.next_record(&mut buf)? {
        out.push((info.ts_ns, buf.clone()));
    }
    Ok(out)
}

/// Writes a classic libpcap file.
pub struct PcapWriter {
    path: PathBuf,
    w: BufWriter<File>,
    format: PcapFormat,
    records: u64,
}

impl std::fmt::Debug for PcapWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("records", &self.records)
            .finish()
    }
}

impl PcapWriter {
    /// Creates (truncates) `path` with p4clone's output format (little-endian, µs).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, PcapFormat::default())
    }

    /// Creates (truncates) `path` in the given format (snaplen 65535, Ethernet).
    pub fn create_with(path: impl AsRef<Path>, format: PcapFormat) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let f = File::create(&path).map_err(|e| PortError::io(format!("cannot create pcap {}", path.display()), e))?;
        let mut w = PcapWriter { w: BufWriter::with_capacity(BUF_SIZE, f), path, format, records: 0 };
        let magic = if format.nanos { MAGIC_NS } else { MAGIC_US };
        let mut hdr = [0u8; 24];
        w.put32(&mut hdr[0..4], magic);
        w.put16(&mut hdr[4..6], 2);
        w.put16(&mut hdr[6..8], 4);
        w.put32(&mut hdr[16..20], OUTPUT_SNAPLEN);
        w.put32(&mut hdr[20..24], LINKTYPE_ETHERNET);
        w.w.write_all(&hdr).map_err(|e| w.io_err(e))?;
        Ok(w)
    }

    fn put16(&self, b: &mut [u8], v: u16) {
        b.copy_from_slice(&if self.format.big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn put32(&self, b: &mut [u8], v: u32) {
        b.copy_from_slice(&if self.format.big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn io_err(&self, e: io::Error) -> PortError {
        PortError::io(format!("cannot write pcap {}", self.path.display()), e)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes one record made of `parts` concatenated, at `ts_ns` (truncated to the
    /// file's resolution; seconds wrap at 2^32).
    pub fn write_parts(&mut self, ts_ns: u64, parts: &[&[u8]]) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let sec = (ts_ns / 1_000_000_000) as u32;
        let sub = ts_ns % 1_000_000_000;
        let frac = if self.format.nanos { sub } else { sub / 1_000 } as u32;
        let mut h = [0u8; 16];
        self.put32(&mut h[0..4], sec);
        self.put32(&mut h[4..8], frac);
        self.put32(&mut h[8..12], len as u32);
        self.put32(&mut h[12..16], len as u32);
        self.w.write_all(&h).map_err(|e| self.io_err(e))?;
        for p in parts {
            self.w.write_all(p).map_err(|e| self.io_err(e))?;
        }
        self.records += 1;
        Ok(())
    }

    /// Writes one record.
    pub fn write(&mut self, ts_ns: u64, frame: &[u8]) -> Result<()> {
        self.write_parts(ts_ns, &[frame])
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| self.io_err(e))
    }
}

/// A port backed by pcap files: an optional input file, replayed, and an optional
/// output file, created lazily.
#[derive(Debug)]
pub struct PcapPort {
    input: Option<PcapReader>,
    input_path: Option<PathBuf>,
    output_path: Option<PathBuf>,
    output: Option<PcapWriter>,
    exhausted: bool,
    closed: bool,
}

impl PcapPort {
    /// A port replaying `input` (if any) and writing what it sends to `output` (if
    /// any; without one, sent frames are discarded and count as sent).
    ///
    /// Refuses an output path that is the input file (it would be truncated).
    pub fn new(input: Option<&Path>, output: Option<PathBuf>) -> Result<Self> {
        let reader = input.map(PcapReader::open).transpose()?;
        if let (Some(i), Some(o)) = (input, output.as_deref()) {
            if same_file(i, o) {
                return Err(PortError::Other(format!(
                    "pcap output {} is the input file of the same port; choose another output directory",
                    o.display()
                )));
            }
        }
        Ok(PcapPort {
            exhausted: reader.is_none(),
            input: reader,
            input_path: input.map(Path::to_path_buf),
            output_path: output,
            output: None,
            closed: false,
        })
    }

    /// A port with no input whose output is `path`.
    pub fn output_only(path: PathBuf) -> Self {
        PcapPort {
            input: None,
            input_path: None,
            output_path: Some(path),
            output: None,
            exhausted: true,
            closed: false,
        }
    }

    /// The output path, if any.
    pub fn output_path(&self) -> Option<&Path> {
        self.output_path.as_deref()
    }

    fn writer(&mut self) -> Result<Option<&mut PcapWriter>> {
        if self.output.is_none() {
            if let Some(p) = &self.output_path {
                self.output = Some(PcapWriter::create(p)?);
            }
        }
        Ok(self.output.as_mut())
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

impl Port for PcapPort {
    fn describe(&self) -> String {
        let i = self.input_path.as_ref().map_or("-".to_string(), |p| p.display().to_string());
        let o = self.output_path.as_ref().map_or("-".to_string(), |p| p.display().to_string());
        format!("pcap:{i} -> {o}")
    }

    fn input_kind(&self) -> InputKind {
        if self.input_path.is_some() {
            InputKind::Replay
        } else {
            InputKind::None
        }
    }

    fn recv_burst(&mut self, batch: &mut RxBatch) -> Result<usize> {
        let Some(r) = self.input.as_mut() else {
            return Ok(0);
        };
        let mut n = 0;
        while batch.room() > 0 {
            match r.read_into(batch) {
                Ok(true) => n += 1,
                Ok(false) => {
                    if r.is_done() {
                        self.exhausted = true;
                        self.input = None;
                    }
                    break;
                }
                Err(e) => {
                    self.exhausted = true;
                    self.input = None;
                    return Err(e);
                }
            }
        }
        Ok(n)
    }

    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> Result<usize> {
        if self.closed {
            return Err(PortError::Other(format!("{} is closed", self.describe())));
        }
        let n = burst.len();
        let Some(w) = self.writer()? else {
            return Ok(n);
        };
        for f in burst.iter() {
            w.write_parts(f.ts_ns, &[f.head, f.tail])?;
        }
        Ok(n)
    }

    fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    fn open_output(&mut self) -> Result<()> {
        self.writer().map(|_| ())
    }

    fn flush(&mut self) -> Result<()> {
        match self.output.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Result<()> {
        let r = self.flush();
        self.output = None;
        self.input = None;
        self.exhausted = true;
        self.closed = true;
        r
    }
}
