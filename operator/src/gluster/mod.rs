//! The GlusterFS side: the gluster CLI is the API (`gluster --mode=script --xml`), read
//! with a real XML parser.

pub mod apply;
pub mod cli;
pub mod observe;
pub mod xml;
