//! The steps of one delivery: verify and archive ([`ingest`]), normalize and store
//! ([`process`]), and end a subject's content ([`purge`]).

pub mod delivery;
pub mod ingest;
pub mod process;
pub mod purge;
