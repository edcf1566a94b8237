//! Write requests in protobuf wire form, encoded straight from borrowed
//! entities ([`UpdateList`], [`EncodedWriteRequest`]): a push of 100,000 planned
//! entities sends them without first copying each into an owned `Update`, so
//! it holds one copy of the entities, not two.
//!
//! The client sends them and the batched writer builds them; this module
//! depends on neither.

use p4clone_proto::p4::v1::{Entity, Update, WriteRequest};
use prost::bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{self, WireType};
use prost::Message;

/// The updates of one write, by position: what a batched write sends. Lets the
/// caller keep its entities where they are (a plan's changes) instead of moving
/// them into owned [`Update`]s.
pub trait UpdateList: Sync {
    /// Number of updates.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Update `i`: its type (`update::Type as i32`) and entity.
    fn get(&self, i: usize) -> (i32, Option<&Entity>);
}

impl UpdateList for [Update] {
    fn len(&self) -> usize {
        <[Update]>::len(self)
    }
    fn get(&self, i: usize) -> (i32, Option<&Entity>) {
        (self[i].r#type, self[i].entity.as_ref())
    }
}

/// `WriteRequest.updates` (P4Runtime p4runtime.proto).
const WRITE_REQUEST_UPDATES: u32 = 4;
/// `Update.type`.
const UPDATE_TYPE: u32 = 1;
/// `Update.entity`.
const UPDATE_ENTITY: u32 = 2;

/// A `p4.v1.WriteRequest` already in protobuf wire form. It is sent as is (its
/// [`Message`] encoding is its bytes), so a batch can be built from borrowed
/// entities with [`EncodedWriteRequest::encode`]. Never decoded: the device
/// side decodes a plain [`WriteRequest`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodedWriteRequest {
    bytes: Bytes,
    updates: usize,
}

impl EncodedWriteRequest {
    /// Encodes `header` (device id, election id, atomicity, role; its own
    /// `updates` too, if any) followed by `updates[range]`.
    pub fn encode(header: &WriteRequest, updates: &(impl UpdateList + ?Sized), range: std::ops::Range<usize>) -> Self {
        let mut len = header.encoded_len();
        let mut sizes = Vec::with_capacity(range.len());
        for i in range.clone() {
            let (ty, entity) = updates.get(i);
            let n = update_len(ty, entity);
            sizes.push(n);
            len += encoding::key_len(WRITE_REQUEST_UPDATES) + encoding::encoded_len_varint(n as u64) + n;
        }
        let mut buf = BytesMut::with_capacity(len);
        // Cannot fail: the buffer has room for what encoded_len said.
        let _ = header.encode(&mut buf);
        for (i, n) in range.clone().zip(sizes) {
            let (ty, entity) = updates.get(i);
            encoding::encode_key(WRITE_REQUEST_UPDATES, WireType::LengthDelimited, &mut buf);
            encoding::encode_varint(n as u64, &mut buf);
            if ty != 0 {
                encoding::int32::encode(UPDATE_TYPE, &ty, &mut buf);
            }
            if let Some(e) = entity {
                encoding::message::encode(UPDATE_ENTITY, e, &mut buf);
            }
        }
        EncodedWriteRequest { bytes: buf.freeze(), updates: header.updates.len() + range.len() }
    }

    /// Number of updates in the request.
    pub fn update_count(&self) -> usize {
        self.updates
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Encoded length of an `Update { type, entity }` body.
fn update_len(ty: i32, entity: Option<&Entity>) -> usize {
    let t = if ty != 0 { encoding::int32::encoded_len(UPDATE_TYPE, &ty) } else { 0 };
    t + entity.map_or(0, |e| encoding::message::encoded_len(UPDATE_ENTITY, e))
}

impl Message for EncodedWriteRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        *self = EncodedWriteRequest::default();
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use p4clone_compiler::{intent, lower, synthetic};
    use p4clone_proto::p4::v1::{update, Uint128};

    fn header() -> WriteRequest {
        WriteRequest {
            device_id: 7,
            election_id: Some(Uint128 { high: 1, low: 2 }),
            atomicity: 0,
            ..Default::default()
        }
    }

    /// Everything a push sends: the lowering of a small fleet, as inserts, with an
    /// entity-less update and a DELETE mixed in.
    fn updates() -> Vec<Update> {
        let cfg = synthetic::fleet(3, 2, 2, 2, 1);
        let intent = intent::compile(&cfg, &intent::Allocation::default()).unwrap();
        let schema = lower::program_schema().unwrap();
        let mut ups: Vec<Update> = lower::lower_entities(&intent.devices[0], schema)
            .unwrap()
            .into_iter()
            .map(|e| Update { r#type: update::Type::Insert as i32, entity: Some(e) })
            .collect();
        assert!(ups.len() > 10);
        ups[3].r#type = update::Type::Delete as i32;
        ups.push(Update { r#type: update::Type::Modify as i32, entity: None });
        ups
    }

    #[test]
    fn encoded_request_is_byte_identical_to_prost() {
        let ups = updates();
        for range in [0..ups.len(), 2..5, 0..0, ups.len() - 1..ups.len()] {
            let enc = EncodedWriteRequest::encode(&header(), ups.as_slice(), range.clone());
            let whole = WriteRequest { updates: ups[range.clone()].to_vec(), ..header() };
            assert_eq!(enc.as_bytes(), whole.encode_to_vec().as_slice(), "range {range:?}");
            assert_eq!(enc.encoded_len(), whole.encoded_len());
            assert_eq!(enc.update_count(), range.len());
            assert_eq!(WriteRequest::decode(enc.as_bytes()).unwrap(), whole);
        }
    }

    #[test]
    fn header_updates_come_first() {
        let ups = updates();
        let mut h = header();
        h.updates.push(ups[0].clone());
        let enc = EncodedWriteRequest::encode(&h, ups.as_slice(), 1..3);
        let decoded = WriteRequest::decode(enc.as_bytes()).unwrap();
        assert_eq!(decoded.updates, ups[0..3].to_vec());
        assert_eq!(enc.update_count(), 3);
    }
}
