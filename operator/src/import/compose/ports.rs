//! A service's `ports:`, short (`"8080:80/udp"`, ranges, a host IP) and long form, as
//! shoal's published ports.

use serde_json::Value;

use super::merge::scalar_text;
use crate::resources::service::{Port, Protocol, PublishMode};

/// The ports one `ports:` entry publishes, or what is wrong with it; and what of it was
/// not carried over.
pub fn ports(entry: &Value) -> Result<(Vec<Port>, Option<String>), String> {
    match entry {
        Value::Object(fields) => long_form(fields),
        other => short_form(&scalar_text(other)),
    }
}

fn long_form(
    fields: &serde_json::Map<String, Value>,
) -> Result<(Vec<Port>, Option<String>), String> {
    let target = fields
        .get("target")
        .map(scalar_text)
        .ok_or("a port needs a `target`")?;
    let protocol = protocol(fields.get("protocol").map(scalar_text).as_deref())?;
    let publish_mode = match fields.get("mode").map(scalar_text).as_deref() {
        None | Some("ingress") => PublishMode::Ingress,
        Some("host") => PublishMode::Host,
        Some(other) => return Err(format!("mode {other:?} is neither `ingress` nor `host`")),
    };
    let targets = range(&target)?;
    let published = match fields.get("published") {
        Some(value) => range(&scalar_text(value))?.into_iter().map(Some).collect(),
        None => vec![None; targets.len()],
    };
    let ports = pair(&targets, &published)?
        .map(|(target, published)| Port {
            target,
            published,
            protocol,
            publish_mode,
        })
        .collect();
    let dropped = ["host_ip", "name", "app_protocol"]
        .into_iter()
        .filter(|key| fields.contains_key(*key))
        .map(|key| format!("`{key}` is not carried over: swarm publishes on every address"))
        .next();
    Ok((ports, dropped))
}

fn short_form(text: &str) -> Result<(Vec<Port>, Option<String>), String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, protocol_text)) => (spec, protocol(Some(protocol_text))?),
        None => (text, Protocol::Tcp),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (host_ip, published, target) = match parts.as_slice() {
        [target] => (None, None, *target),
        [target, published] => (None, Some(*published), *target),
        [target, published, host_ip] => (Some(*host_ip), Some(*published), *target),
        _ => return Err(format!("{text:?} is not a port")),
    };
    let targets = range(target)?;
    let published: Vec<Option<u32>> = match published.filter(|p| !p.is_empty()) {
        Some(published) => range(published)?.into_iter().map(Some).collect(),
        None => vec![None; targets.len()],
    };
    let ports = pair(&targets, &published)?
        .map(|(target, published)| Port {
            target,
            published,
            protocol,
            publish_mode: PublishMode::Ingress,
        })
        .collect();
    let dropped = host_ip.map(|ip| {
        format!("the host address {ip} is not carried over: swarm publishes on every address")
    });
    Ok((ports, dropped))
}

fn pair<'a>(
    targets: &'a [u32],
    published: &'a [Option<u32>],
) -> Result<impl Iterator<Item = (u32, Option<u32>)> + 'a, String> {
    if targets.len() != published.len() {
        return Err(format!(
            "{} published ports for {} container ports",
            published.len(),
            targets.len()
        ));
    }
    Ok(targets.iter().copied().zip(published.iter().copied()))
}

/// `80` or `8000-8002`.
fn range(text: &str) -> Result<Vec<u32>, String> {
    let number = |text: &str| {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|port| (1..=65535).contains(port))
            .ok_or_else(|| format!("{text:?} is not a port number (1-65535)"))
    };
    match text.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (number(low)?, number(high)?);
            if high < low {
                return Err(format!("the range {text:?} ends before it starts"));
            }
            Ok((low..=high).collect())
        }
        None => Ok(vec![number(text)?]),
    }
}

fn protocol(text: Option<&str>) -> Result<Protocol, String> {
    match text {
        None | Some("tcp") => Ok(Protocol::Tcp),
        Some("udp") => Ok(Protocol::Udp),
        Some("sctp") => Ok(Protocol::Sctp),
        Some(other) => Err(format!("protocol {other:?} is not tcp, udp or sctp")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn port(target: u32, published: Option<u32>, protocol: Protocol, mode: PublishMode) -> Port {
        Port {
            target,
            published,
            protocol,
            publish_mode: mode,
        }
    }

    #[test]
    fn short_forms_publish_through_the_mesh() {
        use Protocol::*;
        use PublishMode::Ingress;
        assert_eq!(ports(&json!(80)).unwrap().0, [port(80, None, Tcp, Ingress)]);
        assert_eq!(
            ports(&json!("8080:80/udp")).unwrap().0,
            [port(80, Some(8080), Udp, Ingress)]
        );
        assert_eq!(
            ports(&json!("9000-9001:8000-8001")).unwrap().0,
            [
                port(8000, Some(9000), Tcp, Ingress),
                port(8001, Some(9001), Tcp, Ingress)
            ]
        );
        let (ports, dropped) = ports(&json!("127.0.0.1:8080:80")).unwrap();
        assert_eq!(ports, [port(80, Some(8080), Tcp, Ingress)]);
        assert_eq!(
            dropped.unwrap(),
            "the host address 127.0.0.1 is not carried over: swarm publishes on every address"
        );
    }

    #[test]
    fn the_long_form_keeps_host_mode() {
        let entry = json!({"target": 80, "published": "80", "mode": "host", "protocol": "tcp"});
        assert_eq!(
            ports(&entry).unwrap(),
            (
                vec![port(80, Some(80), Protocol::Tcp, PublishMode::Host)],
                None
            )
        );
    }

    #[test]
    fn a_bad_port_says_what_is_wrong() {
        assert_eq!(
            ports(&json!("8080:70000")).unwrap_err(),
            "\"70000\" is not a port number (1-65535)"
        );
        assert_eq!(
            ports(&json!("80/quic")).unwrap_err(),
            "protocol \"quic\" is not tcp, udp or sctp"
        );
        assert_eq!(
            ports(&json!("1-2:1-3")).unwrap_err(),
            "2 published ports for 3 container ports"
        );
    }
}
