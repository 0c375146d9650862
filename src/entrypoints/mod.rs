//! The ways into the library, above the domain: the Lambda functions' glue, the wiring
//! that builds an ingest or a processor from the configuration, and what only the
//! command-line tool needs (local HTTP serving and queue draining, readable summaries,
//! argument parsers). Nothing below this folder depends on it.

pub mod app;
pub mod cli;
pub mod gateway;
pub mod lambda;
pub mod local;
pub mod report;
