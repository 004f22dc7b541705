//! Facts about the host shoal runs on.

/// The host's name, as `hostname` prints it (its UTS namespace's): the agent reports it,
/// gluster peers are matched against it, and it starts the default lease identity.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}
