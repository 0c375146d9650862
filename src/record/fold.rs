//! The merged record of one (provider, subject): an order-independent fold of its events
//! (docs/behaviour.md#merged-record). Every step is a commutative, idempotent join (a maximum per component,
//! a set union of event ids, a maximum time), so any permutation of an event set, with any
//! duplicates, folds to the same record; stores rely on that to retry conditional writes.
//!
//! Deletion (docs/behaviour.md#deletion-and-retention): under [`OnDelete::Purge`] a deleted subject carries no content.
//! Stripping is applied after every fold once the subject has ended, and the end is itself
//! a join (a deleted recording has the highest rank; `purged_at` is never cleared), so a
//! content event folded after the deletion, redelivered or replayed, adds none, and the
//! fold stays order-independent.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::content::Kind;
use super::event::Provider;
use super::event::{Content, NormalizedEvent, Status, Timestamp, SCHEMA_VERSION};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: String,
    pub provider: Provider,
    pub subject_id: String,
    /// The latest `occurred_at` among the folded events (not wall-clock time, which would
    /// make the record depend on processing order).
    pub updated_at: Timestamp,
    /// Set once the recording was deleted: the subject has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Set by an erasure (`scribehook purge`): the subject carries no content from then on,
    /// whatever `PURGE_ON_DELETE` says and whatever arrives later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<Timestamp>,
    pub components: Components,
    pub events: BTreeSet<String>,
    /// Bookkeeping of the stored record, outside the fold: one more on every write that
    /// changes what the record says (the store's compare-and-swap counts it), so a re-fold
    /// of the same events stays equal (docs/behaviour.md#revisions-and-publication).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub revision: u64,
    /// What the record's notifications were confirmed published for (bookkeeping too).
    #[serde(default, skip_serializing_if = "Notified::is_empty")]
    pub notified: Notified,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The notifications of a record confirmed published
/// (docs/behaviour.md#revisions-and-publication): a later processing publishes what is
/// not confirmed here, so a failed publication is sent again rather than lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// The last revision whose notification was confirmed (0: none yet).
    #[serde(default)]
    pub revision: u64,
    /// `Record Completed` was confirmed: it is sent once per record.
    #[serde(default, skip_serializing_if = "is_false")]
    pub complete: bool,
    /// The event whose processing owns the unconfirmed `Record Completed`: the last one that
    /// made the record complete. Only its processing (and its retries) tells it, so that
    /// concurrent processings of other events do not tell it again at other revisions;
    /// cleared once confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    /// `Record Purged` was confirmed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub purged: bool,
    /// The reason codes of the last `Record Needs Attention` confirmed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reasons: BTreeSet<String>,
}

impl Notified {
    pub fn is_empty(&self) -> bool {
        *self == Notified::default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Components {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Component>,
}

/// The state of one kind of output: the winning event's status and its content of that kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub status: Status,
    pub updated_at: Timestamp,
    pub event_id: String,
    pub event_type: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub related: BTreeMap<String, String>,
    /// The winning event's content of this component's kind, and its error.
    #[serde(flatten)]
    pub content: Content,
}

/// What a deletion event does to its subject's content (`PURGE_ON_DELETE`, docs/behaviour.md#deletion-and-retention).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDelete {
    /// The subject's content ends: the record and its events keep ids, statuses, times,
    /// errors and `deleted_at`, and lose every transcript, note, summary, concepts, SOAP
    /// and fetched output.
    #[default]
    Purge,
    /// The content is kept; the record is only marked deleted.
    Mark,
}

impl OnDelete {
    pub fn from_flag(purge_on_delete: bool) -> Self {
        if purge_on_delete {
            OnDelete::Purge
        } else {
            OnDelete::Mark
        }
    }
}

impl Component {
    fn from_event(event: &NormalizedEvent, kind: Kind) -> Self {
        Component {
            status: event.status,
            updated_at: event.occurred_at,
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            related: event.related.clone(),
            content: event.content.part(kind),
        }
    }

    /// (status rank, time, completed, event id): a completed event beats a failed one at
    /// the same instant (content is better than nothing, docs/behaviour.md#merged-record); the event id
    /// breaks every remaining tie.
    fn rank_key(&self) -> (u8, Timestamp, bool, &str) {
        (
            self.status.rank(),
            self.updated_at,
            self.status == Status::Completed,
            &self.event_id,
        )
    }

    fn precedence(&self, other: &Self) -> Ordering {
        self.rank_key().cmp(&other.rank_key()).then_with(|| {
            // The same event folded again (a redelivery, a replay) ties on the key and is
            // equal: compared in place. Only two different contents under one event id
            // (a parser change between runs) are ordered by their serialization.
            if self == other {
                return Ordering::Equal;
            }
            let a = serde_json::to_vec(self).unwrap_or_default();
            let b = serde_json::to_vec(other).unwrap_or_default();
            a.cmp(&b)
        })
    }
}

fn join(slot: &mut Option<Component>, candidate: Component) {
    match slot {
        Some(current) if current.precedence(&candidate) != Ordering::Less => {}
        _ => *slot = Some(candidate),
    }
}

/// The components an event feeds: its own category's, plus any kind of content it
/// carries (a Daily batch job's fetched transcript, SOAP note and summary).
fn kinds_of(event: &NormalizedEvent) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = Kind::of(event.category).into_iter().collect();
    for kind in event.content.carried_kinds() {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

impl Components {
    /// The slot of `kind`.
    fn slot(&mut self, kind: Kind) -> &mut Option<Component> {
        match kind {
            Kind::Recording => &mut self.recording,
            Kind::Transcript => &mut self.transcript,
            Kind::Summary => &mut self.summary,
            Kind::Note => &mut self.note,
            Kind::Job => &mut self.job,
            Kind::Device => &mut self.device,
            Kind::Instructions => &mut self.instructions,
        }
    }

    /// Every component present.
    pub fn iter(&self) -> impl Iterator<Item = &Component> {
        let Components {
            recording,
            transcript,
            summary,
            note,
            job,
            device,
            instructions,
        } = self;
        [
            recording,
            transcript,
            summary,
            note,
            job,
            device,
            instructions,
        ]
        .into_iter()
        .flatten()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Component> {
        let Components {
            recording,
            transcript,
            summary,
            note,
            job,
            device,
            instructions,
        } = self;
        [
            recording,
            transcript,
            summary,
            note,
            job,
            device,
            instructions,
        ]
        .into_iter()
        .flatten()
    }
}

impl Record {
    /// An empty record for the subject of `event`.
    pub fn new(event: &NormalizedEvent) -> Self {
        Record {
            schema_version: SCHEMA_VERSION.to_owned(),
            provider: event.provider,
            subject_id: event.subject_id.clone(),
            updated_at: event.occurred_at,
            deleted_at: None,
            purged_at: None,
            components: Components::default(),
            events: BTreeSet::new(),
            revision: 0,
            notified: Notified::default(),
        }
    }

    /// Whether both say the same of their subject, their bookkeeping (revision, what was
    /// notified) aside: what decides whether a write is a new revision.
    pub fn same_content(&self, other: &Record) -> bool {
        let Record {
            schema_version,
            provider,
            subject_id,
            updated_at,
            deleted_at,
            purged_at,
            components,
            events,
            revision: _,
            notified: _,
        } = self;
        *schema_version == other.schema_version
            && *provider == other.provider
            && *subject_id == other.subject_id
            && *updated_at == other.updated_at
            && *deleted_at == other.deleted_at
            && *purged_at == other.purged_at
            && *components == other.components
            && *events == other.events
    }

    /// Whether the subject's content has ended by a deletion or an erasure (whatever
    /// `PURGE_ON_DELETE` says): what `Record Purged` reports.
    pub fn ended(&self) -> bool {
        self.deleted_at.is_some() || self.purged_at.is_some()
    }

    /// Folds one event in, keeping content after a deletion ([`OnDelete::Mark`]; the
    /// processor folds with [`Record::fold_with`] under `PURGE_ON_DELETE`). Events of
    /// another subject are refused (`false`).
    pub fn fold(&mut self, event: &NormalizedEvent) -> bool {
        self.fold_with(event, OnDelete::Mark)
    }

    /// Folds one event in under `policy`. Events of another subject are refused (`false`).
    pub fn fold_with(&mut self, event: &NormalizedEvent, policy: OnDelete) -> bool {
        if event.provider != self.provider || event.subject_id != self.subject_id {
            return false;
        }
        self.updated_at = self.updated_at.max(event.occurred_at);
        self.events.insert(event.event_id.clone());
        for kind in kinds_of(event) {
            join(
                self.components.slot(kind),
                Component::from_event(event, kind),
            );
        }
        self.deleted_at = self
            .components
            .recording
            .as_ref()
            .filter(|r| r.status == Status::Deleted)
            .map(|r| r.updated_at);
        if self.content_ended(policy) {
            self.strip();
        }
        true
    }

    /// Whether the subject's content has ended: erased, or deleted under `policy` Purge.
    pub fn content_ended(&self, policy: OnDelete) -> bool {
        self.purged_at.is_some() || (policy == OnDelete::Purge && self.deleted_at.is_some())
    }

    /// Removes the content of every component (ids, statuses, times, errors stay).
    pub fn strip(&mut self) {
        for component in self.components.iter_mut() {
            component.content.strip();
        }
    }

    /// Erases the subject's content (`scribehook purge`): marks the record purged at `at`
    /// (unless it already was: idempotent) and strips it. `true` when anything changed.
    pub fn erase(&mut self, at: Timestamp) -> bool {
        let before = self.clone();
        self.purged_at.get_or_insert(at);
        self.strip();
        *self != before
    }

    /// Whether `event` is already folded into this record.
    pub fn contains(&self, event_id: &str) -> bool {
        self.events.contains(event_id)
    }
}

/// Folds events of one subject into a record, keeping content after a deletion
/// ([`OnDelete::Mark`]: what the events say, for reports and schema checks; the processor
/// and replay use [`merge_with`] under `PURGE_ON_DELETE`); `None` for an empty input.
/// Events of other subjects than the first are ignored.
pub fn merge<'a>(events: impl IntoIterator<Item = &'a NormalizedEvent>) -> Option<Record> {
    merge_with(events, OnDelete::Mark)
}

/// [`merge`] under `policy`.
pub fn merge_with<'a>(
    events: impl IntoIterator<Item = &'a NormalizedEvent>,
    policy: OnDelete,
) -> Option<Record> {
    let mut events = events.into_iter();
    let first = events.next()?;
    let mut record = Record::new(first);
    record.fold_with(first, policy);
    for event in events {
        record.fold_with(event, policy);
    }
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Category, EventDraft, Note, Segment, Summary, Transcript};
    use proptest::prelude::*;

    /// [`Content::has_content`] reads fields instead of stripping a copy; both must agree.
    #[test]
    fn has_content_is_exactly_what_strip_content_removes() {
        let by_strip = |c: &Content| {
            let mut stripped = c.clone();
            stripped.strip();
            stripped != *c
        };
        let mut cases = vec![
            Content::default(),
            event("t", Category::Transcript, Status::Completed, 0).content,
            event("s", Category::Summary, Status::Completed, 0).content,
            event("f", Category::Summary, Status::Failed, 0).content,
        ];
        cases.push(Content {
            diagnoses: Some(vec![crate::record::Diagnosis {
                system: None,
                code: "R51".into(),
                display: None,
                hcc: None,
                mcc: None,
            }]),
            ..Content::default()
        });
        cases.push(Content {
            instructions: Some(crate::record::Instructions {
                text: "rest".into(),
            }),
            ..Content::default()
        });
        cases.push(Content {
            error: Some(crate::record::ErrorInfo {
                code: "x".into(),
                message: "y".into(),
            }),
            ..Content::default()
        });
        for content in &cases {
            assert_eq!(content.has_content(), by_strip(content), "{content:?}");
        }
        assert!(cases.iter().any(Content::has_content) && !cases.iter().all(Content::has_content));
    }

    fn event(id: &str, category: Category, status: Status, secs: i64) -> NormalizedEvent {
        let mut draft = EventDraft::new(
            id,
            format!("{category:?}.{status:?}").to_lowercase(),
            category,
            "rec_1",
            status,
            Timestamp::from_unix(1_700_000_000 + secs),
        );
        draft.relate("marker", Some(id));
        if category == Category::Transcript && status == Status::Completed {
            draft.content.transcript = Some(crate::record::Shared::new(Transcript {
                text: Some(format!("text of {id}")),
                segments: vec![Segment {
                    start_ms: 0,
                    end_ms: 1000,
                    speaker: None,
                    role: None,
                    text: id.into(),
                    confidence: None,
                }],
                ..Transcript::default()
            }));
        }
        if category == Category::Summary && status == Status::Completed {
            draft.content.summary = Some(Summary {
                text: format!("summary of {id}"),
                template: None,
            });
        }
        draft.finish(
            Provider::Bota,
            Timestamp::from_unix(1_800_000_000).unwrap(),
            None,
        )
    }

    #[test]
    fn late_started_never_hides_completed() {
        let completed = event("evt_b", Category::Transcript, Status::Completed, 10);
        let started = event("evt_a", Category::Transcript, Status::Processing, 20);
        let r1 = merge([&completed, &started]).unwrap();
        let r2 = merge([&started, &completed]).unwrap();
        assert_eq!(r1, r2);
        let t = r1.components.transcript.unwrap();
        assert_eq!(t.status, Status::Completed);
        assert_eq!(t.event_id, "evt_b");
        assert_eq!(r1.updated_at, Timestamp::from_unix(1_700_000_020).unwrap());
    }

    #[test]
    fn completed_beats_failed_at_the_same_instant_whatever_the_ids() {
        for (completed_id, failed_id) in [("evt_a", "evt_z"), ("evt_z", "evt_a")] {
            let completed = event(completed_id, Category::Transcript, Status::Completed, 7);
            let failed = event(failed_id, Category::Transcript, Status::Failed, 7);
            for order in [[&completed, &failed], [&failed, &completed]] {
                let r = merge(order).unwrap();
                let t = r.components.transcript.unwrap();
                assert_eq!(t.status, Status::Completed);
                assert_eq!(t.event_id, completed_id);
            }
        }
        // A later failure still wins: only a tie in time favours content.
        let completed = event("evt_a", Category::Transcript, Status::Completed, 7);
        let failed = event("evt_b", Category::Transcript, Status::Failed, 8);
        let r = merge([&completed, &failed]).unwrap();
        assert_eq!(r.components.transcript.unwrap().status, Status::Failed);
    }

    #[test]
    fn deletion_ends_the_subject_whatever_arrives_after() {
        let deleted = event("evt_d", Category::Recording, Status::Deleted, 5);
        let uploaded = event("evt_u", Category::Recording, Status::Uploaded, 50);
        let r = merge([&deleted, &uploaded]).unwrap();
        assert_eq!(
            r.components.recording.as_ref().unwrap().status,
            Status::Deleted
        );
        assert_eq!(r.deleted_at, Timestamp::from_unix(1_700_000_005));
        assert_eq!(r, merge([&uploaded, &deleted]).unwrap());
    }

    #[test]
    fn events_of_other_subjects_are_not_folded() {
        let a = event("evt_a", Category::Recording, Status::Created, 0);
        let mut b = event("evt_b", Category::Recording, Status::Uploaded, 1);
        b.subject_id = "rec_2".into();
        let mut r = Record::new(&a);
        assert!(r.fold(&a));
        assert!(!r.fold(&b));
        assert!(!r.contains("evt_b"));
    }

    #[test]
    fn content_carried_by_a_job_feeds_its_own_components() {
        let mut job = event("bp-jf-1", Category::Job, Status::Completed, 0);
        job.content.note = Some(Note {
            title: None,
            sections: vec![],
        });
        job.content.summary = Some(Summary {
            text: "s".into(),
            template: None,
        });
        let r = merge([&job]).unwrap();
        assert!(r.components.job.is_some());
        assert_eq!(r.components.note.unwrap().event_id, "bp-jf-1");
        assert_eq!(
            r.components.summary.unwrap().content.summary.unwrap().text,
            "s"
        );
        assert!(r.components.transcript.is_none());
    }

    fn arb_event() -> impl Strategy<Value = NormalizedEvent> {
        let categories = prop::sample::select(vec![
            Category::Recording,
            Category::Transcript,
            Category::Summary,
            Category::Device,
            Category::Other,
        ]);
        let statuses = prop::sample::select(vec![
            Status::Created,
            Status::Uploaded,
            Status::Processing,
            Status::Completed,
            Status::Failed,
            Status::Deleted,
            Status::Info,
        ]);
        // Few ids and few instants, so ties on rank and time are common.
        (0u8..12, categories, statuses, 0i64..4).prop_map(|(id, category, status, secs)| {
            event(&format!("evt_{id:02}"), category, status, secs)
        })
    }

    fn policy(purge: bool) -> OnDelete {
        OnDelete::from_flag(purge)
    }

    fn holds_content(record: &Record) -> bool {
        record
            .components
            .iter()
            .any(|component| component.content.has_content())
    }

    #[test]
    fn a_deleted_subject_carries_no_content_whatever_the_order() {
        let transcript = event("evt_t", Category::Transcript, Status::Completed, 10);
        let summary = event("evt_s", Category::Summary, Status::Completed, 11);
        let deleted = event("evt_d", Category::Recording, Status::Deleted, 5);
        let orders = [
            vec![&deleted, &transcript, &summary],
            vec![&transcript, &summary, &deleted],
            vec![&transcript, &deleted, &summary, &transcript],
        ];
        let reference = merge_with(orders[0].iter().copied(), OnDelete::Purge).unwrap();
        assert!(!holds_content(&reference), "{reference:?}");
        let t = reference.components.transcript.as_ref().unwrap();
        assert_eq!(
            (t.status, t.event_id.as_str()),
            (Status::Completed, "evt_t")
        );
        assert_eq!(reference.deleted_at, Timestamp::from_unix(1_700_000_005));
        for order in &orders {
            assert_eq!(
                merge_with(order.iter().copied(), OnDelete::Purge).unwrap(),
                reference
            );
        }
        // PURGE_ON_DELETE=false: marked, content kept, still order-independent.
        let kept = merge_with(orders[0].iter().copied(), OnDelete::Mark).unwrap();
        assert!(holds_content(&kept));
        assert_eq!(kept.deleted_at, reference.deleted_at);
        for order in &orders {
            assert_eq!(
                merge_with(order.iter().copied(), OnDelete::Mark).unwrap(),
                kept
            );
        }
    }

    #[test]
    fn an_erased_record_stays_empty_under_either_policy() {
        let transcript = event("evt_t", Category::Transcript, Status::Completed, 10);
        let mut record = merge([&transcript]).unwrap();
        let at = Timestamp::from_unix(1_900_000_000).unwrap();
        assert!(record.erase(at));
        assert!(!record.erase(Timestamp::from_unix(1_900_000_100).unwrap()));
        assert_eq!(record.purged_at, Some(at));
        let late = event("evt_t2", Category::Transcript, Status::Completed, 20);
        for policy in [OnDelete::Purge, OnDelete::Mark] {
            let mut r = record.clone();
            r.fold_with(&late, policy);
            r.fold_with(&transcript, policy);
            assert!(!holds_content(&r));
            assert!(r.contains("evt_t2"));
        }
    }

    proptest! {
        #[test]
        fn any_permutation_with_duplicates_folds_to_the_same_record(
            // Unique event ids: ingest keeps a conflicting body out of records, so one id
            // always carries one content.
            events in prop::collection::btree_map("[a-z]{1,3}", arb_event(), 1..12)
                .prop_map(|m| m.into_iter().map(|(k, mut e)| { e.event_id = format!("evt_{k}"); e }).collect::<Vec<_>>()),
            duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            seed in any::<u64>(),
            purge in any::<bool>(),
        ) {
            let reference = merge_with(&events, policy(purge)).unwrap();
            let mut shuffled = events.clone();
            for index in &duplicates {
                shuffled.push(index.get(&events).clone());
            }
            // A deterministic Fisher-Yates driven by the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let folded = merge_with(&shuffled, policy(purge)).unwrap();
            prop_assert_eq!(&folded, &reference);
            prop_assert_eq!(folded.events.len(), events.len());
            // The deletion rule: under Purge a deleted subject holds no content at all;
            // under Mark the deletion removes nothing (the same content as without it).
            let deleted = events
                .iter()
                .any(|e| e.category == Category::Recording && e.status == Status::Deleted);
            prop_assert_eq!(folded.deleted_at.is_some(), deleted);
            if purge && deleted {
                prop_assert!(!holds_content(&folded));
            } else {
                let kept = merge_with(&events, OnDelete::Mark).unwrap();
                prop_assert_eq!(&folded.components, &kept.components);
            }
        }

        #[test]
        fn folding_a_record_into_itself_changes_nothing(
            events in prop::collection::vec(arb_event(), 1..10),
            purge in any::<bool>(),
        ) {
            let mut record = merge_with(&events, policy(purge)).unwrap();
            let before = record.clone();
            for event in &events {
                record.fold_with(event, policy(purge));
            }
            prop_assert_eq!(record, before);
        }
    }
}
