//! serde-saphyr's deserialization errors in the user's words and at the place they are
//! about: "a whole number, 0 or more" rather than "invalid u64", a duplicated key with the
//! line of its first writing, and a missing field at the mapping that lacks it (found with
//! the kind's JSON Schema) rather than at whatever key serde read last.

use serde_json::Value;
use serde_saphyr::Error;

use super::yaml_index::{DocumentIndex, LineCol, parent_path, strip_position};
use crate::resources::Kind;

/// Where to report a deserialization error of a `kind` document, and the message (led by
/// the path of the field it is about). `lines_before`: the lines of the file before the
/// document's text that was deserialized.
pub fn tell(
    kind: Kind,
    document: &DocumentIndex,
    lines_before: usize,
    error: &Error,
) -> (LineCol, String) {
    let at = error
        .location()
        .map(|l| LineCol {
            line: l.line() as usize + lines_before,
            column: l.column() as usize,
        })
        .unwrap_or_else(|| document.locate(""));
    let path = document.path_at(at).unwrap_or_default().to_string();
    let (at, path, message) = match error {
        Error::SerdeMissingField { field, .. } => {
            let mapping = mapping_without(kind, document, &path, field);
            let at = document.locate(&mapping);
            (at, join(&mapping, field), "missing (required)".to_string())
        }
        Error::InvalidScalar { ty, .. } => {
            let found = document
                .scalar(&path)
                .map_or(String::new(), |s| format!(", not {s:?}"));
            (at, path, format!("expected {}{found}", scalar_words(ty)))
        }
        Error::DuplicateMappingKey { key: Some(key), .. } => match first_writing(document, key, at)
        {
            Some((first, first_at)) => (
                at,
                first,
                format!("written twice (first at line {})", first_at.line),
            ),
            None => (at, path, format!("key `{key}` written twice")),
        },
        Error::Budget { .. } => (
            at,
            path,
            "the document is too large or too deeply nested to read".to_string(),
        ),
        Error::Unexpected { expected, .. } => (at, path.clone(), unexpected(expected, &path)),
        _ => (at, path, strip_position(&error.to_string())),
    };
    if path.is_empty() {
        (at, message)
    } else {
        (at, format!("{path}: {message}"))
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

fn scalar_words(ty: &str) -> &str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "char" => "a single character",
        other => other,
    }
}

/// serde's "expected sequence start" and the like, with what to write instead.
fn unexpected(expected: &str, path: &str) -> String {
    match expected {
        // compose writes `environment:` as a map; a Service's env is a list.
        "sequence start" if path.ends_with("env") => {
            "expected a list of `- name: KEY` items with `value:` or `secretFile:` (compose's \
             `KEY: value` map is not accepted), e.g. `- {name: DB_HOST, value: db}`"
                .to_string()
        }
        "sequence start" => "expected a list (lines starting with `- `)".to_string(),
        "mapping start" => "expected a mapping (`key: value` lines)".to_string(),
        "string scalar" => "expected text, not a list or a mapping".to_string(),
        other => format!("expected {other}"),
    }
}

/// The earlier writing of a key written twice: the path written last before `at` at the
/// same column (a key of the same block mapping) and ending in `key`.
fn first_writing(document: &DocumentIndex, key: &str, at: LineCol) -> Option<(String, LineCol)> {
    document
        .keys()
        .filter(|(path, site)| {
            site.column == at.column
                && site.line < at.line
                && (*path == key || path.ends_with(&format!(".{key}")))
        })
        .max_by_key(|(_, site)| site.line)
        .map(|(path, site)| (path.to_string(), site))
}

/// The mapping that lacks `field`: the nearest of `near` and its ancestors whose schema
/// has the field and that does not write it.
fn mapping_without(kind: Kind, document: &DocumentIndex, near: &str, field: &str) -> String {
    let schema = crate::schema::for_kind(kind);
    let mut path = Some(near);
    while let Some(candidate) = path {
        let has_field =
            schema_at(&schema, candidate).is_some_and(|s| s["properties"].get(field).is_some());
        if has_field && !document.has(&join(candidate, field)) {
            return candidate.to_string();
        }
        path = parent_path(candidate);
    }
    String::new()
}

/// The schema of the value at a document path (`spec.mounts[0]`), through `$ref`s,
/// optional values (`anyOf` with null) and list items.
fn schema_at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = resolve(root, root)?;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indices) = segment.split_once('[').unwrap_or((segment, ""));
        if !key.is_empty() {
            node = resolve(root, node["properties"].get(key)?)?;
        }
        for _ in indices.matches(']') {
            node = resolve(root, node.get("items")?)?;
        }
    }
    Some(node)
}

/// `node` itself, or what its `$ref` names, or the first of its `anyOf`/`oneOf`/`allOf`
/// that is an object or a list.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    if let Some(reference) = node["$ref"].as_str() {
        let name = reference.strip_prefix("#/$defs/")?;
        return resolve(root, root["$defs"].get(name)?);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = node[combinator].as_array() {
            return options
                .iter()
                .filter_map(|option| resolve(root, option))
                .find(|option| {
                    option.get("properties").is_some() || option.get("items").is_some()
                });
        }
    }
    Some(node)
}

#[cfg(test)]
mod tests;
