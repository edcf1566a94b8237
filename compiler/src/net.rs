//! Network value types shared by validation, intent and lowering: MAC
//! addresses, IP prefixes, interface addresses and `ip:port` endpoints, each with
//! a parser that explains what is wrong with a malformed value. Also [`FastHashMap`],
//! the (non-cryptographic) hash map the compiler's name and address look-ups use.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The hasher of the compiler's name and address maps: foldhash's fast hasher with
/// a fixed seed (deterministic from run to run). Much cheaper than the standard
/// library's SipHash for the short names, small integers and addresses the compiler
/// hashes; not meant to resist deliberately colliding keys, which cost time, never
/// correctness, and are not a concern for a config its user wrote.
pub type FastState = foldhash::fast::FixedState;
/// A `HashMap` hashed with [`FastState`].
pub type FastHashMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` hashed with [`FastState`].
pub type FastHashSet<K> = HashSet<K, FastState>;

/// An empty [`FastHashMap`] with room for `n` entries.
pub fn fast_map<K, V>(n: usize) -> FastHashMap<K, V> {
    HashMap::with_capacity_and_hasher(n, FastState::default())
}

/// A 48-bit Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The address as a big-endian integer (48 significant bits).
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }
}

impl FromStr for Mac {
    type Err = String;

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators), hex digits in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.split([':', '-']).count() != 6 {
            return Err(format!("`{s}` is not a MAC address (want six hex octets like 02:00:00:00:00:01)"));
        }
        let mut out = [0u8; 6];
        for (i, p) in s.split([':', '-']).enumerate() {
            if p.is_empty() || p.len() > 2 {
                return Err(format!("`{s}` is not a MAC address (octet {} is `{p}`)", i + 1));
            }
            out[i] = u8::from_str_radix(p, 16)
                .map_err(|_| format!("`{s}` is not a MAC address (octet {} is `{p}`)", i + 1))?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// An IP prefix (network address with all host bits zero, plus length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

/// The bit width of an address family: 32 or 128.
pub fn family_bits(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn addr_bits(addr: &IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

/// The network mask of a `len`-bit prefix in a `bits`-wide address.
fn mask(bits: u8, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(len))) >> (128 - u32::from(bits))
    }
}

impl Prefix {
    /// Whether `ip` lies inside this prefix (same family and same network bits).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        if family_bits(ip) != family_bits(&self.addr) {
            return false;
        }
        let m = mask(family_bits(ip), self.len);
        addr_bits(ip) & m == addr_bits(&self.addr) & m
    }
}

fn split_len(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` has no prefix length (want address/length, e.g. 10.0.0.0/24)"))?;
    let addr: IpAddr = a.parse().map_err(|_| format!("`{a}` in `{s}` is not an IP address"))?;
    let len: u8 = l.parse().map_err(|_| format!("`{l}` in `{s}` is not a prefix length"))?;
    if len > family_bits(&addr) {
        return Err(format!("prefix length /{len} in `{s}` is longer than the address ({} bits)", family_bits(&addr)));
    }
    Ok((addr, len))
}

impl FromStr for Prefix {
    type Err = String;

    /// Parses `addr/len`; host bits must be zero.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = split_len(s)?;
        let m = mask(family_bits(&addr), len);
        if addr_bits(&addr) & !m != 0 {
            return Err(format!("`{s}` has host bits set (did you mean the network address?)"));
        }
        Ok(Prefix { addr, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An interface address: host address plus the prefix length of its subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfAddr {
    /// Host address.
    pub addr: IpAddr,
    /// Prefix length of the attached subnet.
    pub len: u8,
}

impl IfAddr {
    /// The subnet this address sits in.
    pub fn subnet(&self) -> Prefix {
        let bits = family_bits(&self.addr);
        let n = addr_bits(&self.addr) & mask(bits, self.len);
        let addr = match self.addr {
            IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(n.into()),
        };
        Prefix { addr, len: self.len }
    }
}

impl FromStr for IfAddr {
    type Err = String;

    /// Parses `addr/len` (host bits allowed, that is the point).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = split_len(s)?;
        Ok(IfAddr { addr, len })
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Parses an `ip:port` endpoint (`[v6]:port` for IPv6).
pub fn parse_endpoint(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .map_err(|_| format!("`{s}` is not an address:port endpoint (e.g. 10.0.0.5:40001 or [2001:db8::5]:40001)"))
}

/// `IPv4` or `IPv6`, for messages.
pub fn family_name(addr: &IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

/// Parses a `host:port` network address such as a P4Runtime gRPC endpoint:
/// an IPv4 address or DNS name, or a bracketed IPv6 address, then a port number
/// (1..65535, required). Returns the host (brackets removed) and the port.
pub fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let bad = |why: &str| format!("`{s}` is not a host:port address ({why}; e.g. 127.0.0.1:9559 or [::1]:9559)");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        h.parse::<std::net::Ipv6Addr>().map_err(|_| bad("the bracketed part is not an IPv6 address"))?;
        let port = after.strip_prefix(':').ok_or_else(|| bad("no port number"))?;
        (h, port)
    } else {
        let (h, port) = s.rsplit_once(':').ok_or_else(|| bad("no port number"))?;
        if h.contains(':') {
            return Err(bad("an IPv6 address needs brackets"));
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if h.is_empty() || !h.chars().all(valid) {
            return Err(bad("the host is not an address or DNS name"));
        }
        (h, port)
    };
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number in 1..65535"))?;
    if port == 0 {
        return Err(bad("port 0 is not a port one can connect to"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip_and_errors() {
        let m: Mac = "02:00:00:00:50:0A".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:00:00:50:0a");
        assert_eq!(m.to_u64(), 0x0200_0000_500a);
        assert!("02:00:00:00:50".parse::<Mac>().is_err());
        assert!("02:00:00:00:50:zz".parse::<Mac>().is_err());
        assert!("02:00:00:00:50:100".parse::<Mac>().is_err());
    }

    #[test]
    fn prefixes() {
        let p: Prefix = "10.20.0.0/16".parse().unwrap();
        assert!(p.contains(&"10.20.1.11".parse().unwrap()));
        assert!(!p.contains(&"10.21.0.1".parse().unwrap()));
        assert!(!p.contains(&"::1".parse().unwrap()));
        assert!("10.20.0.1/16".parse::<Prefix>().is_err());
        assert!("10.20.0.0/33".parse::<Prefix>().is_err());
        assert!("10.20.0.0".parse::<Prefix>().is_err());
        let p6: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(p6.contains(&"2001:db8:1::5".parse().unwrap()));
        let all: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&"1.2.3.4".parse().unwrap()));
        let all6: Prefix = "::/0".parse().unwrap();
        assert!(all6.contains(&"2001::1".parse().unwrap()));
        let host6: Prefix = "2001:db8::1/128".parse().unwrap();
        assert!(host6.contains(&"2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn ifaddr_subnet() {
        let a: IfAddr = "10.20.0.5/16".parse().unwrap();
        assert_eq!(a.subnet().to_string(), "10.20.0.0/16");
        let b: IfAddr = "2001:db8::5/64".parse().unwrap();
        assert_eq!(b.subnet().to_string(), "2001:db8::/64");
    }

    #[test]
    fn endpoints() {
        assert_eq!(parse_endpoint("10.0.0.5:40001").unwrap().port(), 40001);
        assert!(parse_endpoint("[2001:db8::5]:1").is_ok());
        assert!(parse_endpoint("10.0.0.5").is_err());
    }

    #[test]
    fn host_ports() {
        assert_eq!(parse_host_port("127.0.0.1:9559").unwrap(), ("127.0.0.1".to_string(), 9559));
        assert_eq!(parse_host_port("switch-1.lab:9559").unwrap().0, "switch-1.lab");
        assert_eq!(parse_host_port("[::1]:9559").unwrap(), ("::1".to_string(), 9559));
        for bad in ["127.0.0.1", "::1:9559", "[::1]", "[::1:9559", "host:0", "host:99999", ":9559", "a b:1", "[x]:1"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }
}
