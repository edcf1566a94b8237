//! The serde side: a `Deserializer` over a [`Doc`]'s events, whichever parser made
//! them. Errors carry the byte offset of the event they are about.

use serde::de::{
    self, DeserializeSeed, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};

use super::declined::{Declined, R};
use super::parser::{view, Doc, Ev, Raw};
use super::scalars::{digits_but_not_number, is_null, parse_bool, parse_f64, parse_unsigned_int};

pub(super) struct EventDe<'a> {
    text: &'a str,
    events: &'a [Raw],
    owned: &'a [String],
    pub(super) pos: usize,
}

impl<'a> EventDe<'a> {
    pub(super) fn new(text: &'a str, doc: &'a Doc) -> EventDe<'a> {
        EventDe { text, events: &doc.events, owned: &doc.owned, pos: 0 }
    }

    #[inline]
    fn peek(&self) -> R<Ev<'a>> {
        match self.events.get(self.pos) {
            Some(raw) => view(self.text, self.owned, *raw),
            None => Err(Declined::invalid("unexpected end of events")),
        }
    }

    #[inline]
    fn next(&mut self) -> R<Ev<'a>> {
        let ev = self.peek()?;
        self.pos += 1;
        Ok(ev)
    }

    /// The byte offset of event `i` (of the end of the text past the last one).
    fn offset(&self, i: usize) -> Option<u32> {
        match self.events.get(i) {
            Some(raw) => raw.offset(),
            None => u32::try_from(self.text.len()).ok(),
        }
    }

    /// Locates an error that has no position yet at event `i`.
    #[inline(always)]
    fn at<T>(&self, r: R<T>, i: usize) -> R<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => Err(self.locate(e, i)),
        }
    }

    #[cold]
    #[inline(never)]
    fn locate(&self, e: Declined, i: usize) -> Declined {
        e.or_at(self.offset(i))
    }

    /// After the items a visitor took from the sequence that started at event
    /// `start`: the end of the sequence, or an error naming how many items it had.
    fn end_seq(&mut self, start: usize, taken: usize) -> R<()> {
        let mut extra = 0usize;
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Ev::SeqEnd if depth == 0 => break,
                Ev::SeqStart(_) | Ev::MapStart => {
                    if depth == 0 {
                        extra += 1;
                    }
                    depth += 1
                }
                Ev::SeqEnd | Ev::MapEnd => depth = depth.saturating_sub(1),
                Ev::Plain(_) | Ev::Quoted(_) => {
                    if depth == 0 {
                        extra += 1
                    }
                }
            }
        }
        if extra == 0 {
            return Ok(());
        }
        let e: Declined = de::Error::invalid_length(taken + extra, &ExpectedItems(taken));
        Err(e.or_at(self.offset(start)))
    }
}

/// "`n` items", for a sequence that had more.
struct ExpectedItems(usize);

impl Expected for ExpectedItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a sequence of {} items", self.0)
    }
}

/// What an event is, for "invalid type" messages (as serde_norway words them).
fn unexpected(ev: Ev<'_>) -> Unexpected<'_> {
    match ev {
        Ev::Plain(s) if s.is_empty() || is_null(s) => Unexpected::Unit,
        Ev::Plain(s) => {
            if let Some(b) = parse_bool(s) {
                Unexpected::Bool(b)
            } else if let Some(n) = parse_unsigned_int(s) {
                Unexpected::Unsigned(n)
            } else if let Some(n) = s.parse::<i64>().ok().filter(|_| !digits_but_not_number(s)) {
                Unexpected::Signed(n)
            } else if let Some(f) = parse_float(s) {
                Unexpected::Float(f)
            } else {
                Unexpected::Str(s)
            }
        }
        Ev::Quoted(s) => Unexpected::Str(s),
        Ev::SeqStart(_) => Unexpected::Seq,
        Ev::MapStart => Unexpected::Map,
        Ev::SeqEnd | Ev::MapEnd => Unexpected::Other("the end of a collection"),
    }
}

/// A plain scalar YAML reads as a float (`1.5`, `1e3`, `.inf`), for messages.
fn parse_float(s: &str) -> Option<f64> {
    match s.trim_start_matches(['+', '-']) {
        ".inf" | ".Inf" | ".INF" => return Some(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let numeric = s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().all(|b| b"+-.eE0123456789".contains(&b));
    numeric.then(|| s.parse::<f64>().ok()).flatten()
}

fn wrong_type<T>(ev: Ev<'_>, exp: &dyn Expected) -> R<T> {
    Err(de::Error::invalid_type(unexpected(ev), exp))
}

fn unsupported_type<T>() -> R<T> {
    Err(Declined::unsupported("a type the config reader does not deserialize"))
}

macro_rules! decline_types {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> R<V::Value> {
                unsupported_type()
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut EventDe<'_> {
    type Error = Declined;

    decline_types! {
        deserialize_any deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u128 deserialize_char deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_ignored_any
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        let r = match self.next()? {
            Ev::Plain(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => wrong_type(Ev::Plain(s), &visitor),
            },
            ev => wrong_type(ev, &visitor),
        };
        self.at(r, i)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        let r = match self.next()? {
            // The visitor checks the range of narrower types, as with serde_norway.
            Ev::Plain(s) => match parse_unsigned_int(s) {
                Some(n) => visitor.visit_u64(n),
                None => wrong_type(Ev::Plain(s), &visitor),
            },
            ev => wrong_type(ev, &visitor),
        };
        self.at(r, i)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_f64(visitor)
    }

    /// A plain scalar read as a float, as serde_norway reads it (`scalars::parse_f64`).
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        let r = match self.next()? {
            Ev::Plain(s) => match parse_f64(s) {
                Some(f) => visitor.visit_f64(f),
                None => wrong_type(Ev::Plain(s), &visitor),
            },
            ev => wrong_type(ev, &visitor),
        };
        self.at(r, i)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        let r = match self.next()? {
            Ev::Plain(s) | Ev::Quoted(s) => visitor.visit_str(s),
            ev => wrong_type(ev, &visitor),
        };
        self.at(r, i)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(s) if s.is_empty() || is_null(s) => {
                self.pos += 1;
                visitor.visit_none()
            }
            ev @ (Ev::MapEnd | Ev::SeqEnd) => {
                let i = self.pos;
                self.at(wrong_type(ev, &visitor), i)
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, _visitor: V) -> R<V::Value> {
        unsupported_type()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> R<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        match self.next()? {
            Ev::SeqStart(len) => {
                let mut seq = Seq { de: &mut *self, left: len, taken: 0 };
                let r = visitor.visit_seq(&mut seq);
                let taken = seq.taken;
                let value = self.at(r, i)?;
                self.end_seq(i, taken)?;
                Ok(value)
            }
            // An empty plain value is an empty sequence (as in serde_norway).
            Ev::Plain("") => self.at(visitor.visit_seq(Empty), i),
            ev => self.at(wrong_type(ev, &visitor), i),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let i = self.pos;
        match self.next()? {
            Ev::MapStart => {
                let mut map = Map { de: &mut *self, key: i };
                let r = visitor.visit_map(&mut map);
                let key = map.key;
                // A duplicate field is found after its key was read: point there; any
                // other error about the mapping as a whole (a missing field) at its start.
                let r =
                    r.map_err(|e| if e.reason.starts_with("duplicate field") { e.or_at(self.offset(key)) } else { e });
                let value = self.at(r, i)?;
                match self.next()? {
                    Ev::MapEnd => Ok(value),
                    _ => self.at(Err(Declined::invalid("internal: unconsumed mapping entries")), i),
                }
            }
            Ev::Plain("") => self.at(visitor.visit_map(Empty), i),
            ev => self.at(wrong_type(ev, &visitor), i),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(_) | Ev::Quoted(_) => visitor.visit_enum(UnitVariant { de: self }),
            ev => {
                let i = self.pos;
                self.at(wrong_type(ev, &visitor), i)
            }
        }
    }
}

pub(super) struct Seq<'d, 'a> {
    de: &'d mut EventDe<'a>,
    left: u32,
    taken: usize,
}

impl<'de> SeqAccess<'de> for &mut Seq<'_, '_> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> R<Option<T::Value>> {
        match self.de.peek()? {
            Ev::SeqEnd => Ok(None),
            Ev::MapEnd => Err(Declined::invalid("internal: unbalanced events")),
            _ => {
                self.left = self.left.saturating_sub(1);
                self.taken += 1;
                seed.deserialize(&mut *self.de).map(Some)
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

pub(super) struct Map<'d, 'a> {
    de: &'d mut EventDe<'a>,
    /// The event of the last key read.
    key: usize,
}

impl<'de> MapAccess<'de> for &mut Map<'_, '_> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        match self.de.peek()? {
            Ev::MapEnd => Ok(None),
            Ev::Plain(_) | Ev::Quoted(_) => {
                self.key = self.de.pos;
                seed.deserialize(&mut *self.de).map(Some)
            }
            _ => {
                let i = self.de.pos;
                self.de.at(Err(Declined::invalid("a mapping key that is not a scalar")), i)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> R<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// The empty sequence or mapping an empty plain value stands for.
pub(super) struct Empty;

impl<'de> SeqAccess<'de> for Empty {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, _seed: T) -> R<Option<T::Value>> {
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
}

impl<'de> MapAccess<'de> for Empty {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, _seed: K) -> R<Option<K::Value>> {
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, _seed: V) -> R<V::Value> {
        Err(Declined::invalid("internal: value without key"))
    }
}

/// A unit variant named by a scalar (serde_norway's `UnitVariantAccess`).
pub(super) struct UnitVariant<'d, 'a> {
    de: &'d mut EventDe<'a>,
}

impl<'de> EnumAccess<'de> for UnitVariant<'_, '_> {
    type Error = Declined;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> R<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_, '_> {
    type Error = Declined;

    fn unit_variant(self) -> R<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> R<T::Value> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &"a variant with a value"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> R<V::Value> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &visitor))
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> R<V::Value> {
        Err(de::Error::invalid_type(Unexpected::UnitVariant, &visitor))
    }
}
