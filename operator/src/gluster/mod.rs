//! The GlusterFS side: the gluster CLI is the API (`gluster --mode=script --xml`), read
//! with a real XML parser.

pub mod apply;
pub mod cli;
pub mod ops;
pub mod xml;

/// The gluster answer recorded in the lab at tests/fixtures/gluster/`path`.
#[cfg(test)]
pub(crate) fn recorded(path: &str) -> String {
    let file = format!(
        "{}/../tests/fixtures/gluster/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}
