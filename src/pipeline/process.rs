//! From an archived delivery to records: parse, fetch what the event points to, normalize,
//! then write the event and fold it into its subject's record in every configured store.
//! Used by the SQS processor, by the ingest when no queue is configured, and by replay.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::pipeline::notify::{merge_noting, Change, Notifier};
use crate::providers::daily::outputs::Fetcher;
use crate::providers::daily::sources::FetchError;
use crate::providers::MalformedEvent;
use crate::record::{merge_with, OnDelete, Record};
use crate::record::{
    system_clock, Clock, ErrorInfo, EventDraft, NormalizedEvent, Provider, Timestamp,
};
use crate::storage::archive::{Archive, ArchivedDelivery, Quarantined};
use crate::storage::records::{merge_event, RecordStore};
use crate::storage::{Fault, StoreError};

/// Which archived delivery to process: the SQS message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryId {
    pub provider: Provider,
    pub event_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A dependency failed: retryable unless the store refused this value for good.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Retryable: an output could not be read for a reason a retry may fix.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Retried: the message may have overtaken the archive write it names (and after the
    /// queue's receive count it rests in the dead-letter queue).
    #[error("{provider}/{event_id} is not in the archive")]
    NotArchived {
        provider: Provider,
        event_id: String,
    },
    /// Not retryable until the parser changes (then: replay).
    #[error("{0}")]
    Malformed(#[from] MalformedEvent),
}

impl ProcessError {
    /// Whether retrying the same message can succeed (docs/behaviour.md#failure-classes); the others are
    /// quarantined.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProcessError::Store(e) => e.fault != Fault::Permanent,
            ProcessError::Fetch(_) | ProcessError::NotArchived { .. } => true,
            ProcessError::Malformed(_) => false,
        }
    }

    /// The error code a quarantine entry records.
    pub fn code(&self) -> &'static str {
        match self {
            ProcessError::Malformed(e) => e.code,
            ProcessError::Store(_) => "store_refused",
            ProcessError::Fetch(_) => "fetch_failed",
            ProcessError::NotArchived { .. } => "not_archived",
        }
    }
}

/// What processing a delivery came to, when no retry is called for.
#[derive(Debug)]
pub enum Processed {
    Written(Box<NormalizedEvent>),
    /// No retry can process it with this release: marked beside the archive (at
    /// `location`) for `scribehook replay` after a fix, and acknowledged.
    Quarantined {
        location: String,
        code: &'static str,
    },
}

pub struct Processor {
    archive: Archive,
    stores: Vec<Arc<dyn RecordStore>>,
    fetcher: Fetcher,
    clock: Clock,
    on_delete: OnDelete,
    notifier: Option<Arc<dyn Notifier>>,
}

impl Processor {
    pub fn new(archive: Archive, stores: Vec<Arc<dyn RecordStore>>, fetcher: Fetcher) -> Self {
        Self {
            archive,
            stores,
            fetcher,
            clock: system_clock(),
            on_delete: OnDelete::default(),
            notifier: None,
        }
    }

    /// The same processor telling `notifier` of every record change
    /// (docs/behaviour.md#record-notifications-eventbridge); without one, nothing is told.
    pub fn with_notifier(mut self, notifier: Option<Arc<dyn Notifier>>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Where record changes are told, when anywhere.
    pub fn notifier(&self) -> Option<&Arc<dyn Notifier>> {
        self.notifier.as_ref()
    }

    /// The same processor with `PURGE_ON_DELETE`'s policy (default: purge).
    pub fn with_on_delete(mut self, on_delete: OnDelete) -> Self {
        self.on_delete = on_delete;
        self
    }

    /// What a deletion does to its subject's content.
    pub fn on_delete(&self) -> OnDelete {
        self.on_delete
    }

    /// The same processor reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The processor's "now" (end-to-end latency is measured against it).
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    pub fn stores(&self) -> &[Arc<dyn RecordStore>] {
        &self.stores
    }

    /// Processes the archived delivery named by `id`.
    pub async fn process(&self, id: &DeliveryId) -> Result<NormalizedEvent, ProcessError> {
        let Some(delivery) = self.archive.get(id.provider, &id.event_id).await? else {
            // A delivery erased by a purge (docs/behaviour.md#deletion-and-retention) is done: its tombstone stands in.
            if let Some(tombstone) = self.archive.erased(id.provider, &id.event_id).await? {
                if let Some(change) = Box::pin(self.write(&tombstone)).await? {
                    Box::pin(self.notify(&change)).await?;
                }
                return Ok(tombstone);
            }
            return Err(ProcessError::NotArchived {
                provider: id.provider,
                event_id: id.event_id.clone(),
            });
        };
        let event = self.normalize(&delivery).await?;
        self.record(id, &event).await?;
        Ok(event)
    }

    /// Processes the delivery, quarantining it when no retry can succeed (docs/behaviour.md#failure-classes).
    /// `Err` only for failures a retry may fix, including a failed quarantine write.
    pub async fn handle(&self, id: &DeliveryId) -> Result<Processed, ProcessError> {
        let processed = self.process(id).await;
        self.settle(id, processed).await
    }

    /// [`Self::handle`] for a delivery the ingest has just archived (`Created::New`), from
    /// the draft it parsed on the way: the archive is not read back nor its body decoded
    /// and parsed again. The draft must be of the archived body, received at `received_at`.
    pub async fn handle_fresh(
        &self,
        id: &DeliveryId,
        draft: EventDraft,
        received_at: Timestamp,
    ) -> Result<Processed, ProcessError> {
        let processed = async {
            let event = self
                .complete(id, draft, received_at)
                .instrument(crate::telemetry::stage("finish event"))
                .await?;
            self.record(id, &event).await?;
            Ok(event)
        };
        let processed = processed.await;
        self.settle(id, processed).await
    }

    /// Writes the delivery's event into every store, tells of the record's change, then
    /// marks the delivery processed (a redelivery is then answered without another run).
    /// A notification not confirmed fails the delivery, so it is retried and told again
    /// (docs/behaviour.md#revisions-and-publication).
    async fn record(&self, id: &DeliveryId, event: &NormalizedEvent) -> Result<(), StoreError> {
        // Boxed: the write and the telling are large state machines, and inline processing
        // runs inside the ingest's own future (a test runtime polls it on a 2 MiB stack).
        if let Some(change) = Box::pin(self.write(event)).await? {
            Box::pin(self.notify(&change)).await?;
        }
        self.archive
            .mark_processed(id.provider, &id.event_id, self.now())
            .await
    }

    /// A processing result as [`Self::handle`] reports it: what no retry can fix is
    /// quarantined.
    async fn settle(
        &self,
        id: &DeliveryId,
        processed: Result<NormalizedEvent, ProcessError>,
    ) -> Result<Processed, ProcessError> {
        let err = match processed {
            Ok(event) => return Ok(Processed::Written(Box::new(event))),
            Err(err) if err.is_retryable() => return Err(err),
            Err(err) => err,
        };
        let entry = Quarantined {
            provider: id.provider,
            event_id: id.event_id.clone(),
            quarantined_at: self.now(),
            error: ErrorInfo {
                code: err.code().to_owned(),
                message: err.to_string(),
            },
            raw_location: self.archive.location(id.provider, &id.event_id),
        };
        let location = self.archive.quarantine(&entry).await?;
        self.notify_quarantined(&entry, &location).await?;
        Ok(Processed::Quarantined {
            location,
            code: err.code(),
        })
    }

    /// The normalized event of an archived delivery, with its outputs fetched.
    pub async fn normalize(
        &self,
        delivery: &ArchivedDelivery,
    ) -> Result<NormalizedEvent, ProcessError> {
        let body = delivery.body()?;
        let draft = delivery.provider.normalize(&delivery.header_map(), &body)?;
        let id = DeliveryId {
            provider: delivery.provider,
            event_id: delivery.event_id.clone(),
        };
        self.complete(&id, draft, delivery.received_at).await
    }

    /// A parsed delivery's normalized event, under the archive's identity, with its
    /// outputs fetched.
    async fn complete(
        &self,
        id: &DeliveryId,
        mut draft: EventDraft,
        received_at: Timestamp,
    ) -> Result<NormalizedEvent, ProcessError> {
        // The archive key is the identity the ingest decided on; keep them equal.
        draft.event_id.clone_from(&id.event_id);
        let location = self.archive.location(id.provider, &id.event_id);
        let mut event = draft.finish(id.provider, received_at, Some(location));
        self.fetcher.enrich(&mut event).await?;
        Ok(event)
    }

    /// Writes the event and folds it into its record, in every store. When that record's
    /// content has ended (a deletion under `PURGE_ON_DELETE`, or an erasure), the subject's
    /// content is purged everywhere, this event's archived delivery included (docs/behaviour.md#deletion-and-retention).
    /// Returns the record of the first store, the one notifications are counted in.
    pub async fn write(&self, event: &NormalizedEvent) -> Result<Option<Box<Change>>, StoreError> {
        let mut ended = BTreeSet::new();
        let mut primary = None;
        for (index, store) in self.stores.iter().enumerate() {
            store.put_event(event).await?;
            // Only the ids of an ended record are kept: the record itself (its content
            // included) is not copied.
            if index == 0 {
                let notifying = self.notifier.is_some();
                primary = merge_noting(store.as_ref(), event, self.on_delete, notifying).await?;
                if let Some(change) = &primary {
                    note_ended(&change.record, self.on_delete, &mut ended);
                }
            } else if let Some(record) = merge_event(store.as_ref(), event, self.on_delete).await? {
                note_ended(&record, self.on_delete, &mut ended);
            }
        }
        if !ended.is_empty() {
            ended.insert(event.event_id.clone());
            self.purge_content(event.provider, &event.subject_id, ended)
                .await?;
        }
        Ok(primary)
    }

    /// Re-processes archived deliveries (after a parser fix or a schema change): every
    /// subject touched by a delivery received at or after `since` gets its events rewritten
    /// and its record rebuilt from all of its archived deliveries. Idempotent.
    pub async fn replay(
        &self,
        providers: &[Provider],
        since: Option<Timestamp>,
    ) -> Result<ReplayReport, StoreError> {
        let mut report = ReplayReport::default();
        for &provider in providers {
            let mut events: Vec<NormalizedEvent> = Vec::new();
            let mut touched = BTreeSet::new();
            // Quarantined deliveries are replayed whatever --since says: that is what
            // replay after a fix is for.
            let quarantined: BTreeSet<String> = self
                .archive
                .quarantined(provider)
                .await?
                .into_iter()
                .map(|q| q.event_id)
                .collect();
            for event_id in self.archive.list(provider).await? {
                let Some(delivery) = self.archive.get(provider, &event_id).await? else {
                    continue;
                };
                report.deliveries += 1;
                match self.normalize(&delivery).await {
                    Ok(event) => {
                        if since.is_none_or(|s| delivery.received_at >= s)
                            || quarantined.contains(&event.event_id)
                        {
                            touched.insert(event.subject_id.clone());
                        }
                        events.push(event);
                    }
                    Err(ProcessError::Store(e)) => return Err(e),
                    Err(e) => report.skipped.push(format!("{provider}/{event_id}: {e}")),
                }
            }
            let mut by_subject: BTreeMap<&str, Vec<&NormalizedEvent>> = BTreeMap::new();
            for event in &events {
                if touched.contains(&event.subject_id) {
                    by_subject.entry(&event.subject_id).or_default().push(event);
                }
            }
            for (subject, subject_events) in by_subject {
                for store in &self.stores {
                    for event in &subject_events {
                        store.put_event(event).await?;
                    }
                    let rebuilt = self
                        .rebuild(store.as_ref(), provider, subject, &subject_events)
                        .await?;
                    if let Some(record) = rebuilt.filter(|r| r.content_ended(self.on_delete)) {
                        self.purge_content(provider, subject, record.events).await?;
                    }
                }
                // A rebuilt record is told like a first delivery's.
                self.notify_current(provider, subject).await?;
                for event in subject_events
                    .iter()
                    .filter(|e| quarantined.contains(&e.event_id))
                {
                    self.archive.release(provider, &event.event_id).await?;
                    report.released += 1;
                }
                report.events += subject_events.len();
                report.records += 1;
            }
        }
        Ok(report)
    }

    async fn rebuild(
        &self,
        store: &dyn RecordStore,
        provider: Provider,
        subject: &str,
        events: &[&NormalizedEvent],
    ) -> Result<Option<Record>, StoreError> {
        let rebuilt = merge_with(events.iter().copied(), self.on_delete);
        store
            .update_record(provider, subject, &|current| {
                // An event folded in by live processing since the archive was listed would
                // be lost by replacing the record; fold it back instead of dropping it.
                let mut next = rebuilt.clone();
                if let (Some(current), Some(next)) = (current, next.as_mut()) {
                    // An erasure outlives every rebuild, and so does what was told of it.
                    if let Some(at) = current.purged_at {
                        next.erase(at);
                    }
                    next.notified.clone_from(&current.notified);
                    if current.events.iter().any(|id| !next.events.contains(id)) {
                        return Err(StoreError::new(
                            format!("replay {provider}/{subject}"),
                            "the record received new events during replay; run replay again",
                        ));
                    }
                    if current.same_content(next) {
                        return Ok(None);
                    }
                }
                Ok(next)
            })
            .await
    }
}

/// Adds the events of `record` to `ended` when its content has ended under `policy`.
fn note_ended(record: &Record, policy: OnDelete, ended: &mut BTreeSet<String>) {
    if record.content_ended(policy) {
        ended.extend(record.events.iter().cloned());
    }
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Archived deliveries read.
    pub deliveries: usize,
    /// Events rewritten.
    pub events: usize,
    /// Records rebuilt.
    pub records: usize,
    /// Quarantined deliveries now processed (their quarantine entries removed).
    pub released: usize,
    /// Deliveries that still cannot be parsed, with the reason.
    pub skipped: Vec<String>,
}
