//! JSON Schemas of the resource kinds, generated from the Rust types with schemars, so
//! that editors (yaml-language-server) check desired-state files as people type.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use crate::resources::{
    API_VERSION, DataSpec, GlusterVolumeSpec, Kind, Metadata, NetworkSpec, NodeSpec, ServiceSpec,
};

/// The file name of a kind's schema under `crds/`.
pub fn file_name(kind: Kind) -> String {
    format!("{}.schema.json", kind.as_str().to_ascii_lowercase())
}

/// The JSON Schema of a whole document of `kind`.
pub fn for_kind(kind: Kind) -> Value {
    match kind {
        Kind::Service => document_schema::<ServiceSpec>(kind, true),
        Kind::GlusterVolume => document_schema::<GlusterVolumeSpec>(kind, true),
        Kind::Secret | Kind::Config => document_schema::<DataSpec>(kind, true),
        Kind::Network => document_schema::<NetworkSpec>(kind, false),
        Kind::Node => document_schema::<NodeSpec>(kind, false),
    }
}

/// The schema of every kind, as (file name, pretty JSON text ending in a newline).
pub fn all() -> Vec<(String, String)> {
    Kind::ALL
        .iter()
        .map(|kind| {
            let text = serde_json::to_string_pretty(&for_kind(*kind))
                .expect("a JSON value always serializes");
            (file_name(*kind), text + "\n")
        })
        .collect()
}

fn document_schema<S: JsonSchema>(kind: Kind, spec_required: bool) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let metadata: Schema = generator.subschema_for::<Metadata>();
    let spec: Schema = generator.subschema_for::<S>();
    let definitions = generator.take_definitions(true);
    let mut required = vec!["apiVersion", "kind", "metadata"];
    if spec_required {
        required.push("spec");
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://shoal.dev/schemas/{}", file_name(kind)),
        "title": kind.as_str(),
        "description": format!("A shoal {} resource ({API_VERSION}).", kind.as_str()),
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": {
            "apiVersion": { "const": API_VERSION, "description": "Always shoal/v1alpha1." },
            "kind": { "const": kind.as_str(), "description": "The resource kind." },
            "metadata": described(metadata, "Name, labels and annotations of the resource."),
            "spec": described(spec, "The desired state of the resource."),
        },
        "$defs": definitions,
    })
}

fn described(schema: Schema, description: &str) -> Value {
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        object.insert("description".into(), description.into());
    }
    value
}
