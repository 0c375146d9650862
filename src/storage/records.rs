//! Record stores: where normalized events and merged records are written (`STORE`). Each
//! merge is a compare-and-swap loop (read the record and its version, fold, write only if
//! the version is unchanged, else re-read and re-fold), so two instances merging the same
//! subject at once both land in the record.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{key_segment, Blobs, Condition, Put, StoreError};
use crate::merge::Record;
use crate::normalized::NormalizedEvent;
use crate::providers::Provider;

/// How many times a compare-and-swap is retried before the write is reported as failed
/// (and the SQS message retried later).
pub const MAX_ATTEMPTS: u32 = 12;

/// Decides the new record from the stored one: `Ok(None)` when nothing needs writing.
pub type Update<'a> =
    dyn Fn(Option<&Record>) -> Result<Option<Record>, StoreError> + Send + Sync + 'a;

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Writes the normalized event (idempotent: an event id always carries one content).
    async fn put_event(&self, event: &NormalizedEvent) -> Result<(), StoreError>;
    /// Applies `update` to the subject's record with optimistic concurrency.
    async fn update_record(
        &self,
        provider: Provider,
        subject_id: &str,
        update: &Update<'_>,
    ) -> Result<Option<Record>, StoreError>;
    async fn get_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<Record>, StoreError>;
    /// `s3://…`, `file://…`, `dynamodb://…`, for logs.
    fn describe(&self) -> String;
}

/// Folds one event into its subject's record.
pub async fn merge_event(
    store: &dyn RecordStore,
    event: &NormalizedEvent,
) -> Result<Option<Record>, StoreError> {
    store
        .update_record(event.provider, &event.subject_id, &|current| {
            let mut record = current.cloned().unwrap_or_else(|| Record::new(event));
            let before = current.is_some().then(|| record.clone());
            record.fold(event);
            // A redelivered event folds to the same record: skip the write.
            Ok((before.as_ref() != Some(&record)).then_some(record))
        })
        .await
}

/// A short, jittered pause between compare-and-swap attempts, growing with the attempt.
pub(crate) async fn backoff(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let base = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(
        base + u64::from(nanos % 10) * base / 10,
    ))
    .await;
}

pub(crate) fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Bytes, StoreError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| StoreError::new(format!("encode {what}"), e))
}

pub(crate) fn decode_record(what: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::new(format!("{what} is not a schema-v1 record"), e))
}

/// The S3 and file stores: contract §4's layout over a [`Blobs`].
pub struct BlobRecordStore {
    blobs: Arc<dyn Blobs>,
}

impl BlobRecordStore {
    pub fn new(blobs: Arc<dyn Blobs>) -> Self {
        Self { blobs }
    }

    pub fn record_key(provider: Provider, subject_id: &str) -> String {
        format!("records/{provider}/{}/record.json", key_segment(subject_id))
    }

    /// Every record in the store (for `scribehook records`), in key order.
    pub async fn records(&self) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        for key in self.blobs.list("records/").await? {
            if key.ends_with("/record.json") {
                if let Some((bytes, _)) = self.blobs.get(&key).await? {
                    records.push(decode_record(&key, &bytes)?);
                }
            }
        }
        Ok(records)
    }

    pub fn event_key(provider: Provider, subject_id: &str, event_id: &str) -> String {
        format!(
            "records/{provider}/{}/events/{}.json",
            key_segment(subject_id),
            key_segment(event_id)
        )
    }
}

#[async_trait]
impl RecordStore for BlobRecordStore {
    async fn put_event(&self, event: &NormalizedEvent) -> Result<(), StoreError> {
        let key = Self::event_key(event.provider, &event.subject_id, &event.event_id);
        self.blobs
            .put(&key, encode("event", event)?, Condition::Always)
            .await?;
        Ok(())
    }

    async fn update_record(
        &self,
        provider: Provider,
        subject_id: &str,
        update: &Update<'_>,
    ) -> Result<Option<Record>, StoreError> {
        let key = Self::record_key(provider, subject_id);
        for attempt in 0..MAX_ATTEMPTS {
            let (current, condition) = match self.blobs.get(&key).await? {
                Some((bytes, version)) => (
                    Some(decode_record(&key, &bytes)?),
                    Condition::IfMatch(version),
                ),
                None => (None, Condition::IfAbsent),
            };
            let Some(next) = update(current.as_ref())? else {
                return Ok(current);
            };
            match self
                .blobs
                .put(&key, encode("record", &next)?, condition)
                .await?
            {
                Put::Written => return Ok(Some(next)),
                Put::ConditionFailed => backoff(attempt).await,
            }
        }
        Err(StoreError::new(
            format!("merge {}", self.blobs.location(&key)),
            format!("the record kept changing under {MAX_ATTEMPTS} attempts"),
        ))
    }

    async fn get_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<Record>, StoreError> {
        let key = Self::record_key(provider, subject_id);
        match self.blobs.get(&key).await? {
            Some((bytes, _)) => decode_record(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn describe(&self) -> String {
        self.blobs.location("records")
    }
}
