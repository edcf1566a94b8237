//! Binary encoding: round trips, and hand-encoded bytes derived from the
//! P4Runtime spec's field numbers (so a renumbered field cannot slip in).

use p4clone_proto::descriptor_pool;
use p4clone_proto::p4::v1::{
    entity, field_match, packet_replication_engine_entry, replica, table_action, update, write_request, Action,
    CloneSessionEntry, Entity, FieldMatch, PacketReplicationEngineEntry, Replica, TableAction, TableEntry, Uint128,
    Update, WriteRequest,
};
use prost::Message;

fn table_entry() -> TableEntry {
    TableEntry {
        table_id: 0x0200_0001,
        r#match: vec![FieldMatch {
            field_id: 1,
            field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact { value: vec![0x01].into() })),
        }],
        action: Some(TableAction {
            r#type: Some(table_action::Type::Action(Action {
                action_id: 0x0100_0001,
                params: vec![p4clone_proto::p4::v1::action::Param { param_id: 1, value: vec![0x02].into() }],
            })),
        }),
        priority: 10,
        ..Default::default()
    }
}

fn clone_session() -> CloneSessionEntry {
    CloneSessionEntry {
        session_id: 5,
        replicas: vec![
            #[allow(deprecated)]
            Replica { port_kind: Some(replica::PortKind::EgressPort(3)), instance: 5, backup_replicas: vec![] },
            Replica {
                port_kind: Some(replica::PortKind::Port(vec![0x03].into())),
                instance: 6,
                backup_replicas: vec![],
            },
        ],
        class_of_service: 0,
        packet_length_bytes: 0,
    }
}

fn write_request() -> WriteRequest {
    WriteRequest {
        device_id: 1,
        election_id: Some(Uint128 { high: 0, low: 1 }),
        updates: vec![
            Update {
                r#type: update::Type::Insert as i32,
                entity: Some(Entity { entity: Some(entity::Entity::TableEntry(table_entry())) }),
            },
            Update {
                r#type: update::Type::Insert as i32,
                entity: Some(Entity {
                    entity: Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
                        r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(clone_session())),
                    })),
                }),
            },
        ],
        atomicity: write_request::Atomicity::ContinueOnError as i32,
        ..Default::default()
    }
}

#[test]
fn write_request_round_trip() {
    let req = write_request();
    let bytes = req.encode_to_vec();
    let back = WriteRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, req);
    assert_eq!(back.encode_to_vec(), bytes);
}

/// TableEntry: table_id = 1 (varint), match = 2, action = 3, priority = 4;
/// FieldMatch: field_id = 1, exact = 2 { value = 1 };
/// TableAction: action = 1; Action: action_id = 1, params = 4 { param_id = 2,
/// value = 3 }.
const TABLE_ENTRY_BYTES: &[u8] = &[
    0x08, 0x81, 0x80, 0x80, 0x10, // table_id = 0x02000001
    0x12, 0x07, // match (7 bytes)
    0x08, 0x01, //   field_id = 1
    0x12, 0x03, //   exact (3 bytes)
    0x0a, 0x01, 0x01, //     value = [1]
    0x1a, 0x0e, // action (14 bytes)
    0x0a, 0x0c, //   action (12 bytes)
    0x08, 0x81, 0x80, 0x80, 0x08, //     action_id = 0x01000001
    0x22, 0x05, //     params (5 bytes)
    0x10, 0x01, //       param_id = 1
    0x1a, 0x01, 0x02, //       value = [2]
    0x20, 0x0a, // priority = 10
];

#[test]
fn table_entry_matches_spec_field_numbers() {
    assert_eq!(table_entry().encode_to_vec(), TABLE_ENTRY_BYTES);
    assert_eq!(TableEntry::decode(TABLE_ENTRY_BYTES).unwrap(), table_entry());
}

#[test]
fn table_entry_later_fields() {
    let entry =
        TableEntry { is_default_action: true, metadata: vec![0xab].into(), is_const: true, ..Default::default() };
    // is_default_action = 8 (varint), metadata = 11 (bytes), is_const = 13 (varint).
    assert_eq!(entry.encode_to_vec(), [0x40, 0x01, 0x5a, 0x01, 0xab, 0x68, 0x01]);
}

/// CloneSessionEntry: session_id = 1, replicas = 2; Replica: egress_port = 1
/// (deprecated, oneof port_kind), port = 3 (bytes, same oneof), instance = 2.
#[test]
fn clone_session_matches_spec_field_numbers() {
    let expected: &[u8] = &[
        0x08, 0x05, // session_id = 5
        0x12, 0x04, // replica (4 bytes)
        0x08, 0x03, //   egress_port = 3
        0x10, 0x05, //   instance = 5
        0x12, 0x05, // replica (5 bytes)
        0x1a, 0x01, 0x03, //   port = [3]
        0x10, 0x06, //   instance = 6
    ];
    assert_eq!(clone_session().encode_to_vec(), expected);
    assert_eq!(CloneSessionEntry::decode(expected).unwrap(), clone_session());
}

/// Entity: packet_replication_engine_entry = 9; PRE entry: clone_session_entry = 2;
/// WriteRequest: device_id = 1, election_id = 3, updates = 4, atomicity = 5;
/// Update: type = 1, entity = 2.
#[test]
fn write_request_matches_spec_field_numbers() {
    let req = WriteRequest {
        device_id: 1,
        election_id: Some(Uint128 { high: 0, low: 1 }),
        updates: vec![Update {
            r#type: update::Type::Delete as i32,
            entity: Some(Entity {
                entity: Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
                    r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(CloneSessionEntry {
                        session_id: 7,
                        ..Default::default()
                    })),
                })),
            }),
        }],
        role: "r".into(),
        atomicity: write_request::Atomicity::RollbackOnError as i32,
        ..Default::default()
    };
    let expected: &[u8] = &[
        0x08, 0x01, // device_id = 1
        0x1a, 0x02, 0x10, 0x01, // election_id { low = 1 }
        0x22, 0x0a, // update (10 bytes)
        0x08, 0x03, //   type = DELETE
        0x12, 0x06, //   entity (6 bytes)
        0x4a, 0x04, //     packet_replication_engine_entry (4 bytes)
        0x12, 0x02, //       clone_session_entry (2 bytes)
        0x08, 0x07, //         session_id = 7
        0x28, 0x01, // atomicity = ROLLBACK_ON_ERROR
        0x32, 0x01, b'r', // role = "r"
    ];
    assert_eq!(req.encode_to_vec(), expected);
}

#[test]
fn service_has_all_rpcs_with_spec_streaming() {
    let service = descriptor_pool().get_service_by_name("p4.v1.P4Runtime").expect("P4Runtime service");
    let methods: Vec<(String, bool, bool, String, String)> = service
        .methods()
        .map(|m| {
            (
                m.name().to_string(),
                m.is_client_streaming(),
                m.is_server_streaming(),
                m.input().full_name().to_string(),
                m.output().full_name().to_string(),
            )
        })
        .collect();
    let expect = |name: &str, cs: bool, ss: bool, i: &str, o: &str| {
        (name.to_string(), cs, ss, format!("p4.v1.{i}"), format!("p4.v1.{o}"))
    };
    assert_eq!(
        methods,
        vec![
            expect("Write", false, false, "WriteRequest", "WriteResponse"),
            expect("Read", false, true, "ReadRequest", "ReadResponse"),
            expect(
                "SetForwardingPipelineConfig",
                false,
                false,
                "SetForwardingPipelineConfigRequest",
                "SetForwardingPipelineConfigResponse"
            ),
            expect(
                "GetForwardingPipelineConfig",
                false,
                false,
                "GetForwardingPipelineConfigRequest",
                "GetForwardingPipelineConfigResponse"
            ),
            expect("StreamChannel", true, true, "StreamMessageRequest", "StreamMessageResponse"),
            expect("Capabilities", false, false, "CapabilitiesRequest", "CapabilitiesResponse"),
        ]
    );
}

#[test]
fn descriptor_pool_holds_every_package() {
    let pool = descriptor_pool();
    for name in [
        "p4.v1.WriteRequest",
        "p4.v1.P4Data",
        "p4.v1.StreamError",
        "p4.config.v1.P4Info",
        "p4.config.v1.P4TypeInfo",
        "google.rpc.Status",
        "google.protobuf.Any",
    ] {
        assert!(pool.get_message_by_name(name).is_some(), "{name}");
    }
    let code = pool.get_enum_by_name("google.rpc.Code").unwrap();
    assert_eq!(code.get_value_by_name("UNAUTHENTICATED").unwrap().number(), 16);
    assert_eq!(code.get_value_by_name("DATA_LOSS").unwrap().number(), 15);
    let prefix = pool.get_enum_by_name("p4.config.v1.P4Ids.Prefix").unwrap();
    assert_eq!(prefix.get_value_by_name("REGISTER").unwrap().number(), 0x16);
    let sdn = pool.get_enum_by_name("p4.v1.SdnPort").unwrap();
    assert_eq!(sdn.get_value_by_name("SDN_PORT_CPU").unwrap().number(), -3);
}

/// Spot checks of field numbers that the hand-encoded tests do not cover.
#[test]
fn field_numbers_spot_check() {
    let pool = descriptor_pool();
    let number = |msg: &str, field: &str| {
        pool.get_message_by_name(msg)
            .unwrap_or_else(|| panic!("{msg}"))
            .get_field_by_name(field)
            .unwrap_or_else(|| panic!("{msg}.{field}"))
            .number()
    };
    let cases = [
        ("p4.v1.TableEntry", "meter_counter_data", 12),
        ("p4.v1.TableEntry", "time_since_last_hit", 10),
        ("p4.v1.FieldMatch", "range", 6),
        ("p4.v1.FieldMatch", "optional", 7),
        ("p4.v1.FieldMatch", "other", 100),
        ("p4.v1.StreamMessageResponse", "error", 6),
        ("p4.v1.MasterArbitrationUpdate", "status", 4),
        ("p4.v1.Role", "name", 3),
        ("p4.v1.SetForwardingPipelineConfigRequest", "role", 6),
        ("p4.v1.ForwardingPipelineConfig", "cookie", 3),
        ("p4.v1.MeterConfig", "eburst", 5),
        ("p4.v1.MulticastGroupEntry", "metadata", 3),
        ("p4.v1.CounterEntry", "data", 3),
        ("p4.v1.RegisterEntry", "data", 3),
        ("p4.v1.Error", "details", 5),
        ("p4.v1.P4Data", "enum_value", 12),
        ("p4.config.v1.P4Info", "externs", 100),
        ("p4.config.v1.P4Info", "type_info", 200),
        ("p4.config.v1.Table", "other_properties", 100),
        ("p4.config.v1.Table", "is_const_table", 10),
        ("p4.config.v1.MatchField", "other_match_type", 7),
        ("p4.config.v1.MatchField", "annotation_locations", 10),
        ("p4.config.v1.PkgInfo", "platform_properties", 11),
        ("p4.config.v1.DirectCounter", "direct_table_id", 3),
        ("p4.config.v1.Register", "type_spec", 2),
        ("google.rpc.Status", "details", 3),
    ];
    for (msg, field, n) in cases {
        assert_eq!(number(msg, field), n, "{msg}.{field}");
    }
}
