//! Indexed counters: reads by index or wildcard, and resets.
//!
//! PI resets indirect counters one index at a time (`docs/targets.md`): a reset is a
//! `MODIFY` of one `CounterEntry` with an index and zero data, so resetting `n`
//! cells takes `n` updates (they still travel in batches).

use p4clone_proto::p4::v1::{entity, update, CounterData, CounterEntry, Entity, Index, Update};

use crate::client::Client;
use crate::error::ClientError;

/// A counter cell read from the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterValue {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl From<&CounterData> for CounterValue {
    fn from(d: &CounterData) -> Self {
        CounterValue {
            packets: u64::try_from(d.packet_count).unwrap_or(0),
            bytes: u64::try_from(d.byte_count).unwrap_or(0),
        }
    }
}

/// A counter entity; `index: None` reads every cell.
pub fn entity_of(counter_id: u32, index: Option<i64>) -> Entity {
    Entity {
        entity: Some(entity::Entity::CounterEntry(CounterEntry {
            counter_id,
            index: index.map(|index| Index { index }),
            data: None,
        })),
    }
}

/// The `MODIFY` update resetting one cell to zero.
pub fn reset_update(counter_id: u32, index: i64) -> Update {
    Update {
        r#type: update::Type::Modify as i32,
        entity: Some(Entity {
            entity: Some(entity::Entity::CounterEntry(CounterEntry {
                counter_id,
                index: Some(Index { index }),
                data: Some(CounterData { byte_count: 0, packet_count: 0 }),
            })),
        }),
    }
}

/// The `MODIFY` update setting one cell (for tests and tools).
pub fn set_update(counter_id: u32, index: i64, value: CounterValue) -> Update {
    Update {
        r#type: update::Type::Modify as i32,
        entity: Some(Entity {
            entity: Some(entity::Entity::CounterEntry(CounterEntry {
                counter_id,
                index: Some(Index { index }),
                data: Some(CounterData {
                    byte_count: i64::try_from(value.bytes).unwrap_or(i64::MAX),
                    packet_count: i64::try_from(value.packets).unwrap_or(i64::MAX),
                }),
            })),
        }),
    }
}

/// `(counter id, index, value)` of every counter entity in `entities`.
pub fn cells(entities: &[Entity]) -> Vec<(u32, i64, CounterValue)> {
    entities
        .iter()
        .filter_map(|e| match &e.entity {
            Some(entity::Entity::CounterEntry(c)) => Some((
                c.counter_id,
                c.index.as_ref().map_or(0, |i| i.index),
                c.data.as_ref().map(CounterValue::from).unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

/// Every cell of a counter (wildcard read).
pub async fn read_all(client: &mut Client, counter_id: u32) -> Result<Vec<(i64, CounterValue)>, ClientError> {
    let e = client.read(vec![entity_of(counter_id, None)]).await?;
    Ok(cells(&e).into_iter().map(|(_, i, v)| (i, v)).collect())
}

/// The given cells of several counters, in one Read: `(counter id, index)`.
pub async fn read_cells(
    client: &mut Client,
    cells_wanted: &[(u32, i64)],
) -> Result<Vec<(u32, i64, CounterValue)>, ClientError> {
    if cells_wanted.is_empty() {
        return Ok(Vec::new());
    }
    let req = cells_wanted.iter().map(|&(c, i)| entity_of(c, Some(i))).collect();
    Ok(cells(&client.read(req).await?))
}
