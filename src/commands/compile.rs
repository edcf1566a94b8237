//! `p4clone compile CONFIG`: the ordered P4Runtime updates per device.
//!
//! Output, one `WriteRequest` per device (device order: by name):
//! - `text`: protobuf text format, each request preceded by a comment line
//!   `# device NAME (TARGET, ADDRESS)`; the whole output still parses as one
//!   `WriteRequest` per device section.
//! - `json`: a JSON array of `{"device", "target", "address", "write_request"}`
//!   objects, `write_request` in the proto3 JSON mapping (lowerCamelCase names,
//!   bytes as base64, 64-bit integers as strings). Always an array, even for one
//!   device.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::ValueEnum;
use p4clone_compiler::intent::DeviceIntent;
use p4clone_compiler::lower::{lower_device, write_request};
use p4clone_proto::format;
use p4clone_proto::p4::v1::WriteRequest;

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome};
use crate::render::{emit_with, target_name};

/// Output format of `compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompileOutput {
    /// Protobuf text format, one `# device ...` comment line before each request.
    Text,
    /// A JSON array of {"device", "target", "address", "write_request"} (proto3 JSON mapping).
    Json,
}

/// Compile a config into the ordered P4Runtime updates of a full apply, one
/// WriteRequest per device (device_id from the config): wire entries, clone sessions,
/// clone rewrites, NAT entries, then classify entries.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    /// Only this device (default: every device, sorted by name)
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = CompileOutput::Text)]
    pub output: CompileOutput,
    /// Write to FILE instead of stdout
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `compile`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let devices: Vec<&DeviceIntent> = match &args.device {
        None => compiled.intent.devices.iter().collect(),
        Some(name) => match compiled.intent.device(name) {
            Some(d) => vec![d],
            None => {
                let known: Vec<&str> = compiled.intent.devices.iter().map(|d| d.name.as_str()).collect();
                return Err(Failure::Input(format!(
                    "no device `{name}` in {} (devices: {})",
                    args.config.display(),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            }
        },
    };
    let mut requests: Vec<(&DeviceIntent, WriteRequest)> = Vec::with_capacity(devices.len());
    for d in devices {
        // Each device through the P4Info of the program its target runs.
        let schema = d.target.rules().schema().map_err(|e| Failure::Runtime(e.to_string()))?;
        let updates = lower_device(d, schema).map_err(|e| Failure::Input(e.to_string()))?;
        requests.push((d, write_request(d.device_id, updates)));
    }
    match args.output {
        CompileOutput::Text => emit_with(args.out.as_deref(), |w| {
            for (d, wr) in &requests {
                writeln!(w, "# device {} ({}, {})", d.name, target_name(d.target), d.address)?;
                write_request_text(w, wr)?;
            }
            Ok(())
        }),
        CompileOutput::Json => emit_with(args.out.as_deref(), |w| write_json(w, &requests)),
    }
}

/// Writes `wr` in protobuf text format exactly as `format::to_text(wr)` would, but one
/// update at a time, so a request with hundreds of thousands of updates never exists
/// as one reflected message or one string.
pub fn write_request_text(w: &mut dyn Write, wr: &WriteRequest) -> io::Result<()> {
    // Fields in number order: device_id (1), role_id (2), election_id (3) | updates (4) |
    // atomicity (5), role (6).
    #[allow(deprecated)]
    let head = WriteRequest {
        device_id: wr.device_id,
        role_id: wr.role_id,
        election_id: wr.election_id,
        ..Default::default()
    };
    let tail = WriteRequest { atomicity: wr.atomicity, role: wr.role.clone(), ..Default::default() };
    w.write_all(format::to_text(&head).as_bytes())?;
    let mut buf = String::new();
    for u in &wr.updates {
        buf.clear();
        buf.push_str("updates {\n");
        for line in format::to_text(u).lines() {
            if !line.is_empty() {
                buf.push_str("  ");
                buf.push_str(line);
            }
            buf.push('\n');
        }
        buf.push_str("}\n");
        w.write_all(buf.as_bytes())?;
    }
    w.write_all(format::to_text(&tail).as_bytes())
}

/// Writes the JSON array of devices, one update at a time (see the module docs).
fn write_json(w: &mut dyn Write, requests: &[(&DeviceIntent, WriteRequest)]) -> io::Result<()> {
    let json_err = |e: p4clone_proto::Error| io::Error::other(format!("cannot render JSON: {e}"));
    w.write_all(b"[")?;
    for (i, (d, wr)) in requests.iter().enumerate() {
        w.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        writeln!(w, "  {{")?;
        writeln!(w, "    \"address\": {},", serde_json::Value::from(d.address.as_str()))?;
        writeln!(w, "    \"device\": {},", serde_json::Value::from(d.name.as_str()))?;
        writeln!(w, "    \"target\": {},", serde_json::Value::from(target_name(d.target)))?;
        writeln!(w, "    \"write_request\": {{")?;
        // Everything but the updates, then the updates streamed.
        let head = WriteRequest { updates: Vec::new(), ..wr_without_updates(wr) };
        if let serde_json::Value::Object(fields) = format::to_json(&head).map_err(json_err)? {
            for (k, v) in fields {
                writeln!(w, "      {}: {},", serde_json::Value::from(k), indented(&v, 6))?;
            }
        }
        write!(w, "      \"updates\": [")?;
        for (j, u) in wr.updates.iter().enumerate() {
            w.write_all(if j == 0 { b"\n" } else { b",\n" })?;
            let v = format::to_json(u).map_err(json_err)?;
            write!(w, "        {}", indented(&v, 8))?;
        }
        if wr.updates.is_empty() {
            writeln!(w, "]")?;
        } else {
            write!(w, "\n      ]\n")?;
        }
        writeln!(w, "    }}")?;
        write!(w, "  }}")?;
    }
    if requests.is_empty() {
        w.write_all(b"]\n")
    } else {
        w.write_all(b"\n]\n")
    }
}

/// A copy of `wr`'s scalar fields, without its updates.
fn wr_without_updates(wr: &WriteRequest) -> WriteRequest {
    #[allow(deprecated)]
    WriteRequest {
        device_id: wr.device_id,
        role_id: wr.role_id,
        role: wr.role.clone(),
        election_id: wr.election_id,
        updates: Vec::new(),
        atomicity: wr.atomicity,
    }
}

/// `v` pretty-printed, every line after the first indented by `indent` spaces.
fn indented(v: &serde_json::Value, indent: usize) -> String {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    let pad = " ".repeat(indent);
    let mut out = String::with_capacity(pretty.len() + pretty.len() / 8);
    for (i, line) in pretty.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4clone_compiler::intent::{compile, Allocation};

    #[test]
    fn streamed_text_equals_whole_message_text() {
        for text in [
            include_str!("../../examples/basic.yaml"),
            include_str!("../../examples/multi.yaml"),
            include_str!("../../examples/ssl-tandem.yaml"),
            include_str!("../../examples/tofino.yaml"),
        ] {
            let cfg = serde_norway::from_str(text).unwrap();
            let intent = compile(&cfg, &Allocation::default()).unwrap();
            for d in &intent.devices {
                let schema = d.target.rules().schema().unwrap();
                let mut wr = write_request(d.device_id, lower_device(d, schema).unwrap());
                let mut out = Vec::new();
                write_request_text(&mut out, &wr).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), format::to_text(&wr));
                // Fields after `updates` too.
                wr.role = "r".into();
                wr.atomicity = 1;
                wr.election_id = Some(p4clone_proto::p4::v1::Uint128 { high: 0, low: 7 });
                let mut out = Vec::new();
                write_request_text(&mut out, &wr).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), format::to_text(&wr));
                // Streamed JSON parses to the whole-message JSON.
                let mut out = Vec::new();
                write_json(&mut out, &[(d, wr.clone())]).unwrap();
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(v[0]["write_request"], format::to_json(&wr).unwrap());
                assert_eq!(v[0]["device"], d.name.as_str());
            }
        }
        let mut out = Vec::new();
        write_json(&mut out, &[]).unwrap();
        assert_eq!(out, b"[]\n");
    }
}
