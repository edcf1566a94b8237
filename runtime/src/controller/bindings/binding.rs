//! A live NAT binding and the parsing of its text form (the config's
//! `nat_bindings` form: `ip:port`, `[v6]:port`, `tcp` / `udp`); every error
//! names the field.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use p4clone_compiler::config::Protocol;
use p4clone_compiler::intent::NatEntry;

/// A binding's identity, as the NAT tables key it: SE endpoint and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingKey {
    /// SE-side `ip:port`.
    pub se: SocketAddr,
    /// L4 protocol.
    pub protocol: Protocol,
}

impl BindingKey {
    /// 0 for IPv4, 1 for IPv6 (the index of the family's NAT tables).
    pub fn family(&self) -> usize {
        usize::from(self.se.is_ipv6())
    }
}

impl fmt::Display for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.se, protocol_name(self.protocol))
    }
}

/// SE endpoint + protocol → client endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding {
    /// SE endpoint and protocol.
    pub key: BindingKey,
    /// Client `ip:port`.
    pub client: SocketAddr,
}

impl Binding {
    /// The compiler's NAT entry for it (what lowering writes to the NAT tables).
    pub fn nat_entry(&self) -> NatEntry {
        NatEntry {
            se_addr: self.key.se.ip(),
            se_port: self.key.se.port(),
            client_addr: self.client.ip(),
            client_port: self.client.port(),
            protocol: self.key.protocol.number(),
        }
    }

    /// The binding a NAT entry stands for; `None` when its protocol is neither
    /// TCP nor UDP, a port is 0 or the families differ.
    pub fn from_nat_entry(n: &NatEntry) -> Option<Binding> {
        let protocol = protocol_of_number(n.protocol)?;
        let b = Binding {
            key: BindingKey { se: SocketAddr::new(n.se_addr, n.se_port), protocol },
            client: SocketAddr::new(n.client_addr, n.client_port),
        };
        (n.se_port != 0 && n.client_port != 0 && n.se_addr.is_ipv4() == n.client_addr.is_ipv4()).then_some(b)
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {} ({})", self.key.se, self.client, protocol_name(self.key.protocol))
    }
}

/// A field of a binding that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, e.g. `binding.se` or `se`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// `tcp` or `udp`.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

fn protocol_of_number(n: u8) -> Option<Protocol> {
    [Protocol::Tcp, Protocol::Udp].into_iter().find(|p| p.number() == n)
}

/// Parses an endpoint: `ip:port` or `[v6]:port`, port 1..=65535.
pub fn parse_endpoint(field: &str, s: &str) -> Result<SocketAddr, FieldError> {
    let a = p4clone_compiler::net::parse_endpoint(s).map_err(|m| FieldError::new(field, m))?;
    if a.port() == 0 {
        return Err(FieldError::new(field, format!("`{s}`: port 0 is not a port a connection can use")));
    }
    Ok(a)
}

/// Parses `tcp`, `udp` (any case), or empty (= `tcp`, as in the config).
pub fn parse_protocol(field: &str, s: &str) -> Result<Protocol, FieldError> {
    match s.to_ascii_lowercase().as_str() {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        _ => Err(FieldError::new(field, format!("`{s}` is not a protocol (tcp or udp)"))),
    }
}

/// Parses a key: `{prefix}se` and `{prefix}protocol`.
pub fn parse_key(prefix: &str, se: &str, protocol: &str) -> Result<BindingKey, FieldError> {
    Ok(BindingKey {
        se: parse_endpoint(&format!("{prefix}se"), se)?,
        protocol: parse_protocol(&format!("{prefix}protocol"), protocol)?,
    })
}

/// Parses a binding; fields named `{prefix}se`, `{prefix}client`,
/// `{prefix}protocol`. The client must be of the SE address's family.
pub fn parse_binding(prefix: &str, se: &str, client: &str, protocol: &str) -> Result<Binding, FieldError> {
    let key = parse_key(prefix, se, protocol)?;
    let client_field = format!("{prefix}client");
    let client = parse_endpoint(&client_field, client)?;
    if client.is_ipv4() != key.se.is_ipv4() {
        return Err(FieldError::new(
            client_field,
            format!(
                "client `{client}` is {} but the SE address `{}` is {}",
                family(&client.ip()),
                key.se,
                family(&key.se.ip())
            ),
        ));
    }
    Ok(Binding { key, client })
}

fn family(a: &IpAddr) -> &'static str {
    p4clone_compiler::net::family_name(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let e = parse_binding("binding.", "10.0.0.5:0", "1.2.3.4:5", "tcp").unwrap_err();
        assert_eq!(e.field, "binding.se");
        assert!(e.message.contains("port 0"), "{e}");
        let e = parse_binding("", "10.0.0.5:1", "[2001:db8::1]:5", "").unwrap_err();
        assert_eq!(e.field, "client");
        assert!(e.message.contains("IPv6"), "{e}");
        let e = parse_binding("", "10.0.0.5", "1.2.3.4:5", "").unwrap_err();
        assert_eq!(e.field, "se");
        let e = parse_binding("", "10.0.0.5:1", "1.2.3.4:5", "sctp").unwrap_err();
        assert_eq!(e.field, "protocol");
        let b = parse_binding("", "[2001:db8::5]:40001", "[2001:db8::7]:51515", "UDP").unwrap();
        assert_eq!(b.key.family(), 1);
        assert_eq!(Binding::from_nat_entry(&b.nat_entry()), Some(b));
    }
}
