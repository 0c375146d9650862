//! The steps of one delivery: verify and archive ([`ingest`]), normalize and store
//! ([`process`]), end a subject's content ([`purge`]), and tell of record changes
//! ([`notify`], [`publish`]).

pub mod delivery;
pub mod ingest;
pub mod notify;
pub mod process;
pub mod publish;
pub mod purge;
