//! Comparing two targets' outputs (or a target's and a vector's expected
//! frames) frame by frame: per port, byte for byte and in order, timestamps
//! ignored; differences are shown with the pipeline's one-line frame decode
//! ([`summarize`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use p4clone_soft::ports::pcap::read_all;

use crate::jobs::error::JobError;

/// A one-line decode of a frame (the pretty-printer beside the wire views).
pub use p4clone_pipeline::summary::summarize;

/// Ranges `[start, end]` (inclusive) of byte offsets where `a` and `b` differ,
/// over the common length; bytes only one of them has form a last range.
pub fn differing_ranges(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            match out.last_mut() {
                Some(r) if r.1 + 1 == i => r.1 = i,
                _ => out.push((i, i)),
            }
        }
    }
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    if long > short {
        match out.last_mut() {
            Some(r) if r.1 + 1 == short => r.1 = long - 1,
            _ => out.push((short, long - 1)),
        }
    }
    out
}

/// One differing frame.
#[derive(Debug, Clone)]
pub struct FrameDiff {
    /// 0-based index in the port's output.
    pub index: usize,
    /// Side A's frame (`None`: A has no frame at this index).
    pub a: Option<Vec<u8>>,
    /// Side B's frame.
    pub b: Option<Vec<u8>>,
}

/// One port's comparison.
#[derive(Debug, Clone)]
pub struct PortDiff {
    /// The port.
    pub port: u16,
    /// Frames on side A.
    pub a_frames: usize,
    /// Frames on side B.
    pub b_frames: usize,
    /// Indices present on both sides whose frames differ.
    pub differing: usize,
    /// The first differences (mismatches, then frames only one side has).
    pub shown: Vec<FrameDiff>,
    /// What a count difference looks like, when it is simple.
    pub note: Option<String>,
}

impl PortDiff {
    /// Whether the port's outputs are identical.
    pub fn identical(&self) -> bool {
        self.differing == 0 && self.a_frames == self.b_frames
    }
}

/// Compares two ports' frame lists; `max` bounds [`PortDiff::shown`].
///
/// When one side is the other plus a run of extra frames (a frame lost or
/// added, everything else equal and in order), only those frames are shown;
/// otherwise frames are compared index by index.
pub fn compare_port(port: u16, a: &[Vec<u8>], b: &[Vec<u8>], a_name: &str, b_name: &str, max: usize) -> PortDiff {
    let common = a.len().min(b.len());
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    if a.len() != b.len() {
        let (long, short, ln) = if a.len() > b.len() { (a, b, a_name) } else { (b, a, b_name) };
        let d = long.len() - short.len();
        let i = first.unwrap_or(common);
        if long[i + d..] == short[i..] {
            let a_long = a.len() > b.len();
            let shown = (i..i + d)
                .take(max)
                .map(|k| FrameDiff {
                    index: k,
                    a: if a_long { Some(long[k].clone()) } else { None },
                    b: if a_long { None } else { Some(long[k].clone()) },
                })
                .collect();
            let note = if d == 1 {
                format!("{ln} has one frame more: its frame {i}; all others match in order")
            } else {
                format!("{ln} has {d} frames more: its frames {i}..={}; all others match in order", i + d - 1)
            };
            return PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing: 0, shown, note: Some(note) };
        }
    }
    let mut shown = Vec::new();
    let mut differing = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            differing += 1;
            if shown.len() < max {
                shown.push(FrameDiff { index: i, a: Some(x.clone()), b: Some(y.clone()) });
            }
        }
    }
    if a.len() != b.len() && shown.len() < max {
        shown.push(FrameDiff { index: common, a: a.get(common).cloned(), b: b.get(common).cloned() });
    }
    let note = (a.len() != b.len())
        .then(|| format!("frame counts differ ({a_name} {}, {b_name} {}) and frames differ besides", a.len(), b.len()));
    PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing, shown, note }
}

/// A pcap file's frames in order, timestamps dropped (none if the file does
/// not exist).
pub fn frames_of(path: &Path) -> Result<Vec<Vec<u8>>, JobError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_all(path)
        .map(|v| v.into_iter().map(|r| r.1).collect())
        .map_err(|e| JobError::Runtime(format!("cannot read {}: {e}", path.display())))
}

/// One comparison: side A against side B over every port either has.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was compared (config and device, or vector case).
    pub name: String,
    /// Side A's name (a target).
    pub a: String,
    /// Side B's name (a target or `expected`).
    pub b: String,
    /// Per port, ascending.
    pub ports: Vec<PortDiff>,
    /// A target failed instead of producing output.
    pub error: Option<String>,
}

impl Comparison {
    /// No port differs and no target failed.
    pub fn identical(&self) -> bool {
        self.error.is_none() && self.ports.iter().all(PortDiff::identical)
    }

    /// Frames on side A over all ports.
    pub fn frames(&self) -> usize {
        self.ports.iter().map(|p| p.a_frames).sum()
    }
}

/// Compares `a_dir/port-<N>.pcap` with `b_file(N)` over `ports`; `max`
/// bounds the differences kept per port. An unreadable file is a runtime failure.
pub fn compare_dirs(
    name: String,
    (a_name, a_dir): (&str, &Path),
    (b_name, b_file): (&str, &dyn Fn(u16) -> PathBuf),
    ports: &BTreeSet<u16>,
    max: usize,
) -> Result<Comparison, JobError> {
    let mut out = Vec::new();
    for &p in ports {
        let a = frames_of(&a_dir.join(format!("port-{p}.pcap")))?;
        let b = frames_of(&b_file(p))?;
        out.push(compare_port(p, &a, &b, a_name, b_name, max));
    }
    Ok(Comparison { name, a: a_name.into(), b: b_name.into(), ports: out, error: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_cover_length_differences() {
        assert_eq!(differing_ranges(&[1, 2, 3, 4], &[1, 9, 9, 4]), vec![(1, 2)]);
        assert_eq!(differing_ranges(&[1, 2, 3], &[0, 2, 4]), vec![(0, 0), (2, 2)]);
        assert_eq!(differing_ranges(&[1, 2], &[1, 2, 3, 4]), vec![(2, 3)]);
        assert_eq!(differing_ranges(&[1, 5], &[1, 2, 3]), vec![(1, 2)]);
        assert!(differing_ranges(&[1, 2], &[1, 2]).is_empty());
    }

    #[test]
    fn port_compare_finds_flipped_byte_and_dropped_frame() {
        let a: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        assert!(compare_port(1, &a, &a, "x", "y", 5).identical());

        let mut flipped = a.clone();
        flipped[3][7] ^= 0xff;
        let d = compare_port(1, &a, &flipped, "x", "y", 5);
        assert!(!d.identical());
        assert_eq!(d.differing, 1);
        assert_eq!(d.shown[0].index, 3);
        assert_eq!(differing_ranges(d.shown[0].a.as_ref().unwrap(), d.shown[0].b.as_ref().unwrap()), vec![(7, 7)]);

        let mut dropped = a.clone();
        dropped.remove(2);
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert_eq!((d.a_frames, d.b_frames, d.differing), (5, 4, 0));
        assert!(!d.identical());
        assert_eq!(d.note.as_deref(), Some("soft has one frame more: its frame 2; all others match in order"));
        assert_eq!(d.shown.len(), 1);
        assert_eq!((d.shown[0].index, d.shown[0].a.is_some(), d.shown[0].b.is_none()), (2, true, true));
        // dropped and altered: index by index
        dropped[3][0] = 99;
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert!(d.differing >= 2 && d.note.as_deref().unwrap().starts_with("frame counts differ"), "{d:?}");
        let d = compare_port(1, &a[..3], &a, "soft", "bmv2", 5);
        assert_eq!(d.note.as_deref(), Some("bmv2 has 2 frames more: its frames 3..=4; all others match in order"));
    }
}
