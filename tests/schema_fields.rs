//! The JSON Schemas in `schemas/` and the Rust types of the record format agree field by
//! field. Every type is written below as a struct literal without `..` and every enum is
//! listed through an exhaustive `match`: adding a field or a variant to the format does not
//! compile until this file fills it in, and then the test fails until the schema has it too
//! (and the other way round: a schema property no type serializes fails as well).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use scribehook::pipeline::notify::{
    ComponentState, Detail, DetailType, Location, QuarantineDetail, RecordDetail, TableKey,
};
use scribehook::record::{
    Artifact, ArtifactKind, Category, Component, Components, Content, DeviceInfo, Diagnosis,
    ErrorInfo, Instructions, Note, Notified, RecordingInfo, Role, Section, Segment, Shared, Status,
    Summary, Transcript,
};
use scribehook::{NormalizedEvent, Provider, Record, Timestamp};
use serde_json::{json, Value};

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(1_736_935_200 + secs).unwrap()
}

/// Every content field set, every list with one element, every option `Some`.
fn full_content() -> Content {
    Content {
        transcript: Some(Shared::new(Transcript {
            language: Some("en".into()),
            duration_ms: Some(1_000),
            text: Some("Hello.".into()),
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 1_000,
                speaker: Some("0".into()),
                role: Some(Role::Patient),
                text: "Hello.".into(),
                confidence: Some(0.9),
            }],
        })),
        note: Some(Note {
            title: Some("Note".into()),
            sections: vec![Section {
                key: "CHIEF_COMPLAINT".into(),
                title: Some("Chief complaint".into()),
                text: "Knee pain.".into(),
            }],
        }),
        summary: Some(Summary {
            text: "Summary.".into(),
            template: Some("soap".into()),
        }),
        concepts: Some(json!({"any": "json"})),
        soap: Some(json!({"any": "json"})),
        recording: Some(RecordingInfo {
            duration_ms: Some(1_000),
            size_bytes: Some(10),
            format: Some("mp4".into()),
            consent_obtained: Some(true),
            started_at: Some(at(0)),
            ended_at: Some(at(1)),
        }),
        device: Some(DeviceInfo {
            battery_percent: Some(50.0),
            hours_offline: Some(1.0),
            last_sync_at: Some(at(0)),
        }),
        artifacts: Some(vec![Artifact {
            kind: ArtifactKind::Soap,
            format: "json".into(),
            location: "s3://bucket/key.json".into(),
            region: Some("us-east-1".into()),
            fetched: true,
            bytes: Some(10),
            sha256: Some("0".repeat(64)),
            reason: Some("why".into()),
            via: Some("access-link".into()),
        }]),
        diagnoses: Some(vec![Diagnosis {
            system: Some("ICD-10".into()),
            code: "M25.561".into(),
            display: Some("Pain in right knee".into()),
            hcc: Some(false),
            mcc: Some(false),
        }]),
        instructions: Some(Instructions {
            text: "Rest the knee.".into(),
        }),
        error: Some(ErrorInfo {
            code: "code".into(),
            message: "message".into(),
        }),
    }
}

fn full_event() -> NormalizedEvent {
    NormalizedEvent {
        schema_version: "1".into(),
        provider: Provider::Daily,
        event_id: "evt_1".into(),
        event_type: "type".into(),
        category: Category::Note,
        subject_id: "subject_1".into(),
        status: Status::Completed,
        occurred_at: at(0),
        received_at: at(1),
        related: BTreeMap::from([("job_id".to_owned(), "job_1".to_owned())]),
        content: full_content(),
        raw_location: Some("s3://archive/raw/daily/evt_1.json".into()),
    }
}

fn full_component() -> Component {
    Component {
        status: Status::Completed,
        updated_at: at(0),
        event_id: "evt_1".into(),
        event_type: "type".into(),
        related: BTreeMap::from([("job_id".to_owned(), "job_1".to_owned())]),
        content: full_content(),
    }
}

fn full_record() -> Record {
    Record {
        schema_version: "1".into(),
        provider: Provider::Daily,
        subject_id: "subject_1".into(),
        updated_at: at(0),
        deleted_at: Some(at(1)),
        purged_at: Some(at(2)),
        components: Components {
            recording: Some(full_component()),
            transcript: Some(full_component()),
            summary: Some(full_component()),
            note: Some(full_component()),
            job: Some(full_component()),
            device: Some(full_component()),
            instructions: Some(full_component()),
        },
        events: BTreeSet::from(["evt_1".to_owned()]),
        revision: 3,
        notified: Notified {
            revision: 2,
            complete: true,
            completed_by: Some("evt_1".to_owned()),
            purged: true,
            reasons: BTreeSet::from(["summary_failed".to_owned()]),
        },
    }
}

/// Objects whose keys are data, not fields: their inside is not the schema's business.
const OPEN: [&str; 3] = ["related", "concepts", "soap"];

/// The field paths of a document: `a.b`, `a.list[].c`.
fn document_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = join(path, key);
                out.insert(here.clone());
                if !OPEN.contains(&key.as_str()) {
                    document_paths(inner, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                document_paths(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The schemas by file name, for `$ref`s across them.
fn schemas() -> BTreeMap<&'static str, Value> {
    [
        "normalized-event.schema.json",
        "record.schema.json",
        "notification.schema.json",
    ]
    .into_iter()
    .map(|name| (name, schema(name)))
    .collect()
}

/// The schema `node` stands for, following `$ref`s (`file#/$defs/x` or `#/$defs/x`).
fn resolve<'a>(
    all: &'a BTreeMap<&str, Value>,
    file: &'a str,
    node: &'a Value,
) -> (&'a str, &'a Value) {
    let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
        return (file, node);
    };
    let (target, pointer) = reference.split_once('#').unwrap();
    let target = if target.is_empty() {
        file
    } else {
        all.keys().find(|k| **k == target).copied().unwrap()
    };
    let found = all[target]
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"));
    resolve(all, target, found)
}

/// The field paths a schema allows, walked the same way as [`document_paths`].
fn schema_paths(
    all: &BTreeMap<&str, Value>,
    file: &str,
    node: &Value,
    path: &str,
    out: &mut BTreeSet<String>,
) {
    let (file, node) = resolve(all, file, node);
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, inner) in properties {
            let here = join(path, key);
            out.insert(here.clone());
            if !OPEN.contains(&key.as_str()) {
                schema_paths(all, file, inner, &here, out);
            }
        }
    }
    if let Some(items) = node.get("items") {
        schema_paths(all, file, items, &format!("{path}[]"), out);
    }
}

fn assert_same_fields(document: &Value, schema_file: &'static str) {
    assert_same_fields_at(document, schema_file, "");
}

/// [`assert_same_fields`] against the schema at `pointer` inside `schema_file`.
fn assert_same_fields_at(document: &Value, schema_file: &'static str, pointer: &str) {
    let mut in_document = BTreeSet::new();
    document_paths(document, "", &mut in_document);
    let all = schemas();
    let mut in_schema = BTreeSet::new();
    let node = all[schema_file].pointer(pointer).unwrap();
    schema_paths(&all, schema_file, node, "", &mut in_schema);
    let missing: Vec<_> = in_document.difference(&in_schema).collect();
    let unused: Vec<_> = in_schema.difference(&in_document).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "{schema_file} and the types disagree:\n  serialized but not in the schema: {missing:?}\n  \
         in the schema but never serialized: {unused:?}"
    );
}

#[test]
fn the_event_schema_has_exactly_the_fields_of_the_event_type() {
    let event = serde_json::to_value(full_event()).unwrap();
    assert_same_fields(&event, "normalized-event.schema.json");
}

#[test]
fn the_record_schema_has_exactly_the_fields_of_the_record_type() {
    let record = serde_json::to_value(full_record()).unwrap();
    assert_same_fields(&record, "record.schema.json");
}

/// The names serde gives each value.
fn names<T: serde::Serialize>(values: impl IntoIterator<Item = T>) -> BTreeSet<String> {
    values
        .into_iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn schema_enum(pointer: &str) -> BTreeSet<String> {
    schema("normalized-event.schema.json")
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no enum at {pointer}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_schema_enums_are_exactly_the_variants() {
    // Each list is checked complete by the match under it: a new variant does not compile
    // until it is listed here.
    let categories = [
        Category::Recording,
        Category::Transcript,
        Category::Summary,
        Category::Note,
        Category::Job,
        Category::Device,
        Category::Instructions,
        Category::Other,
    ];
    for c in categories {
        match c {
            Category::Recording
            | Category::Transcript
            | Category::Summary
            | Category::Note
            | Category::Job
            | Category::Device
            | Category::Instructions
            | Category::Other => {}
        }
    }
    let statuses = [
        Status::Created,
        Status::Uploaded,
        Status::Processing,
        Status::Completed,
        Status::Failed,
        Status::Deleted,
        Status::Info,
    ];
    for s in statuses {
        match s {
            Status::Created
            | Status::Uploaded
            | Status::Processing
            | Status::Completed
            | Status::Failed
            | Status::Deleted
            | Status::Info => {}
        }
    }
    let roles = [Role::Clinician, Role::Patient, Role::Unknown];
    for r in roles {
        match r {
            Role::Clinician | Role::Patient | Role::Unknown => {}
        }
    }
    let kinds = [
        ArtifactKind::Soap,
        ArtifactKind::Concepts,
        ArtifactKind::Summary,
        ArtifactKind::Transcript,
    ];
    for k in kinds {
        match k {
            ArtifactKind::Soap
            | ArtifactKind::Concepts
            | ArtifactKind::Summary
            | ArtifactKind::Transcript => {}
        }
    }
    assert_eq!(names(Provider::ALL), schema_enum("/$defs/provider/enum"));
    assert_eq!(names(categories), schema_enum("/$defs/category/enum"));
    assert_eq!(names(statuses), schema_enum("/$defs/status/enum"));
    assert_eq!(
        names(roles),
        schema_enum("/$defs/segment/properties/role/enum")
    );
    assert_eq!(
        names(kinds),
        schema_enum("/$defs/artifact/properties/kind/enum")
    );
}

fn full_location() -> Location {
    Location {
        table: Some(TableKey {
            name: "records".into(),
            pk: "daily#subject_1".into(),
            sk: "record".into(),
        }),
        s3: Some("s3://bucket/records/daily/subject_1/record.json".into()),
        file: Some("file:///data/records/daily/subject_1/record.json".into()),
    }
}

#[test]
fn the_notification_schema_has_exactly_the_fields_of_the_detail_types() {
    let state = || ComponentState {
        status: Status::Completed,
        event_id: "evt_1".into(),
        occurred_at: at(0),
    };
    let record = RecordDetail {
        schema_version: "1",
        provider: Provider::Daily,
        subject_id: "subject_1".into(),
        revision: 1,
        complete: true,
        components: [
            "recording",
            "transcript",
            "summary",
            "note",
            "job",
            "device",
            "instructions",
        ]
        .into_iter()
        .map(|name| (name, state()))
        .collect(),
        location: full_location(),
        deleted_at: Some(at(1)),
        purged_at: Some(at(2)),
        reasons: BTreeSet::from(["job_failed".to_owned()]),
    };
    let quarantine = QuarantineDetail {
        schema_version: "1",
        provider: Provider::Bota,
        event_id: "evt_1".into(),
        quarantined_at: at(0),
        reasons: BTreeSet::from(["malformed_event".to_owned()]),
        location: full_location(),
    };
    for (detail, pointer) in [
        (Detail::Record(record), "/$defs/record"),
        (Detail::Quarantine(quarantine), "/$defs/quarantine"),
    ] {
        let value = serde_json::to_value(&detail).unwrap();
        assert_same_fields_at(&value, "notification.schema.json", pointer);
    }
    // Every detail type, listed through a match: a new one does not compile until it is
    // here and in the docs.
    for t in DetailType::ALL {
        match t {
            DetailType::Updated
            | DetailType::Completed
            | DetailType::NeedsAttention
            | DetailType::Purged
            | DetailType::Quarantined => {}
        }
    }
    let behaviour =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/behaviour.md"))
            .unwrap();
    for t in DetailType::ALL {
        assert!(behaviour.contains(&format!("`{}`", t.as_str())), "{t:?}");
    }
}
