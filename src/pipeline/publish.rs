//! Publishing record notifications (docs/behaviour.md#revisions-and-publication): the
//! processor's side of [`notify`](crate::pipeline::notify): after a change, put what is
//! due, then note it confirmed in the first store; `Delivery Quarantined`; and
//! `scribehook notify --pending`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::pipeline::notify::{
    confirm, due, record_detail, Change, Detail, DetailType, Facts, Location, Notification,
    Notifier, QuarantineDetail,
};
use crate::pipeline::process::Processor;
use crate::record::{Provider, SCHEMA_VERSION};
use crate::storage::archive::Quarantined;
use crate::storage::records::RecordLocation;
use crate::storage::StoreError;
use crate::telemetry::{self, Escaped, Metric};

/// What `scribehook notify --pending` did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotifyReport {
    /// Records read.
    pub records: usize,
    /// Records with something unconfirmed, now published.
    pub published: usize,
    /// Events put.
    pub events: usize,
}

impl Processor {
    /// Where the subject's record is, in every store.
    fn location(&self, provider: Provider, subject_id: &str) -> Location {
        Location::of(
            self.stores()
                .iter()
                .filter_map(|store| store.record_location(provider, subject_id)),
        )
    }

    /// Publishes what is due for the record (none without a notifier), then notes it
    /// confirmed in the first store; returns how many events were put.
    pub(crate) async fn notify(&self, change: &Change) -> Result<usize, StoreError> {
        let Some(notifier) = self.notifier() else {
            return Ok(0);
        };
        let record = &change.record;
        let facts = Facts::of(record);
        let due = due(record, &facts, change.before.as_ref(), change.by.as_deref());
        if due.is_empty() {
            return Ok(0);
        }
        let detail = record_detail(
            record,
            &facts,
            self.location(record.provider, &record.subject_id),
        );
        let time = self.now();
        let notifications: Vec<Notification> = due
            .iter()
            .map(|&detail_type| Notification {
                time,
                detail_type,
                detail: Detail::Record(detail.clone()),
            })
            .collect();
        self.put(
            record.provider,
            &record.subject_id,
            notifier,
            &notifications,
        )
        .await?;
        let Some(primary) = self.stores().first() else {
            return Ok(notifications.len());
        };
        primary
            .update_record(record.provider, &record.subject_id, &|current| {
                let Some(current) = current else {
                    return Ok(None);
                };
                let notified = confirm(&current.notified, record.revision, &facts, &due);
                if notified == current.notified {
                    return Ok(None);
                }
                let mut next = current.clone();
                next.notified = notified;
                Ok(Some(next))
            })
            .await?;
        Ok(notifications.len())
    }

    /// Puts the notifications, counting and logging a failure (without content).
    async fn put(
        &self,
        provider: Provider,
        subject: &str,
        notifier: &Arc<dyn Notifier>,
        notifications: &[Notification],
    ) -> Result<(), StoreError> {
        notifier.publish(notifications).await.inspect_err(|err| {
            telemetry::count(provider.as_str(), Metric::NotificationsFailed);
            tracing::error!(provider = provider.as_str(), subject_id = %Escaped(subject), outcome = "notification_failed", retry = true, error = %Escaped(err), "{provider} notification not confirmed by {}; it will be published again", notifier.describe());
        })
    }

    /// `Delivery Quarantined` for a quarantine entry written at `location`.
    pub(crate) async fn notify_quarantined(
        &self,
        entry: &Quarantined,
        location: &str,
    ) -> Result<(), StoreError> {
        let Some(notifier) = self.notifier() else {
            return Ok(());
        };
        let detail = QuarantineDetail {
            schema_version: SCHEMA_VERSION,
            provider: entry.provider,
            event_id: entry.event_id.clone(),
            quarantined_at: entry.quarantined_at,
            reasons: BTreeSet::from([entry.error.code.clone()]),
            location: Location::of([RecordLocation::Object(location.to_owned())]),
        };
        let notification = Notification {
            time: self.now(),
            detail_type: DetailType::Quarantined,
            detail: Detail::Quarantine(detail),
        };
        self.put(entry.provider, &entry.event_id, notifier, &[notification])
            .await
    }

    /// Publishes the current state of the subject's record in the first store when
    /// anything of it is unconfirmed (after a purge, a replay, or on demand).
    pub(crate) async fn notify_current(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<usize, StoreError> {
        if self.notifier().is_none() {
            return Ok(0);
        }
        let Some(primary) = self.stores().first() else {
            return Ok(0);
        };
        match primary.get_record(provider, subject_id).await? {
            Some(record) => {
                self.notify(&Change {
                    record,
                    before: None,
                    by: None,
                })
                .await
            }
            None => Ok(0),
        }
    }

    /// `scribehook notify --pending`: publishes every record's unconfirmed notifications
    /// (after an outage of the bus, or with notifications newly turned on).
    pub async fn notify_pending(&self) -> Result<NotifyReport, StoreError> {
        let mut report = NotifyReport::default();
        if self.notifier().is_none() {
            return Err(StoreError::permanent(
                "notify --pending",
                "no notifications configured: set NOTIFY_BUS (or NOTIFY=file://DIR locally)",
            ));
        }
        let Some(primary) = self.stores().first() else {
            return Ok(report);
        };
        for record in primary.all_records().await? {
            report.records += 1;
            let put = self
                .notify(&Change {
                    record,
                    before: None,
                    by: None,
                })
                .await?;
            if put > 0 {
                report.published += 1;
                report.events += put;
            }
        }
        Ok(report)
    }
}
