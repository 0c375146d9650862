//! scribehook: webhooks from clinical transcription and AI-scribe providers (Daily, Bota,
//! Nabla, Prosa), verified on their raw bytes, archived, normalized into one record format
//! and merged per encounter.
//!
//! - [`signature`]: shared verification primitives (strict headers, window, digests).
//! - [`providers`]: one module per provider: signature scheme, event model, mapping.
//! - [`normalized`]: the public schema-v1 event format.
//! - [`merge`]: the order-independent fold of events into a record.
//! - [`transcript`]: Daily's output files (Deepgram JSON, WebVTT, SRT, txt, SOAP JSON).
//! - [`storage`]: archive and record stores (S3, DynamoDB, local files).
//! - [`purge`]: ending a subject's content (deletion events, `scribehook purge`).
//! - [`ingest`], [`process`], [`fetch`]: the delivery path ([`daily_api`]: Daily's
//!   access links for outputs kept in Daily's storage); [`lambda`] and [`app`] wire it
//!   to Lambda and AWS; [`telemetry`] logs and metrics; [`config`] the environment.

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
