//! The probes run inside the local canary task (busybox): fetches from the other
//! canaries over the overlay, a full-size ping with don't-fragment, and the embedded DNS's
//! answers. One exec per network; its output is one line per finding.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{ATTEMPTS, CANARY_PAGE, CANARY_PORT, DnsAnswer, PeerResult};

/// The whole exec's bound: per peer 3 fetches and a ping of a second each, per name a
/// lookup of a few seconds, all well inside this.
const EXEC_TIMEOUT: Duration = Duration::from_secs(90);

/// Arguments: PORT ATTEMPTS SIZE PAGE PEER... -- NAME...  A fetch is the canary's page read
/// with nc (every busybox has it; Debian's static busybox wget crashes on remote
/// addresses). Busybox's ping sets don't-fragment on a packet that fits the interface
/// (Linux's default path-MTU mode), so a full-size one that does not come back did not
/// cross.
const SCRIPT: &str = r#"port=$1 attempts=$2 size=$3 page=$4; shift 4
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  ip=$1; shift; n=0; i=0
  while [ $i -lt "$attempts" ]; do
    i=$((i+1))
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 2 nc -w 1 "$ip" "$port" 2>/dev/null | grep -q "$page" && n=$((n+1))
  done
  echo "fetch $ip $n"
  if [ $n -gt 0 ]; then
    if ping -c 2 -W 1 -s "$size" "$ip" >/dev/null 2>&1; then echo "full $ip 1"; else echo "full $ip 0"; fi
  fi
done
[ $# -gt 0 ] && shift
for name in "$@"; do
  echo "dns $name"
  nslookup "$name" 2>&1 | sed 's/^/| /'
done
"#;

/// A DNS name or address safe to hand to the script: letters, digits, `.`, `-`, `_`.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Runs the probes in `container`; `mtu` is the overlay's.
pub async fn in_canary(
    docker: &Docker,
    container: &str,
    peers: &[Ipv4Addr],
    names: &[String],
    mtu: u32,
) -> Result<(Vec<PeerResult>, Vec<DnsAnswer>), String> {
    // ICMP (8) and IP (20) headers: the packet is exactly the overlay's MTU.
    let size = mtu.saturating_sub(28).to_string();
    // The container's own timeout ends the script even if this side stops waiting.
    let limit = (EXEC_TIMEOUT.as_secs() - 5).to_string();
    let mut cmd: Vec<String> = ["timeout", &limit, "sh", "-c", SCRIPT, "probe"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cmd.extend([
        CANARY_PORT.to_string(),
        ATTEMPTS.to_string(),
        size,
        CANARY_PAGE.to_string(),
    ]);
    cmd.extend(peers.iter().map(|p| p.to_string()));
    cmd.push("--".into());
    cmd.extend(names.iter().cloned());
    let output = tokio::time::timeout(EXEC_TIMEOUT, run(docker, container, cmd))
        .await
        .map_err(|_| format!("the canary's probes took over {EXEC_TIMEOUT:?}"))??;
    Ok(parse(&output, mtu))
}

async fn run(docker: &Docker, container: &str, cmd: Vec<String>) -> Result<String, String> {
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(cmd),
        ..Default::default()
    };
    let exec = docker
        .create_exec(container, options)
        .await
        .map_err(|e| format!("exec in the canary: {e}"))?;
    let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| format!("exec in the canary: {e}"))?
    else {
        return Err("exec in the canary: not attached".into());
    };
    let mut text = String::new();
    while let Some(chunk) = output.next().await {
        match chunk.map_err(|e| format!("exec in the canary: {e}"))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                text.push_str(&String::from_utf8_lossy(&message));
            }
            _ => {}
        }
    }
    Ok(text)
}

/// Reads the script's lines back.
pub fn parse(output: &str, mtu: u32) -> (Vec<PeerResult>, Vec<DnsAnswer>) {
    let mut peers: Vec<PeerResult> = Vec::new();
    let mut dns: Vec<DnsAnswer> = Vec::new();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("fetch"), Some(ip), Some(n)) => {
                if let (Ok(address), Ok(answered)) = (ip.parse(), n.parse()) {
                    peers.push(PeerResult {
                        address,
                        answered,
                        attempts: ATTEMPTS,
                        full_size: None,
                        mtu,
                    });
                }
            }
            (Some("full"), Some(ip), Some(ok)) => {
                if let Some(peer) = peers.iter_mut().find(|p| p.address.to_string() == ip) {
                    peer.full_size = Some(ok == "1");
                }
            }
            (Some("dns"), Some(name), None) => dns.push(DnsAnswer {
                name: name.to_string(),
                addresses: BTreeSet::new(),
                error: None,
            }),
            (Some("|"), _, _) => {
                if let Some(answer) = dns.last_mut() {
                    read_nslookup_line(answer, line.trim_start_matches('|').trim());
                }
            }
            _ => {}
        }
    }
    (peers, dns)
}

/// Busybox nslookup: `Server:`/`Address: 127.0.0.11:53` first, then `Name:` and an
/// `Address: IP` (or `Address 1: IP`) per answer; failures start with `**`.
fn read_nslookup_line(answer: &mut DnsAnswer, line: &str) {
    if let Some(why) = line.strip_prefix("** ") {
        answer.error.get_or_insert_with(|| why.trim().to_string());
        return;
    }
    let Some(rest) = line.strip_prefix("Address") else {
        return;
    };
    let value = rest.split_once(':').map_or("", |(_, v)| v).trim();
    let first = value.split_whitespace().next().unwrap_or("");
    // The server's own address comes with its port (127.0.0.11:53): not an answer.
    if let Ok(address) = first.parse::<Ipv4Addr>() {
        answer.addresses.insert(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script's output in a lab canary (busybox 1.35's nslookup asks A and AAAA).
    const OUTPUT: &str = "fetch 10.0.1.46 3
full 10.0.1.46 1
fetch 10.0.1.47 0
dns tasks.http
| Server:\t\t127.0.0.11
| Address:\t127.0.0.11:53
| 
| Non-authoritative answer:
| Name:\ttasks.http
| Address: 10.0.1.6
| Name:\ttasks.http
| Address: 10.0.1.7
| 
| Non-authoritative answer:
| 
dns tasks.gone
| Server:\t\t127.0.0.11
| Address:\t127.0.0.11:53
| 
| ** server can't find tasks.gone: SERVFAIL
| 
| ** server can't find tasks.gone: SERVFAIL
";

    #[test]
    fn the_canary_scripts_lines_read_back() {
        let (peers, dns) = parse(OUTPUT, 1450);
        let peers: Vec<(String, u32, Option<bool>)> = peers
            .iter()
            .map(|p| (p.address.to_string(), p.answered, p.full_size))
            .collect();
        assert_eq!(
            peers,
            [
                ("10.0.1.46".to_string(), 3, Some(true)),
                ("10.0.1.47".to_string(), 0, None)
            ]
        );
        assert_eq!(dns[0].name, "tasks.http");
        let addresses: Vec<String> = dns[0].addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addresses, ["10.0.1.6", "10.0.1.7"]);
        assert_eq!(dns[0].error, None);
        assert!(dns[1].addresses.is_empty());
        assert_eq!(
            dns[1].error.as_deref(),
            Some("server can't find tasks.gone: SERVFAIL")
        );
    }

    #[test]
    fn only_plain_names_reach_the_script() {
        assert!(is_plain_name("tasks.php-fpm"));
        assert!(is_plain_name("tasks.my_service"));
        for bad in ["", "-n", "tasks.x;reboot", "$(id)", "a b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
