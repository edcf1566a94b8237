//! CLI port specs: `N=pcap:IN.pcap`, `N=afpacket:IFACE`, `N=dpdk:ID`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::error::{PortError, Result};
use super::pcap::{output_path, PcapPort};
use super::port::{Port, MAX_PORT};

/// The backend part of a spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackendSpec {
    /// `pcap:FILE`: replay FILE; write `DIR/port-<N>.pcap`.
    Pcap(PathBuf),
    /// `afpacket:IFACE`: a raw socket on IFACE.
    AfPacket(String),
    /// `dpdk:ID`: a DPDK port (not built yet).
    Dpdk(String),
}

/// A parsed `N=BACKEND:ARG` port spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// Device port number, 0..=[`MAX_PORT`].
    pub port: u16,
    /// Backend and its argument.
    pub backend: BackendSpec,
    /// The spec as given (for error messages).
    pub text: String,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            BackendSpec::Pcap(p) => write!(f, "{}=pcap:{}", self.port, p.display()),
            BackendSpec::AfPacket(i) => write!(f, "{}=afpacket:{i}", self.port),
            BackendSpec::Dpdk(i) => write!(f, "{}=dpdk:{i}", self.port),
        }
    }
}

impl PortSpec {
    /// Parses a spec. Checks the syntax, the port range and, for pcap, that the
    /// input file exists (so the CLI can refuse it as bad input up front).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason: String| PortError::Spec { spec: s.to_string(), reason };
        let Some((num, rest)) = s.split_once('=') else {
            return Err(bad("expected N=BACKEND:ARG, e.g. 1=pcap:in.pcap or 2=afpacket:eth1".into()));
        };
        let num = num.trim();
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("port number {num:?} is not a decimal number (0..={MAX_PORT})")));
        }
        let port = match num.parse::<u32>() {
            Ok(p) if p <= u32::from(MAX_PORT) => p as u16,
            _ => return Err(bad(format!("port number {num} is out of range 0..={MAX_PORT} (511 is the drop port)"))),
        };
        let Some((kind, arg)) = rest.split_once(':') else {
            return Err(bad(format!("expected BACKEND:ARG after '{num}=', with BACKEND one of pcap, afpacket, dpdk")));
        };
        let backend = match kind {
            "pcap" => {
                if arg.is_empty() {
                    return Err(bad("missing pcap file name".into()));
                }
                let p = PathBuf::from(arg);
                if !p.is_file() {
                    return Err(bad(if p.exists() {
                        format!("{arg} is not a regular file")
                    } else {
                        format!("pcap file {arg} does not exist")
                    }));
                }
                BackendSpec::Pcap(p)
            }
            "afpacket" => {
                if arg.is_empty() {
                    return Err(bad("missing interface name".into()));
                }
                if arg.len() >= 16 || arg.contains(['/', '\0']) || arg.contains(char::is_whitespace) {
                    return Err(bad(format!("{arg:?} is not a valid interface name")));
                }
                BackendSpec::AfPacket(arg.to_string())
            }
            "dpdk" => {
                if arg.is_empty() {
                    return Err(bad("missing DPDK port id".into()));
                }
                BackendSpec::Dpdk(arg.to_string())
            }
            other => return Err(bad(format!("unknown backend {other:?}; expected pcap, afpacket or dpdk"))),
        };
        Ok(PortSpec { port, backend, text: s.to_string() })
    }

    /// Opens the backend. pcap ports write to `out_dir/port-<N>.pcap`.
    pub fn open(&self, out_dir: &Path) -> Result<Box<dyn Port>> {
        let wrap = |e: PortError| match e {
            e @ (PortError::Pcap { .. } | PortError::AfPacket { .. }) => e,
            other => PortError::Spec { spec: self.text.clone(), reason: other.to_string() },
        };
        match &self.backend {
            BackendSpec::Pcap(input) => {
                let port = PcapPort::new(Some(input), Some(output_path(out_dir, self.port))).map_err(wrap)?;
                Ok(Box::new(port))
            }
            #[cfg(target_os = "linux")]
            BackendSpec::AfPacket(iface) => {
                let port = super::afpacket::AfPacketPort::open(iface).map_err(wrap)?;
                Ok(Box::new(port))
            }
            #[cfg(not(target_os = "linux"))]
            BackendSpec::AfPacket(_) => {
                Err(PortError::Spec { spec: self.text.clone(), reason: "the afpacket backend needs Linux".into() })
            }
            #[cfg(feature = "dpdk")]
            BackendSpec::Dpdk(id) => {
                let port = super::dpdk::DpdkPort::open(id).map_err(|e| wrap(e.into()))?;
                Ok(Box::new(port))
            }
            #[cfg(not(feature = "dpdk"))]
            BackendSpec::Dpdk(_) => Err(PortError::Spec {
                spec: self.text.clone(),
                reason: "the dpdk backend is not built into this binary (cargo feature `dpdk`)".into(),
            }),
        }
    }
}

impl FromStr for PortSpec {
    type Err = PortError;
    fn from_str(s: &str) -> Result<Self> {
        PortSpec::parse(s)
    }
}

/// Parses several specs; refuses a port number given twice.
pub fn parse_port_specs<S: AsRef<str>>(specs: &[S]) -> Result<BTreeMap<u16, PortSpec>> {
    let mut out = BTreeMap::new();
    for s in specs {
        let spec = PortSpec::parse(s.as_ref())?;
        if let Some(prev) = out.get(&spec.port) {
            let prev: &PortSpec = prev;
            return Err(PortError::Spec {
                spec: spec.text.clone(),
                reason: format!("port {} is already given by {:?}", spec.port, prev.text),
            });
        }
        out.insert(spec.port, spec);
    }
    Ok(out)
}

/// Opens every spec (see [`PortSpec::open`]). On error, ports opened so far are
/// closed.
pub fn open_ports(specs: &BTreeMap<u16, PortSpec>, out_dir: &Path) -> Result<BTreeMap<u16, Box<dyn Port>>> {
    let mut out: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for (&n, spec) in specs {
        match spec.open(out_dir) {
            Ok(p) => {
                out.insert(n, p);
            }
            Err(e) => {
                for p in out.values_mut() {
                    let _ = p.close();
                }
                return Err(e);
            }
        }
    }
    Ok(out)
}
