//! A unix-socket proxy in front of an engine that counts the API requests passing
//! through it, by method and path: how a benchmark proves how many engine calls a
//! reconcile pass makes (the operator's own metrics could only count what it thinks it
//! calls).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Requests seen, keyed `GET /services` (no API version, no query).
pub type Counts = BTreeMap<String, u64>;

pub struct CountingProxy {
    pub socket: PathBuf,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    /// Listens on `socket`, forwarding every connection to `upstream`.
    pub fn start(upstream: &Path, socket: &Path) -> CountingProxy {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).expect("the proxy socket can be bound");
        let counts = Arc::new(Mutex::new(Counts::new()));
        let (upstream, shared) = (upstream.to_path_buf(), counts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(engine) = UnixStream::connect(&upstream) else {
                    continue;
                };
                forward(client, engine, shared.clone());
            }
        });
        CountingProxy {
            socket: socket.to_path_buf(),
            counts,
        }
    }

    /// `unix://SOCKET`, for DOCKER_HOST.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The requests counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }
}

/// Copies both ways; the client's side is scanned for request lines.
fn forward(client: UnixStream, engine: UnixStream, counts: Arc<Mutex<Counts>>) {
    let (mut client_out, mut engine_in) =
        (client.try_clone().unwrap(), engine.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut { engine }, &mut client_out);
    });
    std::thread::spawn(move || {
        let mut client = client;
        let mut buffer = [0u8; 64 * 1024];
        let mut line = Vec::new();
        while let Ok(n) = client.read(&mut buffer) {
            if n == 0 || engine_in.write_all(&buffer[..n]).is_err() {
                break;
            }
            for &byte in &buffer[..n] {
                line.push(byte);
                if byte == b'\n' {
                    if let Some(key) = request_key(&line) {
                        *counts.lock().unwrap().entry(key).or_default() += 1;
                    }
                    line.clear();
                }
            }
        }
        let _ = engine_in.shutdown(std::net::Shutdown::Write);
    });
}

/// `GET /v1.41/services?status=true HTTP/1.1` -> `GET /services`. A JSON body without a
/// line break may precede the next request line on the same line: only the line's end is
/// read.
fn request_key(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let head = text.strip_suffix(" HTTP/1.1")?;
    let (before, target) = head.rsplit_once(' ')?;
    let method: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_uppercase)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let path = target.split('?').next()?;
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest.split_once('/').map_or(path, |(_, p)| p),
        None => path.trim_start_matches('/'),
    };
    let path = collapse_ids(path);
    Some(format!("{method} /{path}"))
}

/// `services/abc123/update` -> `services/{id}/update`: counts by kind of call.
fn collapse_ids(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && !["create", "json"].contains(&parts[1]) {
        parts[1] = "{id}";
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::request_key;

    #[test]
    fn request_lines_are_keyed_by_method_and_kind_of_path() {
        let key = |line: &str| request_key(line.as_bytes());
        assert_eq!(
            key("GET /v1.41/services?status=true HTTP/1.1\r\n").as_deref(),
            Some("GET /services")
        );
        assert_eq!(
            key("{\"Name\":\"a\"}POST /v1.41/services/x1y2/update?version=9 HTTP/1.1\r\n")
                .as_deref(),
            Some("POST /services/{id}/update")
        );
        assert_eq!(
            key("POST /v1.41/services/create HTTP/1.1\r\n").as_deref(),
            Some("POST /services/create")
        );
        assert_eq!(key("host: engine\r\n"), None);
    }
}
