//! Merging compose files in order (`-c base.yml -c override.yml`), by the rules of
//! `docker stack deploy`: mappings merge key by key, later values win; `ports`, `volumes`,
//! `secrets` and `configs` merge entry by entry (by published port, target path, source
//! name); any other list is replaced whole (`command`, `dns`). The list and mapping forms
//! of `environment`, `labels`, `networks` are made mappings first, so both merge alike.

use serde_json::{Map, Value};

/// Merges one file's top level into the model built so far.
pub fn merge_file(model: &mut Map<String, Value>, file: Map<String, Value>) {
    for (key, value) in file {
        match (key.as_str(), value) {
            ("services", Value::Object(services)) => {
                let merged = model
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !merged.is_object() {
                    *merged = Value::Object(Map::new());
                }
                let merged = merged.as_object_mut().expect("made an object above");
                for (name, service) in services {
                    let service = normalise_service(service);
                    match merged.get_mut(&name) {
                        Some(base) => merge_service(base, service),
                        None => {
                            merged.insert(name, service);
                        }
                    }
                }
            }
            (_, value) => match model.get_mut(&key) {
                Some(base) => deep_merge(base, value),
                None => {
                    model.insert(key, value);
                }
            },
        }
    }
}

fn merge_service(base: &mut Value, over: Value) {
    let (Value::Object(base), Value::Object(over)) = (&mut *base, over.clone()) else {
        *base = over;
        return;
    };
    for (key, value) in over {
        let entry_key: Option<fn(&Value) -> String> = match key.as_str() {
            "ports" => Some(port_key),
            "volumes" => Some(volume_key),
            "secrets" | "configs" => Some(source_key),
            _ => None,
        };
        match (base.get_mut(&key), entry_key) {
            (Some(Value::Array(items)), Some(entry_key)) => {
                merge_list(items, value, entry_key);
            }
            (Some(existing), None) => deep_merge(existing, value),
            _ => {
                base.insert(key, value);
            }
        }
    }
}

/// Mappings merge key by key; anything else is replaced.
fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Entries of `over` replace the entries of `items` with the same key; new ones are added.
fn merge_list(items: &mut Vec<Value>, over: Value, key: fn(&Value) -> String) {
    let Value::Array(over) = over else {
        *items = vec![over];
        return;
    };
    for entry in over {
        let wanted = key(&entry);
        match items.iter_mut().find(|item| key(item) == wanted) {
            Some(existing) => *existing = entry,
            None => items.push(entry),
        }
    }
}

/// A port is the same port when it publishes the same thing: the short form as written,
/// the long form by its published port, target and protocol.
fn port_key(port: &Value) -> String {
    match port {
        Value::Object(fields) => format!(
            "{}:{}/{}",
            fields.get("published").map(scalar_text).unwrap_or_default(),
            fields.get("target").map(scalar_text).unwrap_or_default(),
            fields
                .get("protocol")
                .map(scalar_text)
                .unwrap_or_else(|| "tcp".to_string())
        ),
        other => {
            let text = scalar_text(other);
            if text.contains('/') {
                text
            } else {
                format!("{text}/tcp")
            }
        }
    }
}

/// A volume is the same volume when it mounts at the same target.
fn volume_key(volume: &Value) -> String {
    match volume {
        Value::Object(fields) => fields.get("target").map(scalar_text).unwrap_or_default(),
        other => {
            let text = scalar_text(other);
            let parts: Vec<&str> = text.split(':').collect();
            match parts.as_slice() {
                [target] | [_, target] | [_, target, _] => target.to_string(),
                _ => text,
            }
        }
    }
}

fn source_key(entry: &Value) -> String {
    match entry {
        Value::Object(fields) => fields.get("source").map(scalar_text).unwrap_or_default(),
        other => scalar_text(other),
    }
}

/// A scalar as compose reads it: strings as they are, numbers and booleans as written.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The mapping forms of `environment`, `labels`, `deploy.labels` and `networks`.
fn normalise_service(mut service: Value) -> Value {
    let Value::Object(fields) = &mut service else {
        return service;
    };
    for key in ["environment", "labels"] {
        if let Some(value) = fields.get_mut(key) {
            list_to_mapping(value, '=');
        }
    }
    if let Some(Value::Object(deploy)) = fields.get_mut("deploy")
        && let Some(labels) = deploy.get_mut("labels")
    {
        list_to_mapping(labels, '=');
    }
    if let Some(Value::Array(networks)) = fields.get("networks") {
        let mapping = networks
            .iter()
            .map(|name| (scalar_text(name), Value::Null))
            .collect();
        fields.insert("networks".to_string(), Value::Object(mapping));
    }
    service
}

/// `["A=1", "B"]` becomes `{A: "1", B: null}` (a name alone: taken from the environment).
fn list_to_mapping(value: &mut Value, separator: char) {
    let Value::Array(items) = value else {
        return;
    };
    let mapping = items
        .iter()
        .map(|item| {
            let text = scalar_text(item);
            match text.split_once(separator) {
                Some((name, value)) => (name.to_string(), Value::String(value.to_string())),
                None => (text, Value::Null),
            }
        })
        .collect();
    *value = Value::Object(mapping);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(files: Vec<Value>) -> Value {
        let mut model = Map::new();
        for file in files {
            let Value::Object(file) = file else { panic!() };
            merge_file(&mut model, file);
        }
        Value::Object(model)
    }

    #[test]
    fn a_later_file_overrides_fields_and_merges_lists_by_their_key() {
        let base = json!({"services": {"web": {
            "image": "nginx:1.25",
            "command": ["nginx", "-g", "daemon off;"],
            "environment": ["A=1", "B=2"],
            "ports": ["80:80", {"target": 443, "published": 443}],
            "volumes": ["/data:/srv:ro", "cache:/cache"],
            "secrets": ["tls"],
            "networks": ["front"],
            "deploy": {"replicas": 2, "labels": ["team=web"]}
        }}});
        let over = json!({"services": {"web": {
            "image": "nginx:1.27",
            "command": ["nginx"],
            "environment": {"B": "3", "C": "4"},
            "ports": ["80:80/tcp", "8080:8080"],
            "volumes": ["/other:/srv"],
            "secrets": [{"source": "tls", "mode": "0400"}],
            "networks": {"back": {"aliases": ["www"]}},
            "deploy": {"resources": {"limits": {"memory": "64M"}}}
        }}, "networks": {"front": {}, "back": {}}});
        assert_eq!(
            merged(vec![base, over]),
            json!({"services": {"web": {
                "image": "nginx:1.27",
                "command": ["nginx"],
                "environment": {"A": "1", "B": "3", "C": "4"},
                "ports": ["80:80/tcp", {"target": 443, "published": 443}, "8080:8080"],
                "volumes": ["/other:/srv", "cache:/cache"],
                "secrets": [{"source": "tls", "mode": "0400"}],
                "networks": {"front": null, "back": {"aliases": ["www"]}},
                "deploy": {"replicas": 2, "labels": {"team": "web"},
                           "resources": {"limits": {"memory": "64M"}}}
            }}, "networks": {"front": {}, "back": {}}})
        );
    }

    #[test]
    fn a_service_only_in_a_later_file_is_added_whole() {
        let model = merged(vec![
            json!({"services": {"web": {"image": "a"}}}),
            json!({"services": {"db": {"image": "b", "environment": ["X"]}}}),
        ]);
        assert_eq!(
            model["services"],
            json!({"web": {"image": "a"}, "db": {"image": "b", "environment": {"X": null}}})
        );
    }
}
