//! Text format and JSON rendering / parsing.

use p4clone_proto::format;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::{
    entity, field_match, table_action, update, Action, Entity, FieldMatch, TableAction, TableEntry, Uint128, Update,
    WriteRequest,
};
use p4clone_proto::status;

fn request() -> WriteRequest {
    WriteRequest {
        device_id: 1,
        election_id: Some(Uint128 { high: 0, low: 7 }),
        updates: vec![Update {
            r#type: update::Type::Insert as i32,
            entity: Some(Entity {
                entity: Some(entity::Entity::TableEntry(TableEntry {
                    table_id: 0x0200_0002,
                    r#match: vec![FieldMatch {
                        field_id: 1,
                        field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
                            value: vec![0x0a, 0, 0, 0].into(),
                            mask: vec![0xff, 0, 0, 0].into(),
                        })),
                    }],
                    action: Some(TableAction {
                        r#type: Some(table_action::Type::Action(Action { action_id: 0x0100_0004, params: vec![] })),
                    }),
                    priority: 100,
                    ..Default::default()
                })),
            }),
        }],
        ..Default::default()
    }
}

const REQUEST_TEXT: &str = r#"device_id: 1
election_id {
  low: 7
}
updates {
  type: INSERT
  entity {
    table_entry {
      table_id: 33554434
      match {
        field_id: 1
        ternary {
          value: "\n\000\000\000"
          mask: "\377\000\000\000"
        }
      }
      action {
        action {
          action_id: 16777220
        }
      }
      priority: 100
    }
  }
}
"#;

#[test]
fn text_format_is_pretty_and_uses_proto_names() {
    let text = format::to_text(&request());
    assert_eq!(text, REQUEST_TEXT);
}

#[test]
fn text_format_round_trips() {
    let back: WriteRequest = format::from_text(REQUEST_TEXT).unwrap();
    assert_eq!(back, request());
    // Compact form parses too.
    let compact = format::to_text_compact(&request());
    assert!(!compact.contains('\n'), "{compact}");
    assert_eq!(format::from_text::<WriteRequest>(&compact).unwrap(), request());
}

#[test]
fn text_format_errors_name_the_message() {
    let err = format::from_text::<WriteRequest>("device_idd: 1").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("p4.v1.WriteRequest"), "{msg}");
    assert!(msg.contains("device_idd"), "{msg}");
    assert!(format::from_text::<P4Info>("tables { preamble { id: \"x\" } }").is_err());
}

#[test]
fn empty_message_renders_empty() {
    assert_eq!(format::to_text(&WriteRequest::default()), "");
    assert_eq!(format::to_json(&WriteRequest::default()).unwrap(), serde_json::json!({}));
}

#[test]
fn json_uses_proto3_mapping() {
    let json = format::to_json(&request()).unwrap();
    assert_eq!(json["deviceId"], "1", "uint64 as string, camelCase");
    assert_eq!(json["electionId"]["low"], "7");
    let entry = &json["updates"][0]["entity"]["tableEntry"];
    assert_eq!(json["updates"][0]["type"], "INSERT");
    assert_eq!(entry["tableId"], 33554434, "uint32 stays a number");
    assert_eq!(entry["priority"], 100);
    assert_eq!(entry["match"][0]["fieldId"], 1);
    assert_eq!(entry["match"][0]["ternary"]["value"], "CgAAAA==", "bytes as base64");
    assert_eq!(entry["match"][0]["ternary"]["mask"], "/wAAAA==");
    assert_eq!(entry["action"]["action"]["actionId"], 16777220);
    assert!(entry.get("isDefaultAction").is_none(), "defaults omitted");

    let s = format::to_json_string(&request()).unwrap();
    assert!(s.contains("\"deviceId\": \"1\""), "{s}");
    let back: WriteRequest = format::from_json(&s).unwrap();
    assert_eq!(back, request());
}

#[test]
fn from_json_accepts_proto_names_and_rejects_garbage() {
    let back: WriteRequest = format::from_json(r#"{"device_id": "3"}"#).unwrap();
    assert_eq!(back.device_id, 3);
    assert!(format::from_json::<WriteRequest>(r#"{"deviceId": "x"}"#).is_err());
    assert!(format::from_json::<WriteRequest>(r#"{} trailing"#).is_err());
}

#[test]
fn any_payloads_are_expanded() {
    let rpc = status::write_status(&[status::error(tonic::Code::NotFound, "no such entry")]);
    let text = format::to_text(&rpc);
    assert!(text.contains("[type.googleapis.com/p4.v1.Error]"), "Any expanded in text: {text}");
    assert!(text.contains("canonical_code: 5"), "{text}");
    let json = format::to_json(&rpc).unwrap();
    assert_eq!(json["details"][0]["@type"], "type.googleapis.com/p4.v1.Error");
    assert_eq!(json["details"][0]["canonicalCode"], 5);
    let back: p4clone_proto::google::rpc::Status = format::from_text(&text).unwrap();
    assert_eq!(back, rpc);
}

/// A P4Info in the layout `protoc` / p4c print: re-rendering it is the identity.
const P4INFO_TEXT: &str = r#"pkg_info {
  arch: "v1model"
}
tables {
  preamble {
    id: 33554433
    name: "wire"
    alias: "wire"
  }
  match_fields {
    id: 1
    name: "ingress_port"
    bitwidth: 9
    match_type: EXACT
  }
  action_refs {
    id: 16777217
  }
  action_refs {
    id: 16777218
    scope: DEFAULT_ONLY
  }
  size: 512
}
registers {
  preamble {
    id: 369098753
    name: "rr_cursor"
    alias: "rr_cursor"
    annotations: "@doc(\"a \\\"quoted\\\" note\")"
  }
  type_spec {
    bitstring {
      bit {
        bitwidth: 16
      }
    }
  }
  size: 32768
}
type_info {
  new_types {
    key: "a_t"
    value {
      original_type {
        bitstring {
          bit {
            bitwidth: 8
          }
        }
      }
    }
  }
  new_types {
    key: "port_t"
    value {
      translated_type {
        uri: "p4.org/psa/v1/PortId_t"
        sdn_bitwidth: 32
      }
    }
  }
}
"#;

#[test]
fn p4info_text_layout_is_stable() {
    let info: P4Info = format::from_text(P4INFO_TEXT).unwrap();
    assert_eq!(info.type_info.as_ref().unwrap().new_types.len(), 2);
    assert_eq!(info.registers[0].preamble.as_ref().unwrap().annotations[0], r#"@doc("a \"quoted\" note")"#);
    assert_eq!(format::to_text(&info), P4INFO_TEXT);
}
