//! Table entries: wildcard reads (all entries of a table, default entries) and
//! update constructors.

use p4clone_proto::p4::v1::{entity, update, Entity, TableEntry, Update};
use p4clone_proto::schema::P4Schema;

use crate::client::Client;
use crate::error::ClientError;

/// A wildcard read of all (non-default) entries of `table_id` (0 = every table).
pub fn wildcard(table_id: u32) -> Entity {
    entity_of(TableEntry { table_id, ..Default::default() })
}

/// A read of the default entry of `table_id`.
pub fn default_entry(table_id: u32) -> Entity {
    entity_of(TableEntry { table_id, is_default_action: true, ..Default::default() })
}

/// Wraps a table entry as an entity.
pub fn entity_of(e: TableEntry) -> Entity {
    Entity { entity: Some(entity::Entity::TableEntry(e)) }
}

/// An update of `kind` for `e`.
pub fn update_of(kind: update::Type, e: Entity) -> Update {
    Update { r#type: kind as i32, entity: Some(e) }
}

fn table_entries(entities: Vec<Entity>) -> Vec<TableEntry> {
    entities
        .into_iter()
        .filter_map(|e| match e.entity {
            Some(entity::Entity::TableEntry(t)) => Some(t),
            _ => None,
        })
        .collect()
}

/// All entries of every table of `schema`, in one Read (one wildcard entity per
/// table, so tables of other programs are never touched).
pub async fn read_all(client: &mut Client, schema: &P4Schema) -> Result<Vec<TableEntry>, ClientError> {
    let req = schema.tables().iter().map(|t| wildcard(t.id)).collect();
    Ok(table_entries(client.read(req).await?))
}

/// The default entries of every table of `schema`.
pub async fn read_defaults(client: &mut Client, schema: &P4Schema) -> Result<Vec<TableEntry>, ClientError> {
    let req = schema.tables().iter().map(|t| default_entry(t.id)).collect();
    Ok(table_entries(client.read(req).await?))
}
