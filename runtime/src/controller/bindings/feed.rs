//! The JSON-lines form of binding ops (`p4clone bindings feed` reads it,
//! `p4clone bindings list` writes it):
//! `{"op":"add","se":"10.0.0.5:40001","client":"198.51.100.7:51515","protocol":"tcp"}`;
//! `op` is `add` (the default) or `remove` (which needs no `client`);
//! `protocol` is `tcp` (the default) or `udp`.

use serde::{Deserialize, Serialize};

use super::binding::{parse_binding, parse_key, protocol_name, Binding, FieldError};
use super::table::BindingOp;

/// One line, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// `add` or `remove`.
    #[serde(default = "add")]
    pub op: String,
    /// SE-side `ip:port`.
    pub se: String,
    /// Client `ip:port` (adds only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client: String,
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
}

fn add() -> String {
    "add".into()
}

/// The JSON line of a binding (an `add`).
pub fn line_of(b: &Binding) -> String {
    let l = Line {
        op: add(),
        se: b.key.se.to_string(),
        client: b.client.to_string(),
        protocol: protocol_name(b.key.protocol).into(),
    };
    serde_json::to_string(&l).unwrap_or_default()
}

/// Parses one line (not blank) into an op; errors name the JSON field.
pub fn parse_line(text: &str) -> Result<BindingOp, FieldError> {
    let l: Line = serde_json::from_str(text).map_err(|e| FieldError::new("json", e.to_string()))?;
    match l.op.as_str() {
        "add" => parse_binding("", &l.se, &l.client, &l.protocol).map(BindingOp::Add),
        "remove" => parse_key("", &l.se, &l.protocol).map(BindingOp::Remove),
        other => Err(FieldError::new("op", format!("`{other}` is not add or remove"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_errors_name_the_field() {
        let op =
            parse_line(r#"{"op":"add","se":"10.0.0.5:40001","client":"198.51.100.7:51515","protocol":"tcp"}"#).unwrap();
        let BindingOp::Add(b) = op else { panic!("{op:?}") };
        assert_eq!(parse_line(&line_of(&b)).unwrap(), op);
        assert!(matches!(parse_line(r#"{"op":"remove","se":"10.0.0.5:40001"}"#), Ok(BindingOp::Remove(_))));
        assert_eq!(parse_line(r#"{"se":"10.0.0.5:40001","client":"x"}"#).unwrap_err().field, "client");
        assert_eq!(parse_line(r#"{"op":"flip","se":"10.0.0.5:1"}"#).unwrap_err().field, "op");
        assert_eq!(parse_line("{not json").unwrap_err().field, "json");
        assert_eq!(parse_line(r#"{"se":"1.2.3.4:5","client":"1.2.3.4:6","extra":1}"#).unwrap_err().field, "json");
    }
}
