//! Lenient field readers: the API's numbers and booleans are also accepted as
//! strings (`"port": "80"`, `"preserve_client_ip": "true"`), and `null` is absent.
//! Each reader returns the problem as text; callers add the object and field.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// A JSON object.
pub type Object = Map<String, Value>;

/// The field's value; `null` counts as absent.
pub fn get<'a>(obj: &'a Object, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|v| !v.is_null())
}

/// A string field (a number is accepted and written out).
pub fn text(obj: &Object, field: &str) -> Result<Option<String>, String> {
    match get(obj, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("expected a string, found {}", type_name(other))),
    }
}

/// A non-negative integer field, or a string holding one.
pub fn integer(obj: &Object, field: &str) -> Result<Option<u64>, String> {
    match get(obj, field) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64().map(Some).ok_or_else(|| format!("expected a non-negative integer, found {n}"))
        }
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("expected a non-negative integer, found the string {s:?}")),
        Some(other) => Err(format!("expected an integer, found {}", type_name(other))),
    }
}

/// A boolean field, or a string `"true"`/`"false"` (any case).
pub fn boolean(obj: &Object, field: &str) -> Result<Option<bool>, String> {
    match get(obj, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(format!("expected a boolean, found the string {s:?}")),
        },
        Some(other) => Err(format!("expected a boolean, found {}", type_name(other))),
    }
}

/// An array of objects (absent = empty).
pub fn objects<'a>(obj: &'a Object, field: &str) -> Result<Vec<&'a Object>, String> {
    match get(obj, field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_object().ok_or_else(|| format!("[{i}]: expected an object, found {}", type_name(v))))
            .collect(),
        Some(other) => Err(format!("expected an array, found {}", type_name(other))),
    }
}

/// An object field.
pub fn object<'a>(obj: &'a Object, field: &str) -> Result<Option<&'a Object>, String> {
    match get(obj, field) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(format!("expected an object, found {}", type_name(other))),
    }
}

/// An `IpAddr` object `{addr, type}`: the address, checked against its type.
/// `DNS`-typed addresses are refused (p4clone matches on addresses, not names).
pub fn ip_addr(obj: &Object) -> Result<IpAddr, (String, String)> {
    let kind = text(obj, "type").map_err(|e| ("type".to_string(), e))?;
    let addr = text(obj, "addr").map_err(|e| ("addr".to_string(), e))?;
    let Some(addr) = addr else {
        return Err(("addr".to_string(), "missing".to_string()));
    };
    if kind.as_deref() == Some("DNS") {
        return Err((
            "type".to_string(),
            format!("DNS-typed address {addr:?} is not supported: p4clone needs an IPv4 or IPv6 address"),
        ));
    }
    let ip: IpAddr =
        addr.parse().map_err(|_| ("addr".to_string(), format!("{addr:?} is not an IPv4 or IPv6 address")))?;
    match (kind.as_deref(), ip) {
        (None, _) | (Some("V4"), IpAddr::V4(_)) | (Some("V6"), IpAddr::V6(_)) => Ok(ip),
        (Some(t), _) => Err(("type".to_string(), format!("type {t:?} does not match the address {addr}"))),
    }
}

/// An `IpAddrPrefix` object `{ip_addr, mask}` as `addr/mask`.
pub fn ip_prefix(obj: &Object) -> Result<(IpAddr, u8), (String, String)> {
    let addr = object(obj, "ip_addr").map_err(|e| ("ip_addr".to_string(), e))?;
    let Some(addr) = addr else {
        return Err(("ip_addr".to_string(), "missing".to_string()));
    };
    let ip = ip_addr(addr).map_err(|(f, e)| (format!("ip_addr.{f}"), e))?;
    let mask = integer(obj, "mask").map_err(|e| ("mask".to_string(), e))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match mask {
        None => Err(("mask".to_string(), "missing".to_string())),
        Some(m) if m > max => Err(("mask".to_string(), format!("{m} is longer than {max}"))),
        Some(m) => Ok((ip, m as u8)),
    }
}

/// Whether `ip` is inside `prefix/len`.
pub fn contains(prefix: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (prefix, ip) {
        (IpAddr::V4(p), IpAddr::V4(a)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(p) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(a)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            u128::from(p) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn string_typed_numbers_and_booleans_are_accepted() {
        let o = obj(json!({"port": "80", "n": 81, "b": "true", "c": false, "x": null}));
        assert_eq!(integer(&o, "port"), Ok(Some(80)));
        assert_eq!(integer(&o, "n"), Ok(Some(81)));
        assert_eq!(boolean(&o, "b"), Ok(Some(true)));
        assert_eq!(boolean(&o, "c"), Ok(Some(false)));
        assert_eq!(boolean(&o, "x"), Ok(None));
        assert!(integer(&o, "b").is_err());
        assert!(boolean(&o, "port").is_err());
    }

    #[test]
    fn dns_addresses_are_refused() {
        let o = obj(json!({"addr": "ids.example.com", "type": "DNS"}));
        let (field, msg) = ip_addr(&o).unwrap_err();
        assert_eq!(field, "type");
        assert!(msg.contains("DNS-typed"), "{msg}");
    }

    #[test]
    fn prefix_containment() {
        let p: IpAddr = "10.20.0.0".parse().unwrap();
        assert!(contains(p, 16, "10.20.9.9".parse().unwrap()));
        assert!(!contains(p, 16, "10.21.0.1".parse().unwrap()));
        assert!(!contains(p, 16, "::1".parse().unwrap()));
    }
}
