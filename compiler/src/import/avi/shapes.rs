//! The three input shapes, split into objects: a configuration export
//! (`{"META": {...}, "VirtualService": [...], ...}`), an API list response
//! (`{"count": N, "results": [...]}`) and a single object (or a JSON array of them).

use serde_json::Value;

use super::fields::Object;
use super::objects::{ImportError, Kind};

/// One input file: its name (for messages) and its parsed JSON.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The name messages use (the path as given).
    pub name: String,
    /// The file's JSON.
    pub json: Value,
}

/// One object read from an input file.
#[derive(Debug, Clone)]
pub struct RawObject {
    /// The input file's name.
    pub file: String,
    /// The object's type.
    pub kind: Kind,
    /// The object's fields.
    pub body: Object,
}

/// The objects of one input file, in file order. Export sections of types the
/// importer does not read are returned by name in the second list.
pub fn split(file: &InputFile) -> Result<(Vec<RawObject>, Vec<String>), ImportError> {
    let err = |message: String| ImportError::File { file: file.name.clone(), message };
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    match &file.json {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                out.push(single(file, item).map_err(|m| err(format!("[{i}]: {m}")))?);
            }
        }
        Value::Object(top) if top.get("results").is_some_and(Value::is_array) => {
            let items = top.get("results").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                out.push(single(file, item).map_err(|m| err(format!("results[{i}]: {m}")))?);
            }
        }
        Value::Object(top) if is_export(top) => {
            for (key, value) in top {
                if key == "META" {
                    continue;
                }
                let Some(kind) = Kind::from_export_name(key) else {
                    ignored.push(key.clone());
                    continue;
                };
                let Value::Array(items) = value else {
                    return Err(err(format!("{key}: expected an array of {key} objects")));
                };
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(body) = item else {
                        return Err(err(format!("{key}[{i}]: expected an object")));
                    };
                    out.push(RawObject { file: file.name.clone(), kind, body: body.clone() });
                }
            }
        }
        Value::Object(_) => out.push(single(file, &file.json).map_err(err)?),
        _ => return Err(err("expected a JSON object or array".to_string())),
    }
    Ok((out, ignored))
}

/// An export has `META` or at least one key naming an object type with an array value.
fn is_export(top: &Object) -> bool {
    top.contains_key("META") || top.iter().any(|(k, v)| Kind::from_export_name(k).is_some() && v.is_array())
}

/// A single object; its type comes from its `url` (`.../api/pool/...`) or its uuid prefix (`pool-...`).
fn single(file: &InputFile, item: &Value) -> Result<RawObject, String> {
    let Value::Object(body) = item else {
        return Err("expected an object".to_string());
    };
    let kind = kind_of(body).ok_or_else(|| {
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        format!(
            "object \"{name}\": cannot tell its type: it needs a `url` (\"/api/TYPE/UUID\") or a uuid starting with the \
             type (\"pool-...\"), or put it in a configuration export"
        )
    })?;
    Ok(RawObject { file: file.name.clone(), kind, body: body.clone() })
}

fn kind_of(body: &Object) -> Option<Kind> {
    if let Some(url) = body.get("url").and_then(Value::as_str) {
        if let Some(rest) = url.split("/api/").nth(1) {
            let segment = rest.split(['/', '?', '#']).next().unwrap_or("");
            if let Some(k) = Kind::from_api_name(segment) {
                return Some(k);
            }
        }
    }
    let uuid = body.get("uuid").and_then(Value::as_str)?;
    let prefix = uuid.split('-').next()?;
    Kind::from_api_name(prefix)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(json: Value) -> InputFile {
        InputFile { name: "in.json".to_string(), json }
    }

    #[test]
    fn every_shape_splits() {
        let export = json!({"META": {}, "Pool": [{"name": "p"}], "SSLProfile": [{}]});
        let (objs, ignored) = split(&file(export)).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].kind, Kind::Pool);
        assert_eq!(ignored, vec!["SSLProfile".to_string()]);

        let list = json!({"count": 1, "results": [{"name": "n", "url": "https://lb/api/network/network-1"}]});
        let (objs, _) = split(&file(list)).unwrap();
        assert_eq!(objs[0].kind, Kind::Network);

        let one = json!({"name": "v", "uuid": "virtualservice-abc"});
        let (objs, _) = split(&file(one)).unwrap();
        assert_eq!(objs[0].kind, Kind::VirtualService);
    }

    #[test]
    fn an_object_of_unknown_type_is_an_error() {
        let e = split(&file(json!({"name": "x"}))).unwrap_err();
        assert!(e.to_string().contains("cannot tell its type"), "{e}");
    }
}
