//! Record notifications (docs/behaviour.md#record-notifications-eventbridge): after a record
//! write that changes it, the processor tells the customer's systems what changed, with
//! ids, statuses, times and reason codes only, never content. Publication goes through the
//! [`Notifier`] capability (EventBridge in `aws`, JSON lines on disk in [`FileNotifier`]).
//!
//! None is lost (docs/behaviour.md#revisions-and-publication): the record counts its
//! changes (`revision`) and remembers what was confirmed published (`notified`); a failed
//! publication fails the message, and any later processing of the subject (or `scribehook
//! notify --pending`) publishes what is not confirmed. Duplicates carry the same revision.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use crate::record::{Component, Notified, OnDelete, Record, Status};
use crate::record::{NormalizedEvent, Provider, Timestamp, SCHEMA_VERSION};
use crate::storage::records::{RecordLocation, RecordStore};
use crate::storage::StoreError;

/// The `Source` of every event scribehook puts.
pub const SOURCE: &str = "scribehook";

/// What an event says happened: EventBridge's `DetailType`, what rules match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum DetailType {
    /// Every change of a record.
    #[serde(rename = "Record Updated")]
    Updated,
    /// The first time the record meets its provider's completeness rule.
    #[serde(rename = "Record Completed")]
    Completed,
    /// A failed component, an output that could not be fetched: new reason codes.
    #[serde(rename = "Record Needs Attention")]
    NeedsAttention,
    /// The record was deleted or erased.
    #[serde(rename = "Record Purged")]
    Purged,
    /// A delivery no retry can process (not a record change).
    #[serde(rename = "Delivery Quarantined")]
    Quarantined,
}

impl DetailType {
    pub const ALL: [DetailType; 5] = [
        DetailType::Updated,
        DetailType::Completed,
        DetailType::NeedsAttention,
        DetailType::Purged,
        DetailType::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::Updated => "Record Updated",
            DetailType::Completed => "Record Completed",
            DetailType::NeedsAttention => "Record Needs Attention",
            DetailType::Purged => "Record Purged",
            DetailType::Quarantined => "Delivery Quarantined",
        }
    }
}

/// Where a consumer reads the record back: the first store of each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<TableKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A DynamoDB item's key, as `GetItem` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableKey {
    pub name: String,
    pub pk: String,
    pub sk: String,
}

impl Location {
    pub(crate) fn of(locations: impl IntoIterator<Item = RecordLocation>) -> Self {
        let mut location = Location::default();
        for found in locations {
            match found {
                RecordLocation::Table { name, pk, sk } => {
                    location.table.get_or_insert(TableKey { name, pk, sk });
                }
                RecordLocation::Object(uri) if uri.starts_with("s3://") => {
                    location.s3.get_or_insert(uri);
                }
                RecordLocation::Object(uri) => {
                    location.file.get_or_insert(uri);
                }
            }
        }
        location
    }
}

/// One component as a notification shows it: no content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComponentState {
    pub status: Status,
    pub event_id: String,
    pub occurred_at: Timestamp,
}

/// The `Detail` of a record's events (schemas/notification.schema.json).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordDetail {
    pub schema_version: &'static str,
    pub provider: Provider,
    pub subject_id: String,
    pub revision: u64,
    pub complete: bool,
    pub components: BTreeMap<&'static str, ComponentState>,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub reasons: BTreeSet<String>,
}

/// The `Detail` of `Delivery Quarantined`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuarantineDetail {
    pub schema_version: &'static str,
    pub provider: Provider,
    pub event_id: String,
    pub quarantined_at: Timestamp,
    pub reasons: BTreeSet<String>,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Record(RecordDetail),
    Quarantine(QuarantineDetail),
}

/// One event to put.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub time: Timestamp,
    pub detail_type: DetailType,
    pub detail: Detail,
}

impl Notification {
    /// The `Detail` as the JSON text EventBridge takes.
    pub fn detail_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(&self.detail)
            .map_err(|e| StoreError::new("encode notification detail", e))
    }

    /// The event as a consumer receives it (the fields EventBridge adds of its own aside).
    pub fn to_event_json(&self) -> Result<String, StoreError> {
        #[derive(Serialize)]
        struct Event<'a> {
            time: Timestamp,
            source: &'static str,
            #[serde(rename = "detail-type")]
            detail_type: DetailType,
            detail: &'a Detail,
        }
        let event = Event {
            time: self.time,
            source: SOURCE,
            detail_type: self.detail_type,
            detail: &self.detail,
        };
        serde_json::to_string(&event).map_err(|e| StoreError::new("encode notification", e))
    }
}

/// The capability of putting notifications (EventBridge in production). `Err` when any of
/// them was not confirmed: the caller sends them all again later (duplicates carry the same
/// revision).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, notifications: &[Notification]) -> Result<(), StoreError>;
    /// `eventbridge://bus`, `file://dir`, for logs.
    fn describe(&self) -> String;
}

/// `NOTIFY=file://DIR`: each event as one JSON line in `DIR/notifications-<day>.jsonl`, in
/// the order published (docs/local.md).
pub struct FileNotifier {
    dir: PathBuf,
    // One writer at a time: a batch's lines stay together.
    lock: tokio::sync::Mutex<()>,
}

impl FileNotifier {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl Notifier for FileNotifier {
    async fn publish(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        use tokio::io::AsyncWriteExt;
        let Some(first) = notifications.first() else {
            return Ok(());
        };
        let mut lines = String::new();
        for notification in notifications {
            lines.push_str(&notification.to_event_json()?);
            lines.push('\n');
        }
        let day = first.time.to_string().chars().take(10).collect::<String>();
        let path = self.dir.join(format!("notifications-{day}.jsonl"));
        let failed = |e: std::io::Error| StoreError::new(format!("append {}", path.display()), e);
        let _guard = self.lock.lock().await;
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(failed)?;
        file.write_all(lines.as_bytes()).await.map_err(failed)?;
        file.flush().await.map_err(failed)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// What a record's notifications say of it besides its ids: computed, never stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub complete: bool,
    pub ended: bool,
    pub reasons: BTreeSet<String>,
}

impl Facts {
    pub fn of(record: &Record) -> Self {
        Facts {
            // A deleted or erased encounter is over, not complete: its content is gone (or
            // going), whatever its components' statuses say.
            complete: !record.ended() && record.provider.is_complete(record),
            ended: record.ended(),
            reasons: reasons(record),
        }
    }
}

/// The component names, in the record's order.
fn named(record: &Record) -> [(&'static str, Option<&Component>); 7] {
    let c = &record.components;
    [
        ("recording", c.recording.as_ref()),
        ("transcript", c.transcript.as_ref()),
        ("summary", c.summary.as_ref()),
        ("note", c.note.as_ref()),
        ("job", c.job.as_ref()),
        ("device", c.device.as_ref()),
        ("instructions", c.instructions.as_ref()),
    ]
}

/// scribehook's own reason codes (docs/behaviour.md#record-notifications-eventbridge),
/// never a provider's text: `<component>_failed` for each failed component, and for a
/// job's outputs `<kind>_not_fetched` (no rendition of that kind was read) or
/// `<kind>_unreadable` (read, but not parsed).
pub fn reasons(record: &Record) -> BTreeSet<String> {
    let mut reasons = BTreeSet::new();
    for (name, component) in named(record) {
        if component.is_some_and(|c| c.status == Status::Failed) {
            reasons.insert(format!("{name}_failed"));
        }
    }
    let artifacts = record
        .components
        .job
        .iter()
        .flat_map(|job| job.content.artifacts.iter().flatten());
    let mut by_kind: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for artifact in artifacts {
        let kind = serde_json::to_value(artifact.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "output".into());
        // (one read and used, one read at all)
        let seen = by_kind.entry(kind).or_default();
        seen.0 |= artifact.fetched && artifact.reason.is_none();
        seen.1 |= artifact.fetched;
    }
    for (kind, (used, read)) in by_kind {
        match (used, read) {
            (true, _) => {}
            (false, true) => {
                reasons.insert(format!("{kind}_unreadable"));
            }
            (false, false) => {
                reasons.insert(format!("{kind}_not_fetched"));
            }
        }
    }
    reasons
}

/// The detail types due for `record`, given what was confirmed (`record.notified`) and,
/// for a processing that changed the record, what it was before (`before`). The change
/// that makes a milestone true owns its event; a processing that changed nothing (a retry,
/// `notify --pending`) sends whatever is still unconfirmed
/// (docs/behaviour.md#revisions-and-publication).
///
/// `by` is the event this processing folded; `None` for a catch-up that is not a
/// processing (`notify --pending`, after a purge or a replay), which tells whatever is
/// unconfirmed. `Record Completed` not yet confirmed belongs to the processing of the event
/// that made the record complete (`notified.completed_by`), first attempt or retry.
pub fn due(
    record: &Record,
    facts: &Facts,
    before: Option<&Facts>,
    by: Option<&str>,
) -> Vec<DetailType> {
    let notified = &record.notified;
    let mut due = Vec::new();
    if record.revision > notified.revision {
        due.push(DetailType::Updated);
    }
    let owner = match (by, notified.completed_by.as_deref()) {
        (None, _) => true,
        (Some(by), Some(owner)) => by == owner,
        // A record written before owners were noted: the change that completed it.
        (Some(_), None) => before.is_none_or(|b| !b.complete),
    };
    if facts.complete && !notified.complete && owner {
        due.push(DetailType::Completed);
    }
    if !facts.reasons.is_empty()
        && facts.reasons != notified.reasons
        && before.is_none_or(|b| b.reasons != facts.reasons)
    {
        due.push(DetailType::NeedsAttention);
    }
    if facts.ended && !notified.purged && before.is_none_or(|b| !b.ended) {
        due.push(DetailType::Purged);
    }
    if record.revision == 0 {
        // A record written before revisions were counted: nothing to say until it changes.
        due.clear();
    }
    due
}

/// The record's detail: ids, statuses, times, where it is; no content.
pub fn record_detail(record: &Record, facts: &Facts, location: Location) -> RecordDetail {
    RecordDetail {
        schema_version: SCHEMA_VERSION,
        provider: record.provider,
        subject_id: record.subject_id.clone(),
        revision: record.revision,
        complete: facts.complete,
        components: named(record)
            .into_iter()
            .filter_map(|(name, component)| {
                component.map(|c| {
                    let state = ComponentState {
                        status: c.status,
                        event_id: c.event_id.clone(),
                        occurred_at: c.updated_at,
                    };
                    (name, state)
                })
            })
            .collect(),
        location,
        deleted_at: record.deleted_at,
        purged_at: record.purged_at,
        reasons: facts.reasons.clone(),
    }
}

/// `notified` once `sent` (of `revision`, whose facts are `facts`) was confirmed. Marks
/// only grow; a confirmation older than the last one changes only the milestones.
pub(crate) fn confirm(
    notified: &Notified,
    revision: u64,
    facts: &Facts,
    sent: &[DetailType],
) -> Notified {
    let mut next = notified.clone();
    if sent.contains(&DetailType::Completed) {
        next.complete = true;
        next.completed_by = None;
    }
    next.purged |= sent.contains(&DetailType::Purged);
    if revision >= next.revision {
        next.revision = revision;
        // The reasons last told: set by an attention event, cleared by a confirmed state
        // without any, so reasons that come back are told again.
        if sent.contains(&DetailType::NeedsAttention) || facts.reasons.is_empty() {
            next.reasons = facts.reasons.clone();
        }
    }
    next
}

/// A subject's record after this processing's merge into the first store, and its facts
/// before, when this processing changed it.
pub struct Change {
    pub record: Record,
    pub before: Option<Facts>,
    /// The event this processing folded; `None` for a catch-up (see [`due`]).
    pub by: Option<String>,
}

/// Folds `event` into its record in `store` (as `records::merge_event` does), noting what
/// the record was before when this fold changed it, and, when `notifying`, which event
/// owns the `Record Completed` still to be told.
pub async fn merge_noting(
    store: &dyn RecordStore,
    event: &NormalizedEvent,
    policy: OnDelete,
    notifying: bool,
) -> Result<Option<Box<Change>>, StoreError> {
    // The facts before the last attempt's fold, and whether it changed the record.
    let noted: Mutex<Option<Facts>> = Mutex::new(None);
    let record = store
        .update_record(event.provider, &event.subject_id, &|current| {
            let _fold = crate::telemetry::stage("fold").entered();
            let mut record = current.cloned().unwrap_or_else(|| Record::new(event));
            let before = current.is_some().then(|| record.clone());
            record.fold_with(event, policy);
            let changed = before.as_ref() != Some(&record);
            let facts = changed.then(|| before.as_ref().map(Facts::of).unwrap_or_default());
            if let (true, Some(facts)) = (notifying, &facts) {
                // This event made the record complete: its processing owns the telling.
                if !facts.complete && !record.notified.complete && Facts::of(&record).complete {
                    record.notified.completed_by = Some(event.event_id.clone());
                }
            }
            *noted.lock().unwrap_or_else(|p| p.into_inner()) = facts;
            Ok(changed.then_some(record))
        })
        .await?;
    let before = noted.into_inner().unwrap_or_else(|p| p.into_inner());
    let by = Some(event.event_id.clone());
    // Boxed: a record is kilobytes, and this rides along the processing futures.
    Ok(record.map(|record| Box::new(Change { record, before, by })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Artifact, ArtifactKind, Category, EventDraft};

    fn event(id: &str, category: Category, status: Status, secs: i64) -> NormalizedEvent {
        EventDraft::new(
            id,
            "t",
            category,
            "rec_1",
            status,
            Timestamp::from_unix(1_700_000_000 + secs),
        )
        .finish(Provider::Bota, Timestamp::from_unix(0).unwrap(), None)
    }

    fn record(events: &[NormalizedEvent], revision: u64) -> Record {
        let mut record = crate::record::merge(events).unwrap();
        record.revision = revision;
        record
    }

    #[test]
    fn every_change_is_updated_and_milestones_go_with_the_change_that_makes_them() {
        let t = event("t", Category::Transcript, Status::Completed, 1);
        let s = event("s", Category::Summary, Status::Completed, 2);
        let before = record(std::slice::from_ref(&t), 1);
        let after = record(&[t.clone(), s.clone()], 2);
        let facts = Facts::of(&after);
        assert!(facts.complete && facts.reasons.is_empty());
        // The change that completes it sends Completed.
        assert_eq!(
            due(&after, &facts, Some(&Facts::of(&before)), Some("s")),
            [DetailType::Updated, DetailType::Completed]
        );
        // Another processor's concurrent change of an already complete record does not.
        assert_eq!(
            due(&after, &facts, Some(&facts), Some("x")),
            [DetailType::Updated]
        );
        // A retry (no change) sends what is unconfirmed; once confirmed, nothing.
        assert_eq!(
            due(&after, &facts, None, None),
            [DetailType::Updated, DetailType::Completed]
        );
        let mut confirmed = after.clone();
        confirmed.notified = confirm(&after.notified, 2, &facts, &due(&after, &facts, None, None));
        assert!(due(&confirmed, &facts, None, None).is_empty());
        // A record written before revisions were counted says nothing until it changes.
        assert!(due(&record(&[t, s], 0), &facts, None, None).is_empty());
    }

    #[test]
    fn completed_unconfirmed_is_told_by_the_processing_that_completed_the_record() {
        let t = event("t", Category::Transcript, Status::Completed, 1);
        let s = event("s", Category::Summary, Status::Completed, 2);
        let mut after = record(&[t, s], 2);
        after.notified.completed_by = Some("s".into());
        let facts = Facts::of(&after);
        // Its retry (no change) tells it; so does a catch-up (notify --pending).
        assert_eq!(
            due(&after, &facts, None, Some("s")),
            [DetailType::Updated, DetailType::Completed]
        );
        assert_eq!(
            due(&after, &facts, None, None),
            [DetailType::Updated, DetailType::Completed]
        );
        // Another event's processing, changed or not, does not: the owner may have told it
        // already and not yet noted it confirmed.
        assert_eq!(due(&after, &facts, None, Some("t")), [DetailType::Updated]);
        assert_eq!(
            due(&after, &facts, Some(&facts), Some("t")),
            [DetailType::Updated]
        );
        // Confirmed: the owner is forgotten and Completed is never due again.
        let sent = due(&after, &facts, None, Some("s"));
        let told = confirm(&after.notified, 2, &facts, &sent);
        assert!(told.complete && told.completed_by.is_none());
    }

    #[test]
    fn reasons_are_codes_and_are_told_again_when_they_come_back() {
        let failed = event("f", Category::Summary, Status::Failed, 1);
        let mut job = event("j", Category::Job, Status::Completed, 1);
        let mut used = Artifact::s3(ArtifactKind::Transcript, "vtt", "b", "k.vtt", None);
        used.fetched = true;
        let mut other = Artifact::s3(ArtifactKind::Transcript, "srt", "b", "k.srt", None);
        other.reason = Some("not fetched: the vtt rendition of this transcript was used".into());
        let mut soap = Artifact::s3(ArtifactKind::Soap, "json", "b", "s.json", None);
        soap.reason = Some("not fetched: no such key".into());
        let mut summary = Artifact::s3(ArtifactKind::Summary, "txt", "b", "s.txt", None);
        summary.fetched = true;
        summary.reason = Some("fetched, but the summary is not UTF-8 text".into());
        job.content.artifacts = Some(vec![used, other, soap, summary]);
        let r = record(&[failed.clone(), job], 2);
        assert_eq!(
            reasons(&r).into_iter().collect::<Vec<_>>(),
            ["soap_not_fetched", "summary_failed", "summary_unreadable"]
        );
        let failing = record(std::slice::from_ref(&failed), 1);
        let facts = Facts::of(&failing);
        let sent = due(&failing, &facts, Some(&Facts::default()), Some("f"));
        assert_eq!(sent, [DetailType::Updated, DetailType::NeedsAttention]);
        let told = confirm(&Notified::default(), 1, &facts, &sent);
        assert_eq!(told.reasons, facts.reasons);
        // Resolved (a confirmed revision without reasons clears them), then failing again.
        let fixed = Facts::default();
        let cleared = confirm(&told, 2, &fixed, &[DetailType::Updated]);
        assert!(cleared.reasons.is_empty());
        let mut again = failing.clone();
        again.revision = 3;
        again.notified = cleared;
        assert_eq!(
            due(&again, &facts, Some(&fixed), Some("f")),
            [DetailType::Updated, DetailType::NeedsAttention]
        );
        // An older confirmation arriving late does not move the marks back.
        let late = confirm(&again.notified, 1, &facts, &[DetailType::Updated]);
        assert_eq!(late.revision, 2);
    }

    #[tokio::test]
    async fn the_file_notifier_appends_one_json_line_per_event() {
        let dir = std::env::temp_dir().join(format!("scribehook-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let notifier = FileNotifier::new(&dir);
        let r = record(&[event("t", Category::Transcript, Status::Completed, 1)], 1);
        let detail = record_detail(&r, &Facts::of(&r), Location::default());
        let n = Notification {
            time: Timestamp::from_unix(1_767_225_600).unwrap(),
            detail_type: DetailType::Updated,
            detail: Detail::Record(detail),
        };
        notifier.publish(&[n.clone(), n]).await.unwrap();
        let text = std::fs::read_to_string(dir.join("notifications-2026-01-01.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["source"], "scribehook");
        assert_eq!(lines[0]["detail-type"], "Record Updated");
        assert_eq!(lines[0]["detail"]["revision"], 1);
        assert_eq!(lines[0]["detail"]["complete"], false);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
