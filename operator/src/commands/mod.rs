//! What each CLI subcommand does, from parsed arguments to printed output and exit code.

pub mod agent;
pub mod apply;
pub mod doctor;
pub mod import;
pub mod logging;
pub mod plan;
pub mod run;
pub mod schema;
pub mod status;
pub mod validate;
