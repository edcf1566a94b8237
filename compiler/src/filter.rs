//! Clone filters and sampling as values: a profile's `filters` and `sample` parsed
//! and checked, and the port-range arithmetic their lowering needs.
//!
//! A profile's filter rules are ordered; the first rule that matches a packet
//! decides (`clone` or `skip`), and a packet no rule matches is cloned. The rules
//! never reach a device as such: [`crate::intent`] folds them into the profile's
//! classify rules, with priorities the user never sees (`docs/dataplane.md`, "Filters and sampling").

use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;

use crate::config::{Direction, FilterAction, FilterRule, Sample};
use crate::net::{family_bits, Prefix};

/// The most filter rules a profile may have.
pub const MAX_FILTERS: usize = 64;
/// Flow sampling resolution: the flow hash picks one of this many buckets, and a
/// profile sampling `P`% of the flows clones the buckets below `P * 100`.
pub use p4clone_proto::program::limits::SAMPLE_BUCKETS;

/// An inclusive L4 port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port (`>= lo`).
    pub hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange { lo: 0, hi: u16::MAX };

    /// Whether `p` is in the range.
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }

    /// Whether every port of `other` is in this range.
    pub fn covers(&self, other: &PortRange) -> bool {
        self.lo <= other.lo && other.hi <= self.hi
    }

    /// The range as the fewest (value, prefix length) ternary blocks, in port order
    /// (`0-65535` is one block of length 0; a single port one of length 16).
    pub fn prefixes(&self) -> Vec<(u16, u8)> {
        let mut out = Vec::new();
        let (mut a, b) = (u32::from(self.lo), u32::from(self.hi));
        while a <= b {
            let mut k = if a == 0 { 16 } else { a.trailing_zeros().min(16) };
            while a + (1 << k) - 1 > b {
                k -= 1;
            }
            out.push((a as u16, (16 - k) as u8));
            a += 1 << k;
        }
        out
    }
}

impl FromStr for PortRange {
    type Err = String;

    /// `443` or `1024-65535`.
    fn from_str(s: &str) -> Result<Self, String> {
        let port =
            |t: &str| t.trim().parse::<u16>().map_err(|_| format!("`{}` in `{s}` is not a port (0..65535)", t.trim()));
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!("port range `{s}` ends before it starts"));
        }
        Ok(PortRange { lo, hi })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// A filter rule with its values parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// Clone or skip.
    pub action: FilterAction,
    /// Which direction it matches.
    pub direction: Direction,
    /// IP protocol number; `None` = any.
    pub protocol: Option<u8>,
    /// Source prefix; `None` = any.
    pub src: Option<Prefix>,
    /// Destination prefix; `None` = any.
    pub dst: Option<Prefix>,
    /// Source ports; `None` = any.
    pub src_ports: Option<PortRange>,
    /// Destination ports; `None` = any.
    pub dst_ports: Option<PortRange>,
}

/// A problem with one field of a filter rule: (field, message).
pub type FieldError = (&'static str, String);

fn parse_prefix(s: &str) -> Result<Prefix, String> {
    if s.contains('/') {
        return Prefix::from_str(s);
    }
    let addr: IpAddr = s.parse().map_err(|_| format!("`{s}` is neither an IP address nor a prefix"))?;
    Ok(Prefix { addr, len: family_bits(&addr) })
}

impl Filter {
    /// Parses a config rule; every field that does not parse is reported.
    pub fn parse(r: &FilterRule) -> Result<Filter, Vec<FieldError>> {
        let mut errs = Vec::new();
        let mut prefix = |field: &'static str, s: &str| -> Option<Prefix> {
            if s.is_empty() {
                return None;
            }
            parse_prefix(s).map_err(|e| errs.push((field, e))).ok()
        };
        let (src, dst) = (prefix("src", &r.src), prefix("dst", &r.dst));
        if let (Some(a), Some(b)) = (src, dst) {
            if family_bits(&a.addr) != family_bits(&b.addr) {
                errs.push(("dst", format!("`{}` and src `{}` are of different address families", r.dst, r.src)));
            }
        }
        let mut ports = |field: &'static str, s: &str| -> Option<PortRange> {
            if s.is_empty() {
                return None;
            }
            s.parse::<PortRange>().map_err(|e| errs.push((field, e))).ok()
        };
        let (src_ports, dst_ports) = (ports("src_ports", &r.src_ports), ports("dst_ports", &r.dst_ports));
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Filter {
            action: r.action,
            direction: r.direction,
            protocol: r.protocol.map(|p| p.number()),
            src,
            dst,
            src_ports: src_ports.filter(|r| *r != PortRange::ALL),
            dst_ports: dst_ports.filter(|r| *r != PortRange::ALL),
        })
    }

    /// Whether every packet `other` matches is also matched by this rule (so that,
    /// placed after this one, `other` is never reached).
    pub fn covers(&self, other: &Filter) -> bool {
        let dir = self.direction == Direction::Both || self.direction == other.direction;
        let proto = self.protocol.is_none() || self.protocol == other.protocol;
        let pfx = |a: &Option<Prefix>, b: &Option<Prefix>| match (a, b) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.len <= b.len && a.contains(&b.addr),
        };
        let ports = |a: &Option<PortRange>, b: &Option<PortRange>| match (a, b) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.covers(b),
        };
        dir && proto
            && pfx(&self.src, &other.src)
            && pfx(&self.dst, &other.dst)
            && ports(&self.src_ports, &other.src_ports)
            && ports(&self.dst_ports, &other.dst_ports)
    }

    /// Whether the rule can match packets of this direction.
    pub fn has_direction(&self, to_pool: bool) -> bool {
        match self.direction {
            Direction::Both => true,
            Direction::ToPool => to_pool,
            Direction::FromPool => !to_pool,
        }
    }
}

/// A profile's sampling, as the data plane applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleMode {
    /// Every packet is cloned.
    #[default]
    All,
    /// Flows whose sampling bucket (0..[`SAMPLE_BUCKETS`]) is below the threshold.
    Flows(u16),
    /// The first packet of every `n`.
    OneIn(u16),
}

impl SampleMode {
    /// The `sample_mode` action parameter: 0 every packet, 1 flows, 2 one in N.
    pub fn mode_value(self) -> u8 {
        match self {
            SampleMode::All => 0,
            SampleMode::Flows(_) => 1,
            SampleMode::OneIn(_) => 2,
        }
    }

    /// The `sample_arg` action parameter: the bucket threshold or N.
    pub fn arg_value(self) -> u16 {
        match self {
            SampleMode::All => 0,
            SampleMode::Flows(t) | SampleMode::OneIn(t) => t,
        }
    }

    /// Parses a profile's `sample`; the error names the field.
    pub fn parse(s: Option<&Sample>) -> Result<SampleMode, FieldError> {
        let Some(s) = s else { return Ok(SampleMode::All) };
        match (s.flows_percent, s.one_in) {
            (Some(_), Some(_)) => Err(("one_in", "give either flows_percent or one_in, not both".to_string())),
            (None, None) => Err(("flows_percent", "sample needs flows_percent or one_in".to_string())),
            (Some(p), None) => {
                let buckets = p * 100.0;
                if !(p > 0.0 && p <= 100.0) {
                    return Err(("flows_percent", format!("{p} is not a percentage in 0.01..100")));
                }
                if (buckets - buckets.round()).abs() > 1e-6 || buckets.round() < 1.0 {
                    return Err((
                        "flows_percent",
                        format!("{p}: flow sampling has a resolution of 0.01% (at most two decimals, at least 0.01)"),
                    ));
                }
                Ok(SampleMode::Flows(buckets.round() as u16))
            }
            (None, Some(n)) => match u16::try_from(n) {
                Ok(n) if n >= 1 => Ok(SampleMode::OneIn(n)),
                _ => Err(("one_in", format!("{n} is out of range (1..65535)"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_prefixes_cover_the_range_exactly() {
        for (lo, hi) in [(0, 65535), (443, 443), (1024, 65535), (1, 2), (0, 0), (80, 90), (65535, 65535), (3, 60000)] {
            let r = PortRange { lo, hi };
            let blocks = r.prefixes();
            let mut covered = vec![false; 65536];
            for (v, len) in &blocks {
                let size = 1u32 << (16 - len);
                assert_eq!(u32::from(*v) % size, 0, "{r}: block {v}/{len} is not aligned");
                for p in u32::from(*v)..u32::from(*v) + size {
                    assert!(!covered[p as usize], "{r}: port {p} covered twice");
                    covered[p as usize] = true;
                }
            }
            for p in 0..=65535u32 {
                assert_eq!(covered[p as usize], r.contains(p as u16), "{r}: port {p}");
            }
        }
        assert_eq!(PortRange::ALL.prefixes(), vec![(0, 0)]);
        assert_eq!(PortRange { lo: 1024, hi: 65535 }.prefixes().len(), 6);
    }

    #[test]
    fn port_ranges_parse_and_refuse() {
        assert_eq!("443".parse::<PortRange>(), Ok(PortRange { lo: 443, hi: 443 }));
        assert_eq!("1024 - 2047".parse::<PortRange>(), Ok(PortRange { lo: 1024, hi: 2047 }));
        assert!("9-8".parse::<PortRange>().unwrap_err().contains("ends before it starts"));
        assert!("70000".parse::<PortRange>().unwrap_err().contains("`70000`"));
        assert!("http".parse::<PortRange>().is_err());
    }

    #[test]
    fn sample_parses_and_refuses() {
        let s = |p: Option<f64>, n: Option<u64>| SampleMode::parse(Some(&Sample { flows_percent: p, one_in: n }));
        assert_eq!(s(Some(12.5), None), Ok(SampleMode::Flows(1250)));
        assert_eq!(s(Some(100.0), None), Ok(SampleMode::Flows(10000)));
        assert_eq!(s(None, Some(7)), Ok(SampleMode::OneIn(7)));
        assert_eq!(SampleMode::parse(None), Ok(SampleMode::All));
        assert!(s(Some(0.001), None).unwrap_err().1.contains("resolution"));
        assert!(s(Some(0.0), None).is_err());
        assert!(s(Some(101.0), None).is_err());
        assert!(s(None, Some(0)).is_err());
        assert!(s(None, Some(65536)).is_err());
        assert!(s(Some(1.0), Some(1)).is_err());
        assert!(s(None, None).is_err());
    }

    #[test]
    fn covers_is_containment() {
        let rule = |src: &str, dst_ports: &str, dir| {
            Filter::parse(&FilterRule {
                action: FilterAction::Skip,
                direction: dir,
                protocol: None,
                src: src.into(),
                dst: String::new(),
                src_ports: String::new(),
                dst_ports: dst_ports.into(),
            })
            .unwrap()
        };
        let wide = rule("10.0.0.0/8", "1-1000", Direction::Both);
        assert!(wide.covers(&rule("10.1.0.0/16", "80", Direction::ToPool)));
        assert!(!wide.covers(&rule("10.1.0.0/16", "", Direction::ToPool)));
        assert!(!wide.covers(&rule("", "80", Direction::ToPool)));
        assert!(!rule("", "", Direction::ToPool).covers(&rule("", "", Direction::Both)));
        assert!(rule("", "0-65535", Direction::Both).covers(&wide));
    }
}
