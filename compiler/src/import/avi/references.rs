//! References between objects, in every form the API writes them:
//! `/api/network/?name=X`, `/api/network/<uuid>`, `https://HOST/api/network/<uuid>#X`,
//! `/api/cloud/?tenant=admin&name=Default-Cloud`; resolved by uuid or by name,
//! tenant-scoped, against the [`Catalog`] of every object read.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::fields::{self, Object};
use super::objects::{ImportError, Kind, ObjectId};
use super::shapes::RawObject;
use crate::config::DEFAULT_TENANT;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The API type segment (`network`).
    pub kind: String,
    /// The uuid, when the reference has one.
    pub uuid: Option<String>,
    /// The name (`?name=` or `#name`).
    pub name: Option<String>,
    /// The tenant (`?tenant=`).
    pub tenant: Option<String>,
}

/// Parses a reference; the error says what is wrong with it.
pub fn parse(text: &str) -> Result<Reference, String> {
    let Some((_, rest)) = text.split_once("/api/") else {
        return Err("not a reference: expected \"/api/TYPE/UUID\" or \"/api/TYPE/?name=NAME\"".to_string());
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(decode(f))),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let kind = segments.next().unwrap_or("").to_string();
    let uuid = segments.next().map(decode);
    if segments.next().is_some() || kind.is_empty() {
        return Err("not a reference: expected \"/api/TYPE/UUID\" or \"/api/TYPE/?name=NAME\"".to_string());
    }
    let mut name = fragment.filter(|n| !n.is_empty());
    let mut tenant = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "name" => name = Some(decode(v)),
            "tenant" => tenant = Some(decode(v)),
            _ => {}
        }
    }
    if uuid.is_none() && name.is_none() {
        return Err("the reference names no uuid and no name".to_string());
    }
    Ok(Reference { kind, uuid, name, tenant })
}

/// Percent-decoding (`%20`, `+`) of a query value; bad escapes are kept as written.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Where a reference may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the referring object's tenant (pools, VIPs, clone profiles: p4clone
    /// rejects a VS whose pool or profile is in another tenant).
    SameTenant,
    /// The referring object's tenant, then `admin` (networks, SE groups, clouds,
    /// which p4clone does not place in tenants).
    SharedFromAdmin,
}

/// One object with its identity and tenant.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File, type, name, uuid.
    pub id: ObjectId,
    /// Tenant name (`admin` when the object names none).
    pub tenant: String,
    /// The object's fields.
    pub body: Object,
}

/// Every object read, indexed by uuid and by (type, tenant, name).
#[derive(Debug, Default)]
pub struct Catalog {
    /// The objects, in input order, duplicates removed.
    pub entries: Vec<Entry>,
    by_uuid: HashMap<String, usize>,
    by_name: BTreeMap<(Kind, String, String), usize>,
}

impl Catalog {
    /// Indexes `objects`; tenants are resolved first (by uuid or name). An object
    /// given twice (same uuid, same fields) is kept once; different fields under one
    /// uuid, or one name twice in a tenant, are errors.
    pub fn build(objects: Vec<RawObject>) -> Result<Catalog, Vec<ImportError>> {
        let mut errors = Vec::new();
        let ids: Vec<ObjectId> = objects
            .iter()
            .map(|o| ObjectId {
                file: o.file.clone(),
                kind: o.kind,
                name: o.body.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                uuid: o.body.get("uuid").and_then(Value::as_str).unwrap_or("").to_string(),
            })
            .collect();
        let mut tenant_by_uuid: HashMap<String, String> = HashMap::new();
        tenant_by_uuid.insert(DEFAULT_TENANT.to_string(), DEFAULT_TENANT.to_string());
        for id in ids.iter().filter(|id| id.kind == Kind::Tenant && !id.uuid.is_empty()) {
            tenant_by_uuid.insert(id.uuid.clone(), id.name.clone());
        }
        let mut catalog = Catalog::default();
        for (object, id) in objects.into_iter().zip(ids) {
            if id.name.is_empty() {
                errors.push(id.field_error("name", "missing"));
                continue;
            }
            let tenant = if id.kind == Kind::Tenant {
                id.name.clone()
            } else {
                match tenant_of(&object.body, &tenant_by_uuid) {
                    Ok(t) => t,
                    Err((field, message)) => {
                        errors.push(id.field_error(field, message));
                        continue;
                    }
                }
            };
            if !id.uuid.is_empty() {
                if let Some(&i) = catalog.by_uuid.get(&id.uuid) {
                    if !same_fields(&catalog.entries[i].body, &object.body) {
                        let first = &catalog.entries[i].id;
                        errors.push(
                            id.error(format!("uuid given twice with different fields (first in {})", first.file)),
                        );
                    }
                    continue;
                }
            }
            let key = (id.kind, tenant.clone(), id.name.clone());
            if let Some(&i) = catalog.by_name.get(&key) {
                errors.push(id.error(format!(
                    "a {} named \"{}\" already exists in tenant \"{tenant}\" ({})",
                    id.kind, id.name, catalog.entries[i].id
                )));
                continue;
            }
            let index = catalog.entries.len();
            if !id.uuid.is_empty() {
                catalog.by_uuid.insert(id.uuid.clone(), index);
            }
            catalog.by_name.insert(key, index);
            catalog.entries.push(Entry { id, tenant, body: object.body });
        }
        if errors.is_empty() {
            Ok(catalog)
        } else {
            Err(errors)
        }
    }

    /// The objects of one type, sorted by (tenant, name).
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Entry> {
        self.by_name.iter().filter(move |((k, _, _), _)| *k == kind).map(|(_, &i)| &self.entries[i])
    }

    /// The object `name` of `kind`, looked up in tenant `tenant` then `admin`.
    pub fn by_name(&self, kind: Kind, tenant: &str, name: &str) -> Option<&Entry> {
        self.by_name
            .get(&(kind, tenant.to_string(), name.to_string()))
            .or_else(|| self.by_name.get(&(kind, DEFAULT_TENANT.to_string(), name.to_string())))
            .map(|&i| &self.entries[i])
    }

    /// Resolves `from`'s reference field `field` (text `text`) to an object of `want`.
    pub fn resolve(
        &self,
        from: &Entry,
        field: &str,
        text: &str,
        want: Kind,
        scope: Scope,
    ) -> Result<&Entry, ImportError> {
        let fail = |m: String| from.id.field_error(format!("{field} \"{text}\""), m);
        let r = parse(text).map_err(&fail)?;
        check_kind(&r, want).map_err(&fail)?;
        let allowed = |tenant: &str| match scope {
            Scope::SameTenant => tenant == from.tenant,
            Scope::SharedFromAdmin => tenant == from.tenant || tenant == DEFAULT_TENANT,
        };
        let cross = |e: &Entry| {
            fail(format!(
                "the {want} \"{}\" is in tenant \"{}\" but this {} is in tenant \"{}\"; cross-tenant references are not allowed",
                e.id.name, e.tenant, from.id.kind, from.tenant
            ))
        };
        if let Some(uuid) = &r.uuid {
            if let Some(&i) = self.by_uuid.get(uuid) {
                let e = &self.entries[i];
                if e.id.kind != want {
                    return Err(fail(format!("uuid {uuid} is a {}, not a {want}", e.id.kind)));
                }
                return if allowed(&e.tenant) { Ok(e) } else { Err(cross(e)) };
            }
            if r.name.is_none() {
                return Err(fail(format!("no such {want} (no object has uuid {uuid})")));
            }
        }
        let name = r.name.as_deref().unwrap_or("");
        let tenant = r.tenant.as_deref().unwrap_or(&from.tenant);
        let found = match scope {
            Scope::SameTenant => {
                self.by_name.get(&(want, tenant.to_string(), name.to_string())).map(|&i| &self.entries[i])
            }
            Scope::SharedFromAdmin => self.by_name(want, tenant, name),
        };
        match found {
            Some(e) if allowed(&e.tenant) => Ok(e),
            Some(e) => Err(cross(e)),
            None => match self.of_kind(want).find(|e| e.id.name == name) {
                Some(e) => Err(cross(e)),
                None => Err(fail(format!("no such {want} \"{name}\" in tenant \"{tenant}\""))),
            },
        }
    }

    /// The name of an informational reference (cloud, VRF, network profile): the
    /// object's name when it was read, else the name the reference itself carries.
    pub fn name_of(&self, from: &Entry, field: &str, text: &str, want: Kind) -> Result<String, ImportError> {
        match self.resolve(from, field, text, want, Scope::SharedFromAdmin) {
            Ok(e) => Ok(e.id.name.clone()),
            Err(e) => match parse(text) {
                Ok(r) if check_kind(&r, want).is_ok() && r.name.is_some() => Ok(r.name.unwrap_or_default()),
                _ => Err(e),
            },
        }
    }
}

/// Two copies of one object agree on every field but `url` and `_last_modified`
/// (an export and an API response write those differently).
fn same_fields(a: &Object, b: &Object) -> bool {
    let strip = |o: &Object| {
        let mut o = o.clone();
        o.remove("url");
        o.remove("_last_modified");
        o
    };
    strip(a) == strip(b)
}

fn check_kind(r: &Reference, want: Kind) -> Result<(), String> {
    if r.kind == want.api_name() {
        Ok(())
    } else {
        Err(format!(
            "refers to a {}, expected a {want}",
            Kind::from_api_name(&r.kind).map_or(r.kind.clone(), |k| k.to_string())
        ))
    }
}

/// The tenant name an object's `tenant_ref` names (`admin` when absent); the
/// error is (field, message).
fn tenant_of(body: &Object, tenant_by_uuid: &HashMap<String, String>) -> Result<String, (String, String)> {
    let Some(text) = fields::text(body, "tenant_ref").map_err(|m| ("tenant_ref".to_string(), m))? else {
        return Ok(DEFAULT_TENANT.to_string());
    };
    let field = || format!("tenant_ref \"{text}\"");
    let r = parse(&text).map_err(|m| (field(), m))?;
    check_kind(&r, Kind::Tenant).map_err(|m| (field(), m))?;
    if let Some(uuid) = &r.uuid {
        if let Some(name) = tenant_by_uuid.get(uuid) {
            return Ok(name.clone());
        }
    }
    r.name.ok_or_else(|| (field(), "no such Tenant (no Tenant object has that uuid)".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_form_parses() {
        let r = parse("/api/network/?name=mon").unwrap();
        assert_eq!((r.kind.as_str(), r.uuid, r.name.as_deref()), ("network", None, Some("mon")));
        let r = parse("/api/network/network-1").unwrap();
        assert_eq!(r.uuid.as_deref(), Some("network-1"));
        let r = parse("https://lb.example/api/network/network-1#mon%20net").unwrap();
        assert_eq!((r.uuid.as_deref(), r.name.as_deref()), (Some("network-1"), Some("mon net")));
        let r = parse("/api/cloud/?tenant=admin&name=Default-Cloud").unwrap();
        assert_eq!((r.tenant.as_deref(), r.name.as_deref()), (Some("admin"), Some("Default-Cloud")));
        assert!(parse("network-1").is_err());
        assert!(parse("/api/network/").is_err());
    }
}
