//! The record format: the normalized event of one delivery, the record of one encounter,
//! and the order-independent fold of events into records.

mod content;
mod event;
mod fold;
mod provider;
mod shared;

pub use event::*;
pub use fold::*;
pub(crate) use shared::encode_json;
pub use shared::Shared;
