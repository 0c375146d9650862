//! scribehook: webhooks from clinical transcription and AI-scribe providers, verified on
//! their raw bytes, archived, normalized into one record format and merged per encounter.
//! `docs/architecture.md` draws one delivery's path through these modules;
//! `docs/behaviour.md` says what they promise.
//!
//! - [`providers`]: one description (`Spec`) per provider: its signature
//!   schemes, event model and mapping; Daily's output fetch, access links and transcript
//!   readers under `providers::daily`.
//! - [`record`]: the public format: the normalized event, the record, the fold.
//! - [`pipeline`]: the steps of one delivery: ingest (verify, archive, dispatch), process
//!   (normalize, fetch, store), purge.
//! - [`storage`]: the archive and the record stores behind small traits (S3, DynamoDB,
//!   local files).
//! - [`signature`]: shared verification primitives (strict headers, window, digests).
//! - [`aws`]: the AWS SDK behind the capabilities the pipeline asks for; [`config`] the
//!   environment; [`telemetry`] logs and metrics; [`entrypoints`] the Lambda glue, the
//!   wiring and what only the CLI needs.

pub mod aws;
pub mod config;
pub mod entrypoints;
pub mod pipeline;
pub mod providers;
pub mod record;
pub mod signature;
pub mod storage;
pub mod telemetry;

pub use providers::{Provider, SignOptions};
pub use record::{merge, NormalizedEvent, OnDelete, Record, Timestamp};
pub use signature::{VerifyError, Window};
