//! The compose service keys that need more than a rename: `environment` and `env_file`
//! (literal secrets refused, `*_FILE` pointing at a mounted secret kept as `secretFile`),
//! `secrets`, `volumes` and `tmpfs`, `ports`, `networks`, and the string form of
//! `command` and `entrypoint`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::deploy::strings;
use super::load;
use super::merge::scalar_text;
use super::ports as port_syntax;
use super::service::Ctx;
use crate::resources::quantity::MemorySize;
use crate::resources::service::{
    EnvVar, Mount, MountKind, Port, SecretRef, ServiceSpec, looks_secret,
};

/// `command` / `entrypoint`: a list as it is, a string split as a shell would.
pub fn words(ctx: &mut Ctx, field: &str, value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(line) => {
            let words = shlex::split(line);
            if words.is_none() {
                ctx.note(field, "an unclosed quote: not imported");
            }
            words
        }
        Value::Null => None,
        other => Some(strings(other)),
    }
}

/// `env_file` then `environment` (which wins), sorted as `docker stack deploy` sorts
/// them, so an adopted service's containers see the very same list.
pub fn environment(ctx: &mut Ctx, fields: &Map<String, Value>, spec: &mut ServiceSpec) {
    let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (file, field) in env_files(ctx, fields.get("env_file")) {
        match load::read_env_file(&file) {
            Ok(read) => {
                for (name, value) in read {
                    values.insert(name, (value, field.clone()));
                }
            }
            Err(error) => ctx.note(&field, format!("not imported: {error}")),
        }
    }
    for (name, value) in fields
        .get("environment")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let field = format!("environment.{name}");
        let value = match value {
            Value::Null => match ctx.loaded_variable(name) {
                Some(value) => value,
                None => {
                    ctx.note(&field, format!("{name} is not set here: not imported"));
                    continue;
                }
            },
            other => scalar_text(other),
        };
        values.insert(name.clone(), (value, field));
    }
    let mut env: Vec<EnvVar> = values
        .into_iter()
        .filter_map(|(name, (value, field))| env_var(ctx, spec, name, value, &field))
        .collect();
    env.sort_by_key(|var| format!("{}={}", var.name, var.value.as_deref().unwrap_or("")));
    spec.env = env;
}

/// One variable, unless it is a literal secret (never written to git, never echoed).
fn env_var(
    ctx: &mut Ctx,
    spec: &ServiceSpec,
    name: String,
    value: String,
    field: &str,
) -> Option<EnvVar> {
    if let Some(file) = value.strip_prefix("/run/secrets/")
        && let Some(secret) = spec
            .secrets
            .iter()
            .find(|s| s.target.as_deref().unwrap_or(&s.source) == file)
    {
        return Some(EnvVar {
            name,
            value: None,
            secret_file: Some(secret.source.clone()),
        });
    }
    if looks_secret(&name) && !value.is_empty() {
        ctx.note(
            field,
            format!(
                "{name} looks secret and holds a literal value, which shoal keeps out of git: \
                 not imported; put it in a swarm secret (`docker secret create`) and set \
                 {name}_FILE to its file, if the image reads it so"
            ),
        );
        return None;
    }
    Some(EnvVar {
        name,
        value: Some(value),
        secret_file: None,
    })
}

/// The env files of `env_file` (a path, a list, or `{path, required}` entries), with
/// the field each came from.
fn env_files(ctx: &Ctx, value: Option<&Value>) -> Vec<(std::path::PathBuf, String)> {
    let entries = match value {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    };
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| {
            let (path, required) = match entry {
                Value::Object(fields) => (
                    fields.get("path").map(scalar_text)?,
                    fields
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                ),
                other => (scalar_text(other), true),
            };
            let file = ctx.loaded.project_dir().join(path);
            (required || file.exists()).then(|| (file, format!("env_file[{i}]")))
        })
        .collect()
}

/// `secrets:`: the swarm secret of each, at the file name compose gives it.
pub fn secrets(ctx: &mut Ctx, value: &Value) -> Vec<SecretRef> {
    let mut refs = Vec::new();
    for (i, entry) in value.as_array().into_iter().flatten().enumerate() {
        let field = format!("secrets[{i}]");
        let (key, fields) = match entry {
            Value::Object(fields) => match fields.get("source") {
                Some(source) => (scalar_text(source), fields.clone()),
                None => {
                    ctx.note(&field, "a secret needs a `source`: not imported");
                    continue;
                }
            },
            other => (scalar_text(other), Map::new()),
        };
        let source = ctx.names.object(ctx.loaded, "secrets", &key);
        let target = fields.get("target").map(scalar_text).unwrap_or(key);
        let mode = fields
            .get("mode")
            .and_then(|mode| octal_mode(ctx, &format!("{field}.mode"), mode));
        refs.push(SecretRef {
            target: (target != source).then_some(target),
            source,
            uid: fields.get("uid").and_then(|v| scalar_text(v).parse().ok()),
            gid: fields.get("gid").and_then(|v| scalar_text(v).parse().ok()),
            mode,
        });
    }
    refs
}

/// A file mode as written: `0440` and `0o440` are octal (YAML 1.1, which compose
/// files follow), a plain number is the decimal count Docker's CLI reads.
fn octal_mode(ctx: &mut Ctx, field: &str, value: &Value) -> Option<String> {
    let written = ctx
        .loaded
        .written_scalar(&ctx.path_of(field))
        .unwrap_or_else(|| scalar_text(value));
    let octal = written.trim_start_matches("0o");
    let mode = if written.starts_with('0') {
        u32::from_str_radix(octal, 8).ok()
    } else {
        written.parse::<u32>().ok()
    };
    match mode {
        Some(mode) if mode <= 0o7777 => Some(format!("{mode:04o}")),
        _ => {
            ctx.note(
                field,
                format!("{written:?} is not a file mode: not imported"),
            );
            None
        }
    }
}

pub fn ports(ctx: &mut Ctx, value: &Value) -> Vec<Port> {
    let mut all = Vec::new();
    for (i, entry) in value.as_array().into_iter().flatten().enumerate() {
        let field = format!("ports[{i}]");
        match port_syntax::ports(entry) {
            Ok((ports, dropped)) => {
                all.extend(ports);
                if let Some(dropped) = dropped {
                    ctx.note(&field, dropped);
                }
            }
            Err(why) => ctx.note(&field, format!("not imported: {why}")),
        }
    }
    all
}

/// `volumes:`, short (`/host:/in:ro`, `data:/in`) and long form.
pub fn volumes(ctx: &mut Ctx, value: &Value) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for (i, entry) in value.as_array().into_iter().flatten().enumerate() {
        let field = format!("volumes[{i}]");
        let mount = match entry {
            Value::Object(fields) => long_volume(ctx, &field, fields),
            other => short_volume(ctx, &field, &scalar_text(other)),
        };
        mounts.extend(mount);
    }
    mounts
}

fn short_volume(ctx: &mut Ctx, field: &str, text: &str) -> Option<Mount> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, options] => (Some(*source), *target, *options),
        _ => {
            ctx.note(field, format!("{text:?} is not a volume: not imported"));
            return None;
        }
    };
    let read_only = options.split(',').any(|option| option == "ro");
    let kind = match source {
        Some(source) if is_path(source) => MountKind::Bind,
        _ => MountKind::Volume,
    };
    Some(mount(ctx, kind, source, target, read_only))
}

fn long_volume(ctx: &mut Ctx, field: &str, fields: &Map<String, Value>) -> Option<Mount> {
    let kind = match fields.get("type").map(scalar_text).as_deref() {
        Some("bind") => MountKind::Bind,
        Some("volume") | None => MountKind::Volume,
        Some("tmpfs") => MountKind::Tmpfs,
        Some(other) => {
            ctx.note(field, format!("shoal mounts no {other}: not imported"));
            return None;
        }
    };
    let Some(target) = fields.get("target").map(scalar_text) else {
        ctx.note(field, "a volume needs a `target`: not imported");
        return None;
    };
    let source = fields.get("source").map(scalar_text);
    let read_only = fields.get("read_only").and_then(Value::as_bool) == Some(true);
    let mut mount = mount(ctx, kind, source.as_deref(), &target, read_only);
    for (key, value) in fields {
        match key.as_str() {
            "type" | "source" | "target" | "read_only" | "consistency" => {}
            "tmpfs" => {
                mount.size = value.get("size").and_then(|size| {
                    ctx.parsed(&format!("{field}.tmpfs.size"), size, MemorySize::parse)
                });
            }
            _ => ctx.note(
                &format!("{field}.{key}"),
                "shoal cannot express this yet: not imported",
            ),
        }
    }
    Some(mount)
}

fn mount(ctx: &Ctx, kind: MountKind, source: Option<&str>, target: &str, read_only: bool) -> Mount {
    let source = source.filter(|s| !s.is_empty()).map(|source| match kind {
        MountKind::Bind => absolute(&ctx.loaded.project_dir(), source),
        MountKind::Volume => ctx.names.object(ctx.loaded, "volumes", source),
        MountKind::Tmpfs => source.to_string(),
    });
    Mount {
        kind,
        source: if kind == MountKind::Tmpfs {
            None
        } else {
            source
        },
        target: target.to_string(),
        read_only,
        size: None,
    }
}

fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// A bind source relative to the project directory, made absolute as compose does.
fn absolute(project: &Path, source: &str) -> String {
    if source.starts_with('/') {
        return source.to_string();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let joined = match source.strip_prefix("~/") {
        Some(rest) => Path::new(&home).join(rest),
        None => std::path::absolute(project.join(source)).unwrap_or(project.join(source)),
    };
    path_clean::clean(joined).to_string_lossy().into_owned()
}

/// `tmpfs: /run` or a list of them.
pub fn tmpfs(ctx: &mut Ctx, value: &Value) -> Vec<Mount> {
    strings(value)
        .iter()
        .map(|target| mount(ctx, MountKind::Tmpfs, None, target, false))
        .collect()
}

/// `networks:` (made a mapping by the merge): each network's swarm name; aliases and
/// addresses are said not to be carried over.
pub fn networks(ctx: &mut Ctx, value: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for (key, settings) in value.as_object().into_iter().flatten() {
        names.push(ctx.names.object(ctx.loaded, "networks", key));
        for setting in settings.as_object().into_iter().flat_map(|s| s.keys()) {
            ctx.note(
                &format!("networks.{key}.{setting}"),
                "shoal cannot express this yet: not imported",
            );
        }
    }
    names
}
