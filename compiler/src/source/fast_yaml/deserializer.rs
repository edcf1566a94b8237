//! The serde side: a `Deserializer` over the parsed events, handing scalars to
//! serde borrowed from the text.

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::declined::{Declined, R};
use super::parser::{view, Ev, Raw};
use super::scalars::{is_null, parse_bool, parse_unsigned_int};

pub(super) struct EventDe<'a, 'p> {
    pub(super) text: &'a str,
    pub(super) events: &'p [Raw],
    pub(super) owned: &'p [String],
    pub(super) pos: usize,
}

impl<'a, 'p> EventDe<'a, 'p> {
    #[inline]
    fn peek(&self) -> R<Ev<'a>> {
        match self.events.get(self.pos) {
            Some(raw) => view(self.text, *raw),
            None => Err(Declined::invalid("unexpected end of events")),
        }
    }

    #[inline]
    fn next(&mut self) -> R<Ev<'a>> {
        let ev = self.peek()?;
        self.pos += 1;
        Ok(ev)
    }

    fn expect(&mut self, want: Ev<'static>) -> R<()> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(Declined::invalid("unconsumed items"))
        }
    }
}

pub(super) fn wrong_type<T>() -> R<T> {
    Err(Declined::invalid("a value of another type"))
}

pub(super) fn unsupported_type<T>() -> R<T> {
    Err(Declined::unsupported("a type the fast path does not deserialize"))
}

macro_rules! decline_types {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, _visitor: V) -> R<V::Value> {
                unsupported_type()
            }
        )*
    };
}

impl<'a, 'p> de::Deserializer<'a> for &mut EventDe<'a, 'p> {
    type Error = Declined;

    decline_types! {
        deserialize_any deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_ignored_any
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::Plain(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => wrong_type(),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_u8<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            // The visitor checks the range of narrower types, as with serde_norway.
            Ev::Plain(s) => match parse_unsigned_int(s) {
                Some(n) => visitor.visit_u64(n),
                None => wrong_type(),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::Plain(s) | Ev::Quoted(s) => visitor.visit_borrowed_str(s),
            Ev::Escaped(i) => match self.owned.get(i as usize) {
                Some(s) => visitor.visit_str(s),
                None => Err(Declined::invalid("internal: bad escaped scalar")),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(s) if s.is_empty() || is_null(s) => {
                self.pos += 1;
                visitor.visit_none()
            }
            Ev::MapEnd | Ev::SeqEnd => wrong_type(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, _visitor: V) -> R<V::Value> {
        unsupported_type()
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> R<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::SeqStart(len) => {
                let value = visitor.visit_seq(Seq { de: &mut *self, left: len })?;
                self.expect(Ev::SeqEnd)?;
                Ok(value)
            }
            // An empty plain value is an empty sequence (as in serde_norway).
            Ev::Plain("") => visitor.visit_seq(Empty),
            _ => wrong_type(),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(self, _name: &'static str, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::MapStart => {
                let value = visitor.visit_map(Map { de: &mut *self })?;
                self.expect(Ev::MapEnd)?;
                Ok(value)
            }
            Ev::Plain("") => visitor.visit_map(Empty),
            _ => wrong_type(),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(_) | Ev::Quoted(_) | Ev::Escaped(_) => visitor.visit_enum(UnitVariant { de: self }),
            _ => unsupported_type(),
        }
    }
}

pub(super) struct Seq<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
    left: u32,
}

impl<'a> SeqAccess<'a> for Seq<'_, 'a, '_> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> R<Option<T::Value>> {
        match self.de.peek()? {
            Ev::SeqEnd => Ok(None),
            Ev::MapEnd => Err(Declined::invalid("internal: unbalanced events")),
            _ => {
                self.left = self.left.saturating_sub(1);
                seed.deserialize(&mut *self.de).map(Some)
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

pub(super) struct Map<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
}

impl<'a> MapAccess<'a> for Map<'_, 'a, '_> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> R<Option<K::Value>> {
        match self.de.peek()? {
            Ev::MapEnd => Ok(None),
            Ev::Plain(_) | Ev::Quoted(_) | Ev::Escaped(_) => seed.deserialize(&mut *self.de).map(Some),
            _ => Err(Declined::unsupported("a non-scalar key")),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> R<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// The empty sequence or mapping an empty plain value stands for.
pub(super) struct Empty;

impl<'a> SeqAccess<'a> for Empty {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, _seed: T) -> R<Option<T::Value>> {
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
}

impl<'a> MapAccess<'a> for Empty {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, _seed: K) -> R<Option<K::Value>> {
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, _seed: V) -> R<V::Value> {
        Err(Declined::invalid("internal: value without key"))
    }
}

/// A unit variant named by a scalar (serde_norway's `UnitVariantAccess`).
pub(super) struct UnitVariant<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
}

impl<'a> EnumAccess<'a> for UnitVariant<'_, 'a, '_> {
    type Error = Declined;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> R<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'a> VariantAccess<'a> for UnitVariant<'_, 'a, '_> {
    type Error = Declined;

    fn unit_variant(self) -> R<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, _seed: T) -> R<T::Value> {
        wrong_type()
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, _visitor: V) -> R<V::Value> {
        wrong_type()
    }

    fn struct_variant<V: Visitor<'a>>(self, _fields: &'static [&'static str], _visitor: V) -> R<V::Value> {
        wrong_type()
    }
}
