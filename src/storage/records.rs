//! Record stores: where normalized events and merged records are written (`STORE`). Each
//! merge is a compare-and-swap loop (read the record and its version, fold, write only if
//! the version is unchanged, else re-read and re-fold), so two instances merging the same
//! subject at once both land in the record.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{key_segment, Blobs, Condition, Erase, Put, StoreError, Version};
use crate::record::NormalizedEvent;
use crate::record::Provider;
use crate::record::{OnDelete, Record, Shared, Transcript};

/// How many times a compare-and-swap is retried before the write is reported as failed
/// (and the SQS message retried later).
pub const MAX_ATTEMPTS: u32 = 12;

/// What purging one subject removed from one store (docs/behaviour.md#deletion-and-retention): counts and keys, never
/// content.
#[derive(Clone, Debug, Default)]
pub struct Purged {
    /// Event documents rewritten without their content.
    pub events_rewritten: usize,
    /// The ids of the subject's stored events (their archived deliveries go too).
    pub event_ids: BTreeSet<String>,
    /// The subject's events as they now are: content-free.
    pub tombstones: Vec<NormalizedEvent>,
    /// Objects of which every version, or every superseded version, was deleted.
    pub deleted: Vec<String>,
}

/// Where a store keeps a subject's record, as a consumer of notifications reads it back
/// (docs/behaviour.md#record-notifications-eventbridge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordLocation {
    /// A DynamoDB item: the table and the item's key.
    Table {
        name: String,
        pk: String,
        sk: String,
    },
    /// An object: `s3://bucket/key` or `file:///dir/key`.
    Object(String),
}

/// Decides the new record from the stored one: `Ok(None)` when nothing needs writing.
pub type Update<'a> =
    dyn Fn(Option<&Record>) -> Result<Option<Record>, StoreError> + Send + Sync + 'a;

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Writes the normalized event (idempotent: an event id always carries one content).
    async fn put_event(&self, event: &NormalizedEvent) -> Result<(), StoreError>;
    /// The subject's record and the version it was read at.
    async fn read_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<(Record, Version)>, StoreError>;
    /// Writes `record` only if the stored version is still `expected` (`None`: only if
    /// there is no record yet). `Ok(false)` when that condition did not hold.
    async fn write_record(
        &self,
        provider: Provider,
        subject_id: &str,
        record: &Record,
        expected: Option<&Version>,
    ) -> Result<bool, StoreError>;
    /// `s3://…`, `file://…`, `dynamodb://…`, for logs.
    fn describe(&self) -> String;

    /// Where the subject's record is, for notifications; `None` when it cannot be named.
    fn record_location(&self, _provider: Provider, _subject_id: &str) -> Option<RecordLocation> {
        None
    }

    /// Every record in the store (`scribehook records`, `scribehook notify --pending`). A
    /// store that cannot list its records says so.
    async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        Err(StoreError::permanent(
            format!("list the records in {}", self.describe()),
            "this record store cannot list its records",
        ))
    }

    /// The subject's stored events, for the purge walk ([`purge_subject`]), each with
    /// whether its stored form must be rewritten whatever it holds (it points at an overflow
    /// object). A store that cannot purge says so rather than keeping content silently.
    async fn subject_events(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<(NormalizedEvent, bool)>, StoreError> {
        Err(StoreError::permanent(
            format!("purge {provider}/{subject_id} in {}", self.describe()),
            "this record store cannot purge",
        ))
    }

    /// Once the subject's events are rewritten, deletes every other copy of its content
    /// this store holds (superseded object versions, overflow objects nothing points to);
    /// returns the locations deleted.
    async fn erase_leftovers(
        &self,
        _provider: Provider,
        _subject_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn get_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self
            .read_record(provider, subject_id)
            .await?
            .map(|(record, _)| record))
    }

    /// Applies `update` to the subject's record: read it with its version, compute the new
    /// one, write it if the version is unchanged, otherwise start over.
    async fn update_record(
        &self,
        provider: Provider,
        subject_id: &str,
        update: &Update<'_>,
    ) -> Result<Option<Record>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (record, version) = match self.read_record(provider, subject_id).await? {
                Some((record, version)) => (Some(record), Some(version)),
                None => (None, None),
            };
            let Some(mut next) = update(record.as_ref())? else {
                return Ok(record);
            };
            // The revision counts the writes that change what the record says; one that only
            // notes what was notified keeps it (docs/behaviour.md#revisions-and-publication).
            let revision = record.as_ref().map_or(0, |r| r.revision);
            next.revision = match &record {
                Some(current) if current.same_content(&next) => revision,
                _ => revision + 1,
            };
            if self
                .write_record(provider, subject_id, &next, version.as_ref())
                .await?
            {
                return Ok(Some(next));
            }
            backoff(attempt).await;
        }
        Err(StoreError::new(
            format!("merge {provider}/{subject_id} in {}", self.describe()),
            format!("the record kept changing under {MAX_ATTEMPTS} attempts"),
        ))
    }
}

/// Folds one event into its subject's record under `policy`.
pub async fn merge_event(
    store: &dyn RecordStore,
    event: &NormalizedEvent,
    policy: OnDelete,
) -> Result<Option<Record>, StoreError> {
    store
        .update_record(event.provider, &event.subject_id, &|current| {
            let _fold = crate::telemetry::stage("fold").entered();
            let mut record = current.cloned().unwrap_or_else(|| Record::new(event));
            let before = current.is_some().then(|| record.clone());
            record.fold_with(event, policy);
            // A redelivered event folds to the same record: skip the write.
            Ok((before.as_ref() != Some(&record)).then_some(record))
        })
        .await
}

/// Rewrites every stored event of the subject without its content and deletes every other
/// copy of content the store holds for it (superseded object versions, overflow objects).
/// The record itself is stripped by the fold (or [`Record::erase`]) before. Idempotent.
pub async fn purge_subject(
    store: &dyn RecordStore,
    provider: Provider,
    subject_id: &str,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    for (mut event, points_elsewhere) in store.subject_events(provider, subject_id).await? {
        purged.event_ids.insert(event.event_id.clone());
        if event.content.has_content() || points_elsewhere {
            event.content.strip();
            store.put_event(&event).await?;
            purged.events_rewritten += 1;
        }
        purged.tombstones.push(event);
    }
    purged.deleted = store.erase_leftovers(provider, subject_id).await?;
    Ok(purged)
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

/// A value as JSON, into a buffer of `capacity` bytes to begin with: a document of megabytes
/// is then not grown (and copied) by doubling from 128 bytes. A transcript already encoded
/// into an earlier document is copied from it (`record::Shared`).
fn encode_sized<T: serde::Serialize>(
    what: &str,
    value: &T,
    capacity: usize,
) -> Result<Bytes, StoreError> {
    crate::record::encode_json(value, capacity)
        .map_err(|e| StoreError::permanent(format!("encode {what}"), e))
}

/// A guess at the encoded size of a document carrying `transcripts` (the bulk of any large
/// document): their text and segments, with room for field names and numbers. Too small a
/// guess only costs the growth it was meant to save.
fn size_hint<'a>(transcripts: impl Iterator<Item = &'a Transcript>) -> usize {
    const SEGMENT_FIELDS: usize = 112;
    let text: usize = transcripts
        .map(|t| {
            t.text.as_ref().map_or(0, String::len)
                + t.segments
                    .iter()
                    .map(|s| s.text.len() + s.speaker.as_ref().map_or(0, String::len))
                    .sum::<usize>()
                + t.segments.len() * SEGMENT_FIELDS
        })
        .sum();
    text + text / 8 + 4096
}

/// The transcripts that will be serialized, not copied from an earlier document.
fn unencoded<'a>(
    transcripts: impl Iterator<Item = &'a Shared<Transcript>>,
) -> impl Iterator<Item = &'a Transcript> {
    transcripts.filter(|t| !t.is_encoded()).map(|t| &**t)
}

/// An event as JSON, its buffer sized for its transcript.
pub(crate) fn encode_event(event: &NormalizedEvent) -> Result<Bytes, StoreError> {
    let hint = size_hint(unencoded(event.content.transcript.iter()));
    encode_sized("event", event, hint)
}

/// A record as JSON, its buffer sized for the transcripts of its components.
pub(crate) fn encode_record(record: &Record) -> Result<Bytes, StoreError> {
    let hint = size_hint(unencoded(
        record
            .components
            .iter()
            .filter_map(|c| c.content.transcript.as_ref()),
    ));
    encode_sized("record", record, hint)
}

pub(crate) fn decode_record(what: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::permanent(format!("{what} is not a schema-v1 record"), e))
}

/// The S3 and file stores: the layout of docs/behaviour.md#storage-layout over a [`Blobs`].
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
        let bytes = crate::telemetry::stage("encode event").in_scope(|| encode_event(event))?;
        self.blobs.put(&key, bytes, Condition::Always).await?;
        Ok(())
    }

    async fn read_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<(Record, Version)>, StoreError> {
        let key = Self::record_key(provider, subject_id);
        match self.blobs.get(&key).await? {
            Some((bytes, version)) => Ok(Some((decode_record(&key, &bytes)?, version))),
            None => Ok(None),
        }
    }

    async fn write_record(
        &self,
        provider: Provider,
        subject_id: &str,
        record: &Record,
        expected: Option<&Version>,
    ) -> Result<bool, StoreError> {
        let condition = match expected {
            Some(version) => Condition::IfMatch(version.clone()),
            None => Condition::IfAbsent,
        };
        let key = Self::record_key(provider, subject_id);
        let bytes = crate::telemetry::stage("encode record").in_scope(|| encode_record(record))?;
        Ok(self.blobs.put(&key, bytes, condition).await? == Put::Written)
    }

    fn describe(&self) -> String {
        self.blobs.location("records")
    }

    fn record_location(&self, provider: Provider, subject_id: &str) -> Option<RecordLocation> {
        let key = Self::record_key(provider, subject_id);
        Some(RecordLocation::Object(self.blobs.location(&key)))
    }

    async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        self.records().await
    }

    async fn subject_events(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<(NormalizedEvent, bool)>, StoreError> {
        let prefix = format!("records/{provider}/{}/events/", key_segment(subject_id));
        let mut events = Vec::new();
        for key in self.blobs.list(&prefix).await? {
            if let Some((bytes, _)) = self.blobs.get(&key).await? {
                let event = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::permanent(format!("{key} is not an event"), e))?;
                events.push((event, false));
            }
        }
        Ok(events)
    }

    async fn erase_leftovers(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        // The versions the stripped event and record documents replaced.
        let subject = format!("records/{provider}/{}/", key_segment(subject_id));
        let erased = self.blobs.erase(Erase::Superseded(&subject)).await?;
        Ok(erased.iter().map(|key| self.blobs.location(key)).collect())
    }
}
