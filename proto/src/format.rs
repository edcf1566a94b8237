//! Protobuf text format and JSON for any message of this crate.
//!
//! Messages are transcoded through [`prost_reflect::DynamicMessage`] using
//! [`crate::descriptor_pool`], so the output follows the protobuf conventions:
//! text format uses proto field names (`device_id: 1`), JSON uses the proto3
//! JSON mapping (`"deviceId": "1"`: lowerCamelCase names, 64-bit integers as
//! strings, bytes as base64, default values omitted). `google.protobuf.Any`
//! payloads of known types are expanded.
//!
//! ```
//! use p4clone_proto::{format, p4::v1::WriteRequest};
//! let req = WriteRequest { device_id: 1, ..Default::default() };
//! assert_eq!(format::to_text(&req), "device_id: 1\n");
//! let back: WriteRequest = format::from_text("device_id: 1").unwrap();
//! assert_eq!(back, req);
//! assert_eq!(format::to_json(&req).unwrap()["deviceId"], "1");
//! ```

use prost::{Message, Name};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, SerializeOptions, Value};

use crate::{descriptor_pool, Error};

/// The descriptor of `M` in [`crate::descriptor_pool`].
pub fn descriptor<M: Name>() -> Result<MessageDescriptor, Error> {
    let name = M::full_name();
    descriptor_pool().get_message_by_name(&name).ok_or(Error::UnknownMessageType(name))
}

/// `msg` as a [`DynamicMessage`] (for generic inspection).
pub fn to_dynamic<M: Message + Name>(msg: &M) -> Result<DynamicMessage, Error> {
    let mut dynamic = DynamicMessage::new(descriptor::<M>()?);
    dynamic.transcode_from(msg)?;
    Ok(dynamic)
}

/// Pretty, multi-line protobuf text format, in the style of `protoc` and the
/// P4Info `.txtpb` files: fields in field-number order, repeated fields as one
/// entry per element, two-space indentation, a trailing newline unless the
/// message is empty.
pub fn to_text<M: Message + Name>(msg: &M) -> String {
    render_text(msg, true)
}

/// Single-line protobuf text format (for logs and error messages).
pub fn to_text_compact<M: Message + Name>(msg: &M) -> String {
    render_text(msg, false)
}

fn render_text<M: Message + Name>(msg: &M, pretty: bool) -> String {
    match to_dynamic(msg) {
        Ok(dynamic) => {
            let mut w = TextWriter { out: String::new(), pretty, indent: 0 };
            w.message(&dynamic);
            if !pretty {
                let trimmed = w.out.trim_end().len();
                w.out.truncate(trimmed);
            }
            w.out
        }
        // Only reachable for a hand-written `Name` impl naming a type that is
        // not in the pool.
        Err(e) => format!("# {e}\n"),
    }
}

/// Text-format writer over a [`DynamicMessage`].
struct TextWriter {
    out: String,
    pretty: bool,
    indent: usize,
}

impl TextWriter {
    fn message(&mut self, msg: &DynamicMessage) {
        let mut fields: Vec<_> = msg.descriptor().fields().collect();
        fields.sort_by_key(|f| f.number());
        for field in fields {
            if !msg.has_field(&field) {
                continue;
            }
            let value = msg.get_field(&field);
            let kind = field.kind();
            match &*value {
                Value::List(items) => {
                    for item in items {
                        self.field(field.name(), item, &kind);
                    }
                }
                Value::Map(map) => {
                    let entry = kind.as_message().expect("map fields have an entry message");
                    let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
                    let mut entries: Vec<_> = map.iter().collect();
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in entries {
                        self.open(field.name());
                        self.field("key", &Value::from(k.clone()), &key_field.kind());
                        self.field("value", v, &value_field.kind());
                        self.close();
                    }
                }
                single => self.field(field.name(), single, &kind),
            }
        }
    }

    fn field(&mut self, name: &str, value: &Value, kind: &Kind) {
        if let Value::Message(inner) = value {
            if let Some((type_url, body)) = expand_any(inner) {
                self.open(name);
                self.open(&format!("[{type_url}]"));
                self.message(&body);
                self.close();
                self.close();
            } else {
                self.open(name);
                self.message(inner);
                self.close();
            }
            return;
        }
        self.line_start();
        self.out.push_str(name);
        self.out.push_str(": ");
        self.scalar(value, kind);
        self.line_end();
    }

    fn scalar(&mut self, value: &Value, kind: &Kind) {
        use std::fmt::Write;
        let out = &mut self.out;
        let _ = match value {
            Value::Bool(v) => write!(out, "{v}"),
            Value::I32(v) => write!(out, "{v}"),
            Value::I64(v) => write!(out, "{v}"),
            Value::U32(v) => write!(out, "{v}"),
            Value::U64(v) => write!(out, "{v}"),
            Value::F32(v) => write!(out, "{v:?}"),
            Value::F64(v) => write!(out, "{v:?}"),
            Value::String(s) => write!(out, "\"{}\"", escape(s.as_bytes())),
            Value::Bytes(b) => write!(out, "\"{}\"", escape(b)),
            Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
                Some(v) => write!(out, "{}", v.name()),
                None => write!(out, "{n}"),
            },
            // Messages, lists and maps are handled by the callers.
            Value::Message(_) | Value::List(_) | Value::Map(_) => Ok(()),
        };
    }

    fn open(&mut self, name: &str) {
        self.line_start();
        self.out.push_str(name);
        self.out.push_str(" {");
        self.indent += 1;
        self.line_end();
    }

    fn close(&mut self) {
        self.indent -= 1;
        self.line_start();
        self.out.push('}');
        self.line_end();
    }

    fn line_start(&mut self) {
        if self.pretty {
            for _ in 0..self.indent {
                self.out.push_str("  ");
            }
        }
    }

    fn line_end(&mut self) {
        self.out.push(if self.pretty { '\n' } else { ' ' });
    }
}

/// The type URL and decoded payload of a `google.protobuf.Any` whose type is
/// in the pool.
fn expand_any(msg: &DynamicMessage) -> Option<(String, DynamicMessage)> {
    if msg.descriptor().full_name() != "google.protobuf.Any" {
        return None;
    }
    let type_url = msg.get_field_by_name("type_url")?.as_str()?.to_string();
    let value = msg.get_field_by_name("value")?.as_bytes()?.clone();
    let name = type_url.rsplit('/').next()?;
    let desc = descriptor_pool().get_message_by_name(name)?;
    let body = DynamicMessage::decode(desc, value).ok()?;
    Some((type_url, body))
}

/// C-style escaping as `protoc` prints strings and bytes (octal for
/// non-printable bytes).
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Parses protobuf text format into `M`.
pub fn from_text<M: Message + Default + Name>(text: &str) -> Result<M, Error> {
    let desc = descriptor::<M>()?;
    let dynamic = DynamicMessage::parse_text_format(desc, text)
        .map_err(|e| Error::TextFormat { message: M::full_name(), reason: e.to_string() })?;
    Ok(dynamic.transcode_to::<M>()?)
}

/// `msg` in the proto3 JSON mapping.
///
/// Fails only if an `Any` field holds a type unknown to the descriptor pool.
pub fn to_json<M: Message + Name>(msg: &M) -> Result<serde_json::Value, Error> {
    let dynamic = to_dynamic(msg)?;
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|e| Error::Json { message: M::full_name(), reason: e.to_string() })
}

/// [`to_json`], pretty-printed as a string.
pub fn to_json_string<M: Message + Name>(msg: &M) -> Result<String, Error> {
    let value = to_json(msg)?;
    serde_json::to_string_pretty(&value).map_err(|e| Error::Json { message: M::full_name(), reason: e.to_string() })
}

/// Parses proto3 JSON into `M` (accepts both lowerCamelCase and proto names).
pub fn from_json<M: Message + Default + Name>(json: &str) -> Result<M, Error> {
    let desc = descriptor::<M>()?;
    let json_err = |e: serde_json::Error| Error::Json { message: M::full_name(), reason: e.to_string() };
    let mut de = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(desc, &mut de).map_err(json_err)?;
    de.end().map_err(json_err)?;
    Ok(dynamic.transcode_to::<M>()?)
}
