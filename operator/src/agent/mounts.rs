//! Where a GlusterVolume is mounted on this host, and from which server. Parsing is pure
//! (tested on recorded /proc/self/mountinfo lines); mounting runs mount(8).

use std::path::Path;

/// A GlusterFS FUSE mount found in mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlusterMount {
    /// The server the volume layout was fetched from (`node1` of `node1:/storage`).
    pub server: String,
    pub volume: String,
}

/// The GlusterFS mount at `mount_point`, if any, from /proc/self/mountinfo text.
pub fn find(mountinfo: &str, mount_point: &Path) -> Option<GlusterMount> {
    mountinfo.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split(' ').nth(4)?.replace("\\040", " ");
        let mut fields = right.split(' ');
        let fstype = fields.next()?;
        let source = fields.next()?;
        if Path::new(&point) != mount_point || fstype != "fuse.glusterfs" {
            return None;
        }
        let (server, volume) = source.split_once(':')?;
        Some(GlusterMount {
            server: server.to_string(),
            volume: volume.trim_start_matches('/').to_string(),
        })
    })
}

/// Whether anything at all is mounted at `mount_point`.
pub fn is_mount_point(mountinfo: &str, mount_point: &Path) -> bool {
    mountinfo.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|p| Path::new(&p.replace("\\040", " ")) == mount_point)
    })
}

/// The server to mount from and its backups: this host when it holds a brick (reads stay
/// local, and the mount survives other nodes' loss), else the first brick host.
pub fn servers(local_hostname: &str, brick_hosts: &[&str]) -> (String, Vec<String>) {
    let mut hosts: Vec<&str> = Vec::new();
    for host in brick_hosts {
        if !hosts.contains(host) {
            hosts.push(host);
        }
    }
    let primary = if hosts.contains(&local_hostname) {
        local_hostname.to_string()
    } else {
        hosts.first().map(|h| h.to_string()).unwrap_or_default()
    };
    let backups = hosts
        .into_iter()
        .filter(|h| *h != primary)
        .map(str::to_string)
        .collect();
    (primary, backups)
}

/// The mount(8) options: backups, so the mount comes up when the primary is down.
pub fn options(backups: &[String]) -> String {
    if backups.is_empty() {
        "defaults".into()
    } else {
        format!("backup-volfile-servers={}", backups.join(":"))
    }
}

/// The fstab line for a volume; `_netdev` so boot waits for the network.
pub fn fstab_line(server: &str, volume: &str, mount_point: &Path, backups: &[String]) -> String {
    format!(
        "{server}:/{volume} {} glusterfs {},_netdev 0 0",
        mount_point.display(),
        options(backups)
    )
}

/// `fstab` with exactly one line for `mount_point`: `line`. Other lines are kept as they are.
pub fn with_fstab_line(fstab: &str, mount_point: &Path, line: &str) -> String {
    let mut out: Vec<&str> = fstab
        .lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            l.trim_start().starts_with('#')
                || fields.get(1).is_none_or(|p| Path::new(p) != mount_point)
        })
        .collect();
    out.push(line);
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on lab node2 (`grep -E "fuse.glusterfs| /data " /proc/self/mountinfo`) after
    // `shoal agent --once` mounted /data/storage from node2.
    const MOUNTINFO: &str = "\
104 76 254:0 /var/lib/shoal-lab/node2/data /data rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
145 104 0:42 / /data/storage rw,relatime - fuse.glusterfs node2:/storage rw,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072
";

    #[test]
    fn a_gluster_mount_is_found_with_its_server() {
        assert_eq!(
            find(MOUNTINFO, Path::new("/data/storage")),
            Some(GlusterMount {
                server: "node2".into(),
                volume: "storage".into()
            })
        );
        assert_eq!(find(MOUNTINFO, Path::new("/data")), None);
        assert!(is_mount_point(MOUNTINFO, Path::new("/data")));
        assert!(!is_mount_point(MOUNTINFO, Path::new("/data/other")));
    }

    #[test]
    fn the_local_brick_host_serves_first() {
        let bricks = ["node1", "node2", "node3"];
        assert_eq!(
            servers("node2", &bricks),
            ("node2".into(), vec!["node1".into(), "node3".into()])
        );
        assert_eq!(
            servers("client9", &bricks),
            ("node1".into(), vec!["node2".into(), "node3".into()])
        );
        assert_eq!(
            options(&["node1".into(), "node3".into()]),
            "backup-volfile-servers=node1:node3"
        );
    }

    #[test]
    fn fstab_keeps_other_lines_and_one_line_for_the_mount_point() {
        let fstab = "# static\n/dev/vda / ext4 defaults 0 1\nnode9:/storage /data/storage glusterfs defaults 0 0\n";
        let line = fstab_line(
            "node2",
            "storage",
            Path::new("/data/storage"),
            &["node1".into()],
        );
        assert_eq!(
            with_fstab_line(fstab, Path::new("/data/storage"), &line),
            "# static\n/dev/vda / ext4 defaults 0 1\nnode2:/storage /data/storage glusterfs backup-volfile-servers=node1,_netdev 0 0\n"
        );
    }
}
