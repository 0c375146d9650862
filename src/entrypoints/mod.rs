//! The ways into the library, above the domain: the Lambda functions' glue, the wiring
//! that builds an ingest or a processor from the configuration, and what only the
//! command-line tool needs (local HTTP serving and queue draining, readable summaries,
//! argument parsers: the `cli` feature, on by default). Nothing below this folder depends
//! on it.

pub mod app;
#[cfg(feature = "cli")]
pub mod cli;
pub mod gateway;
pub mod lambda;
#[cfg(feature = "cli")]
pub mod local;
#[cfg(feature = "cli")]
pub mod report;
