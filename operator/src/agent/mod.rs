//! `shoal agent`: what only a host can do, on every host. For each GlusterVolume of
//! desired-state: the volume is mounted at its mountPoint from this host's own server
//! first (the others as backups; a mount from another server is drift, corrected), an
//! fstab line kept with `--manage-fstab`, this host's brick directories exist (gluster
//! makes a brick's last directory only), and every declared directory (and every bind
//! source on the volume) exists with its owner and mode, made by the first brick's host
//! alone. Status is served over HTTP.

pub mod mounts;
pub mod probe;
pub mod report;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::resources::Desired;
use crate::resources::gluster_volume::GlusterVolumeSpec;
use crate::resources::service::MountKind;
use crate::source::validate::{ValidateOptions, validate_dir};
use report::{AgentStatus, VolumeStatus};

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub dir: PathBuf,
    pub validate: ValidateOptions,
    pub manage_fstab: bool,
    pub fstab: PathBuf,
    pub interval: Duration,
}

/// One pass: load desired-state (keeping `last_good` when it is invalid) and converge
/// every volume.
pub async fn reconcile(options: &AgentOptions, last_good: &mut Option<Desired>) -> AgentStatus {
    let mut status = AgentStatus {
        hostname: crate::host::hostname(),
        ..AgentStatus::default()
    };
    match validate_dir(&options.dir, &options.validate) {
        Ok(validation) if validation.errors() == 0 => *last_good = Some(validation.desired),
        Ok(validation) => {
            let first = validation.problems.iter().find(|p| p.is_error());
            status.desired_error =
                first.map(|p| format!("{} error(s), first: {p}", validation.errors()));
        }
        Err(error) => status.desired_error = Some(error.to_string()),
    }
    let Some(desired) = last_good.as_ref() else {
        return status;
    };
    for (resource, spec) in desired.gluster_volumes() {
        let mut volume = VolumeStatus {
            volume: resource.name().to_string(),
            mount_point: spec.mount_point.clone(),
            ..VolumeStatus::default()
        };
        if let Err(error) = converge_volume(
            options,
            desired,
            resource.name(),
            spec,
            &status.hostname,
            &mut volume,
        )
        .await
        {
            tracing::warn!(volume = resource.name(), %error, "agent could not converge");
            volume.last_error = Some(error);
        }
        for action in &volume.actions {
            tracing::info!(volume = resource.name(), action = %action, "agent");
        }
        status.volumes.push(volume);
    }
    status
}

async fn converge_volume(
    options: &AgentOptions,
    desired: &Desired,
    name: &str,
    spec: &GlusterVolumeSpec,
    local: &str,
    status: &mut VolumeStatus,
) -> Result<(), String> {
    let mount_point = Path::new(&spec.mount_point);
    make_brick_directories(spec, local, status)?;
    let brick_hosts: Vec<&str> = spec.bricks.iter().map(|b| b.node.as_str()).collect();
    let (server, backups) = mounts::servers(local, &brick_hosts);
    ensure_mounted(name, spec, &server, &backups, status).await?;
    status.mounted = true;
    status.server = Some(server.clone());
    status.free_bytes = rustix::fs::statvfs(mount_point)
        .ok()
        .map(|s| s.f_bavail * s.f_frsize);
    if options.manage_fstab {
        let line = mounts::fstab_line(&server, name, mount_point, &backups);
        keep_fstab_line(&options.fstab, mount_point, &line, status)?;
    }
    make_volume_directories(desired, spec, local, status)
}

/// gluster creates a brick's own directory but not its parents, and only a host can make
/// them: every brick of this host gets its directory first.
fn make_brick_directories(
    spec: &GlusterVolumeSpec,
    local: &str,
    status: &mut VolumeStatus,
) -> Result<(), String> {
    for brick in spec.bricks.iter().filter(|b| b.node == local) {
        let path = Path::new(&brick.path);
        if !path.is_dir() {
            std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", brick.path))?;
            status
                .actions
                .push(format!("created brick directory {}", brick.path));
        }
    }
    Ok(())
}

/// Mounts the volume from `server` unless it already is; a mount from elsewhere is drift,
/// made again; anything else mounted there is left alone, as an error.
async fn ensure_mounted(
    name: &str,
    spec: &GlusterVolumeSpec,
    server: &str,
    backups: &[String],
    status: &mut VolumeStatus,
) -> Result<(), String> {
    let mount_point = Path::new(&spec.mount_point);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    match mounts::find(&mountinfo, mount_point) {
        Some(mount) if mount.volume == name && mount.server == server => {}
        Some(mount) => {
            status.actions.push(format!(
                "drift: mounted from {}:/{}, not {server}:/{name}: remounting",
                mount.server, mount.volume
            ));
            run("umount", &[&spec.mount_point]).await?;
            mount_volume(server, name, mount_point, backups).await?;
            status.actions.push(format!("mounted from {server}"));
        }
        None if mounts::is_mount_point(&mountinfo, mount_point) => {
            return Err(format!(
                "{} is mounted, but not from GlusterFS: left alone",
                spec.mount_point
            ));
        }
        None => {
            std::fs::create_dir_all(mount_point)
                .map_err(|e| format!("mkdir {}: {e}", spec.mount_point))?;
            mount_volume(server, name, mount_point, backups).await?;
            status.actions.push(format!("mounted from {server}"));
        }
    }
    Ok(())
}

/// Writes `line` into `fstab` as the entry of `mount_point`, when it is not there yet.
fn keep_fstab_line(
    fstab: &Path,
    mount_point: &Path,
    line: &str,
    status: &mut VolumeStatus,
) -> Result<(), String> {
    let current = std::fs::read_to_string(fstab).unwrap_or_default();
    let wanted = mounts::with_fstab_line(&current, mount_point, line);
    if wanted != current {
        std::fs::write(fstab, wanted).map_err(|e| format!("{}: {e}", fstab.display()))?;
        status.actions.push(format!("fstab: {line}"));
    }
    Ok(())
}

/// The host whose agent makes the directories inside a volume: the first brick's. Only
/// one: right after a volume starts, two hosts making the same directory at the same
/// moment each reached a different set of bricks, and the directory got two gfids (a
/// gfid split-brain gluster never heals by itself; every file written under it then
/// waited to heal: the example's wordpress directory, in CI).
fn directory_maker(spec: &GlusterVolumeSpec) -> Option<&str> {
    spec.bricks.first().map(|brick| brick.node.as_str())
}

/// The declared directories inside the mounted volume, and the bind sources on it: made
/// (and their owner and mode kept) by the maker's agent; the others wait to see them.
fn make_volume_directories(
    desired: &Desired,
    spec: &GlusterVolumeSpec,
    local: &str,
    status: &mut VolumeStatus,
) -> Result<(), String> {
    let mount_point = Path::new(&spec.mount_point);
    let maker = directory_maker(spec).unwrap_or(local);
    let mut wanted: Vec<(PathBuf, Option<&str>, Option<&str>)> = spec
        .directories
        .iter()
        .map(|d| {
            let path = mount_point.join(&d.path);
            (path, d.owner.as_deref(), d.mode.as_deref())
        })
        .collect();
    // Bind sources on the volume must exist too, or the tasks mounting them fail.
    for (_, service) in desired.services() {
        for mount in service.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            let Some(source) = mount.source.as_deref().map(Path::new) else {
                continue;
            };
            if source.starts_with(mount_point) && !source.exists() && source.extension().is_none() {
                wanted.push((source.to_path_buf(), None, None));
            }
        }
    }
    for (path, owner, mode) in wanted {
        if maker == local {
            ensure_directory(&path, owner, mode, status)?;
        } else if !path.is_dir() {
            return Err(format!(
                "{} is not there yet: the agent on {maker} (the first brick's host) makes it",
                path.display()
            ));
        }
    }
    Ok(())
}

async fn mount_volume(
    server: &str,
    volume: &str,
    mount_point: &Path,
    backups: &[String],
) -> Result<(), String> {
    let source = format!("{server}:/{volume}");
    let target = mount_point.display().to_string();
    run(
        "mount",
        &[
            "-t",
            "glusterfs",
            "-o",
            &mounts::options(backups),
            &source,
            &target,
        ],
    )
    .await
}

fn ensure_directory(
    path: &Path,
    owner: Option<&str>,
    mode: Option<&str>,
    status: &mut VolumeStatus,
) -> Result<(), String> {
    if !path.is_dir() {
        std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        status.actions.push(format!("created {}", path.display()));
    }
    let metadata = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(owner) = owner {
        let (uid, gid) = match owner.split_once(':') {
            Some((uid, gid)) => (uid.parse().ok(), gid.parse().ok()),
            None => (owner.parse().ok(), None),
        };
        use std::os::unix::fs::MetadataExt;
        if uid.is_some_and(|u| u != metadata.uid()) || gid.is_some_and(|g| g != metadata.gid()) {
            std::os::unix::fs::chown(path, uid, gid)
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
            status
                .actions
                .push(format!("owner of {} set to {owner}", path.display()));
        }
    }
    if let Some(mode) = mode.and_then(|m| u32::from_str_radix(m, 8).ok())
        && metadata.permissions().mode() & 0o7777 != mode
    {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        status
            .actions
            .push(format!("mode of {} set to {mode:04o}", path.display()));
    }
    Ok(())
}

async fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The status endpoints over the latest pass: `/healthz` (200 `ok` when every volume is
/// mounted and desired-state loads, 503 `degraded` otherwise) and `/api/v1/status` (JSON);
/// and `POST /api/v1/probe`, the doctor's probes from this host (see [`probe`]).
pub fn router(shared: Arc<Mutex<AgentStatus>>) -> axum::Router {
    let health = shared.clone();
    axum::Router::new()
        .route(
            "/healthz",
            axum::routing::get(move || async move {
                let healthy = health.lock().map(|s| s.healthy()).unwrap_or(false);
                if healthy {
                    (axum::http::StatusCode::OK, "ok\n")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "degraded\n")
                }
            }),
        )
        .route(
            "/api/v1/status",
            axum::routing::get(move || async move {
                let status = shared.lock().map(|s| s.clone()).unwrap_or_default();
                axum::Json(status)
            }),
        )
        .route("/api/v1/probe", axum::routing::post(run_probes))
}

/// The doctor's probes, against this host's engine (the usual local socket, or
/// DOCKER_HOST).
async fn run_probes(
    axum::Json(request): axum::Json<probe::ProbeRequest>,
) -> Result<axum::Json<probe::ProbeReport>, (axum::http::StatusCode, String)> {
    let unavailable = |e: bollard::errors::Error| {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("this host's Docker Engine does not answer: {e}\n"),
        )
    };
    let docker = bollard::Docker::connect_with_defaults()
        .map_err(unavailable)?
        .negotiate_version()
        .await
        .map_err(unavailable)?;
    Ok(axum::Json(probe::probe(&docker, request).await))
}

/// Runs passes every `interval`, serving [`router`] on `listen`, until Ctrl-C / SIGINT.
pub async fn serve(options: AgentOptions, listen: std::net::SocketAddr) -> std::io::Result<()> {
    let shared = Arc::new(Mutex::new(AgentStatus::default()));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "agent listening");
    let app = router(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut last_good = None;
    loop {
        let status = reconcile(&options, &mut last_good).await;
        if let Ok(mut shared) = shared.lock() {
            *shared = status;
        }
        tokio::select! {
            _ = tokio::time::sleep(options.interval) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    server.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(address: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    /// A volume mounted (here: a plain directory) at `mount_point`, its first brick on
    /// node1, declaring `wordpress`, and a service binding `wordpress/uploads` from it.
    fn volume_at(mount_point: &Path) -> Desired {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "apiVersion: shoal/v1alpha1
kind: GlusterVolume
metadata: {{name: storage}}
spec:
  replica: 3
  bricks:
    - {{node: node1, path: /data/bricks/storage}}
    - {{node: node2, path: /data/bricks/storage}}
    - {{node: node3, path: /data/bricks/storage}}
  mountPoint: {}
  directories:
    - {{path: wordpress, mode: \"0750\"}}
---
apiVersion: shoal/v1alpha1
kind: Service
metadata: {{name: web}}
spec:
  image: nginx:1
  mounts:
    - {{type: bind, source: {}/wordpress/uploads, target: /uploads}}
",
            mount_point.display(),
            mount_point.display()
        );
        std::fs::write(dir.path().join("all.yaml"), yaml).unwrap();
        let validation = validate_dir(dir.path(), &ValidateOptions::default()).unwrap();
        assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
        validation.desired
    }

    #[test]
    fn only_the_first_bricks_host_makes_directories_the_others_wait_for_them() {
        let mount = tempfile::tempdir().unwrap();
        let desired = volume_at(mount.path());
        let (_, spec) = desired.gluster_volumes().next().unwrap();
        let mut status = VolumeStatus::default();
        let waiting = make_volume_directories(&desired, spec, "node2", &mut status);
        assert_eq!(
            waiting,
            Err(format!(
                "{}/wordpress is not there yet: the agent on node1 (the first brick's host) makes it",
                mount.path().display()
            ))
        );
        assert!(!mount.path().join("wordpress").exists());

        make_volume_directories(&desired, spec, "node1", &mut status).unwrap();
        let wordpress = mount.path().join("wordpress");
        assert_eq!(
            status.actions,
            [
                format!("created {}", wordpress.display()),
                format!("mode of {} set to 0750", wordpress.display()),
                format!("created {}/uploads", wordpress.display()),
            ]
        );
        let mut status = VolumeStatus::default();
        make_volume_directories(&desired, spec, "node3", &mut status).unwrap();
        assert!(status.actions.is_empty(), "{:?}", status.actions);
    }

    #[tokio::test]
    async fn status_endpoints_answer_with_the_latest_pass() {
        let shared = Arc::new(Mutex::new(AgentStatus {
            hostname: "node2".into(),
            volumes: vec![VolumeStatus {
                volume: "storage".into(),
                mount_point: "/data/storage".into(),
                mounted: false,
                last_error: Some("mount failed".into()),
                ..VolumeStatus::default()
            }],
            desired_error: None,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, router(shared.clone())).into_future());

        let health = get(address, "/healthz").await;
        assert!(health.starts_with("HTTP/1.1 503"), "{health}");
        assert!(health.ends_with("degraded\n"), "{health}");
        let status = get(address, "/api/v1/status").await;
        let body = status.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["volumes"][0]["last_error"], "mount failed");
        assert_eq!(json["hostname"], "node2");

        shared.lock().unwrap().volumes[0] = VolumeStatus {
            mounted: true,
            ..VolumeStatus::default()
        };
        let health = get(address, "/healthz").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        server.abort();
    }
}
