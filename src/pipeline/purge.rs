//! Ending a subject's content (docs/behaviour.md#deletion-and-retention): on a deletion event under `PURGE_ON_DELETE`,
//! for a delivery arriving after that, and on demand (`scribehook purge`). The record and
//! the event documents keep ids, statuses, times, errors and `deleted_at`/`purged_at` and
//! lose every transcript, note, summary, concepts, SOAP and fetched output; overflow
//! objects, superseded object versions, archived deliveries and their conflict variants
//! are deleted, every version of them, in every configured store. Idempotent; logged
//! with ids and counts only; counted as `Purged`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::pipeline::process::Processor;
use crate::record::{Provider, Timestamp};
use crate::storage::records::purge_subject;
use crate::storage::{Fault, StoreError};
use crate::telemetry;

/// What a purge removed: counts and locations, never content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub provider: Provider,
    pub subject_id: String,
    /// Stores holding a record of the subject.
    pub records_found: usize,
    /// Records erased by this run (0 when they already were: the purge is idempotent).
    pub records_erased: usize,
    /// Event documents rewritten without their content.
    pub events_rewritten: usize,
    /// Archived deliveries and conflict variants deleted (every version).
    pub archived_deleted: Vec<String>,
    /// Overflow objects and superseded versions of record and event objects deleted.
    pub objects_deleted: Vec<String>,
}

impl PurgeReport {
    fn new(provider: Provider, subject_id: &str) -> Self {
        Self {
            provider,
            subject_id: subject_id.to_owned(),
            records_found: 0,
            records_erased: 0,
            events_rewritten: 0,
            archived_deleted: Vec::new(),
            objects_deleted: Vec::new(),
        }
    }

    /// Whether this run removed anything (a repeated purge removes nothing).
    pub fn removed_anything(&self) -> bool {
        self.records_erased > 0
            || self.events_rewritten > 0
            || !self.archived_deleted.is_empty()
            || !self.objects_deleted.is_empty()
    }
}

impl Processor {
    /// Erases the subject on demand (`scribehook purge`): marks its record in every store
    /// `purged_at` now (so nothing arriving later brings content back, whatever
    /// `PURGE_ON_DELETE` says), then purges its content everywhere.
    pub async fn purge(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<PurgeReport, StoreError> {
        let at: Timestamp = self.now();
        let mut ids = BTreeSet::new();
        let (mut found, mut erased) = (0, 0);
        for store in self.stores() {
            // Whether the last compare-and-swap attempt changed the record.
            let changed = std::sync::atomic::AtomicBool::new(false);
            let record = store
                .update_record(provider, subject_id, &|current| {
                    let next = current.and_then(|record| {
                        let mut record = record.clone();
                        record.erase(at).then_some(record)
                    });
                    changed.store(next.is_some(), std::sync::atomic::Ordering::Relaxed);
                    Ok(next)
                })
                .await?;
            if let Some(record) = record {
                found += 1;
                erased += usize::from(changed.load(std::sync::atomic::Ordering::Relaxed));
                ids.extend(record.events);
            }
        }
        let mut report = self.purge_content(provider, subject_id, ids).await?;
        report.records_found = found;
        report.records_erased = erased;
        // After the purge, not before: `Record Purged` says the content is gone.
        self.notify_current(provider, subject_id).await?;
        Ok(report)
    }

    /// Removes every copy of the subject's content the stores and the archive still hold;
    /// `event_ids` (with the events found in the stores) name the archived deliveries.
    pub(crate) async fn purge_content(
        &self,
        provider: Provider,
        subject_id: &str,
        mut event_ids: BTreeSet<String>,
    ) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::new(provider, subject_id);
        let mut tombstones = std::collections::BTreeMap::new();
        for store in self.stores() {
            let purged = purge_subject(store.as_ref(), provider, subject_id).await?;
            report.events_rewritten += purged.events_rewritten;
            report.objects_deleted.extend(purged.deleted);
            event_ids.extend(purged.event_ids);
            for event in purged.tombstones {
                tombstones.entry(event.event_id.clone()).or_insert(event);
            }
        }
        event_ids.extend(
            self.quarantined_of(provider, subject_id, &event_ids)
                .await?,
        );
        // Mark before erasing: a queued message names either an archived delivery or a
        // tombstone, never nothing.
        for (event_id, tombstone) in &tombstones {
            if self.archive().get(provider, event_id).await?.is_some() {
                self.archive().mark_erased(tombstone).await?;
            }
        }
        for event_id in &event_ids {
            let erased = self.archive().erase(provider, event_id).await?;
            report.archived_deleted.extend(erased);
        }
        if report.removed_anything() {
            tracing::info!(
                provider = provider.as_str(),
                subject_id,
                outcome = "purged",
                events_rewritten = report.events_rewritten,
                archived_deleted = report.archived_deleted.len(),
                objects_deleted = report.objects_deleted.len(),
                "{provider} subject content purged"
            );
            telemetry::count(provider.as_str(), telemetry::Metric::Purged);
        }
        Ok(report)
    }

    /// The subject's quarantined deliveries: those of its stored events, and those no store
    /// holds (quarantined before anything was written) whose archived body names the
    /// subject. A delivery this release cannot parse names no subject it could match.
    async fn quarantined_of(
        &self,
        provider: Provider,
        subject_id: &str,
        event_ids: &BTreeSet<String>,
    ) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for entry in self.archive().quarantined(provider).await? {
            let ours = event_ids.contains(&entry.event_id)
                || self
                    .archived_subject(provider, &entry.event_id)
                    .await?
                    .as_deref()
                    == Some(subject_id);
            if ours {
                found.push(entry.event_id);
            }
        }
        Ok(found)
    }

    /// The subject an archived delivery names, when this release can read it.
    async fn archived_subject(
        &self,
        provider: Provider,
        event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let delivery = match self.archive().get(provider, event_id).await {
            Ok(Some(delivery)) => delivery,
            // Gone, or an object that is no archived delivery: it names no subject.
            Ok(None) => return Ok(None),
            Err(e) if e.fault == Fault::Permanent => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(body) = delivery.body() else {
            return Ok(None);
        };
        Ok(provider
            .normalize(&delivery.header_map(), &body)
            .ok()
            .map(|draft| draft.subject_id))
    }
}
