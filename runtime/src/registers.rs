//! Registers: reads by index or wildcard.

use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{entity, p4_data, Entity, Index, RegisterEntry};

use crate::client::Client;
use crate::error::ClientError;

/// A register entity; `index: None` reads every cell.
pub fn entity_of(register_id: u32, index: Option<i64>) -> Entity {
    Entity {
        entity: Some(entity::Entity::RegisterEntry(RegisterEntry {
            register_id,
            index: index.map(|index| Index { index }),
            data: None,
        })),
    }
}

/// `(index, value)` of the cells of a `bit<W>` register (wildcard read when
/// `index` is `None`). Cells whose data is not a bitstring are skipped.
pub async fn read(client: &mut Client, register_id: u32, index: Option<i64>) -> Result<Vec<(i64, u128)>, ClientError> {
    let e = client.read(vec![entity_of(register_id, index)]).await?;
    Ok(e.iter()
        .filter_map(|e| match &e.entity {
            Some(entity::Entity::RegisterEntry(r)) => {
                let i = r.index.as_ref().map_or(0, |i| i.index);
                match r.data.as_ref().and_then(|d| d.data.as_ref()) {
                    Some(p4_data::Data::Bitstring(b)) => bytestring::decode(b).ok().map(|v| (i, v)),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect())
}
