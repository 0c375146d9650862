//! Every documented example payload (events/payloads/, taken from the seeds and
//! docs/provider-guide.md) normalizes to the field values docs/behaviour.md#normalized-event gives.

use http::{HeaderMap, HeaderValue};
use scribehook::record::{ArtifactKind, Category, Role, Status};
use scribehook::{merge, NormalizedEvent, Provider, Timestamp};

fn payload(provider: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/events/payloads/{provider}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn received() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

fn normalize_with(provider: Provider, headers: &HeaderMap, name: &str) -> NormalizedEvent {
    let body = payload(provider.as_str(), name);
    provider
        .normalize(headers, &body)
        .unwrap_or_else(|e| panic!("{provider}/{name}: {e}"))
        .finish(provider, received(), None)
}

fn normalize(provider: Provider, name: &str) -> NormalizedEvent {
    normalize_with(provider, &HeaderMap::new(), name)
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

// --- Daily ------------------------------------------------------------------------------

#[test]
fn daily_job_finished_lists_every_output_unfetched() {
    let e = normalize(Provider::Daily, "batch-processor.job-finished");
    assert_eq!(e.event_id, "bp-jf-1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10");
    assert_eq!(e.event_type, "batch-processor.job-finished");
    assert_eq!((e.category, e.status), (Category::Job, Status::Completed));
    assert_eq!(e.subject_id, "1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10");
    assert_eq!(e.occurred_at.to_string(), "2025-01-15T10:30:00.125Z");
    assert_eq!(
        e.related["recording_id"],
        "c3d4e5f6-0000-4000-8000-000000000001"
    );
    let artifacts = e.content.artifacts.unwrap();
    let summary: Vec<_> = artifacts
        .iter()
        .map(|a| (a.kind, a.format.as_str(), a.fetched))
        .collect();
    assert_eq!(
        summary,
        [
            (ArtifactKind::Soap, "json", false),
            (ArtifactKind::Concepts, "json", false),
            (ArtifactKind::Summary, "txt", false),
            (ArtifactKind::Transcript, "json", false),
            (ArtifactKind::Transcript, "srt", false),
            (ArtifactKind::Transcript, "txt", false),
            (ArtifactKind::Transcript, "vtt", false),
        ]
    );
    assert_eq!(
        artifacts[2].location,
        "s3://daily-co-batch-processor-qa-us-west-2/staging/1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10/transcript/soap"
    );
    assert_eq!(artifacts[0].region.as_deref(), Some("us-west-2"));
    assert!(
        e.content.transcript.is_none() && e.content.note.is_none() && e.content.error.is_none()
    );
}

#[test]
fn daily_error_events_carry_the_error_text() {
    let e = normalize(Provider::Daily, "batch-processor.error");
    assert_eq!((e.category, e.status), (Category::Job, Status::Failed));
    assert_eq!(e.subject_id, "7f1c2a9e-3b4d-4e5f-8a6b-9c0d1e2f3a4b");
    let err = e.content.error.unwrap();
    assert_eq!(err.code, "batch_processor_error");
    assert_eq!(
        err.message,
        "Error: Failed to transcribe. May be invalid audio or silent file"
    );
    assert!(e.content.artifacts.is_none());

    let e = normalize(Provider::Daily, "transcript.error");
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Failed)
    );
    assert_eq!(e.subject_id, "5e6f7a8b-0000-4000-8000-0000000000aa");
    assert_eq!(
        e.content.error.unwrap().message,
        "Transcription service disconnected"
    );

    // recording.error spells its text error_msg; it has no recording id, only an instance.
    let e = normalize(Provider::Daily, "recording.error");
    assert_eq!(
        (e.category, e.status),
        (Category::Recording, Status::Failed)
    );
    assert_eq!(e.subject_id, "9a9a9a9a-0000-4000-8000-000000000002");
    assert_eq!(
        e.content.error.unwrap().message,
        "Recording stopped: storage credentials rejected"
    );
}

#[test]
fn daily_transcript_and_recording_ready() {
    let e = normalize(Provider::Daily, "transcript.ready-to-download");
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Completed)
    );
    assert_eq!(e.subject_id, "0c9a8b7c-1d2e-4f30-9a1b-2c3d4e5f6a7b");
    assert_eq!(
        e.related["mtg_session_id"],
        "f0e1d2c3-0000-4000-8000-00000000000b"
    );
    let a = &e.content.artifacts.unwrap()[0];
    assert_eq!(
        (a.kind, a.format.as_str()),
        (ArtifactKind::Transcript, "vtt")
    );
    assert_eq!(
        a.location,
        "s3://scribehook-demo-outputs/clinic/0c9a8b7c-1d2e-4f30-9a1b-2c3d4e5f6a7b.vtt"
    );
    assert_eq!(e.content.recording.unwrap().duration_ms, Some(1_210_500));

    let e = normalize(Provider::Daily, "recording.ready-to-download");
    assert_eq!(
        (e.category, e.status),
        (Category::Recording, Status::Completed)
    );
    assert_eq!(e.subject_id, "c3d4e5f6-0000-4000-8000-000000000001");
    let r = e.content.recording.unwrap();
    assert_eq!(r.duration_ms, Some(1_180_000));
    assert_eq!(r.started_at, Some(ts("2025-01-15T10:10:00Z")));
    assert_eq!(e.related["room_name"], "exam-room-4");
}

#[test]
fn daily_unmodelled_types_are_other() {
    let e = normalize(Provider::Daily, "meeting.started");
    assert_eq!((e.category, e.status), (Category::Other, Status::Info));
    assert_eq!(e.subject_id, "1f2e3d4c-0000-4000-8000-000000000003");
    assert_eq!(e.related["room"], "exam-room-4");
}

// --- Bota -------------------------------------------------------------------------------

#[test]
fn bota_every_documented_type_maps_to_its_lifecycle() {
    let cases = [
        (
            "recording.created",
            Category::Recording,
            Status::Created,
            "rec_xyz789",
        ),
        (
            "recording.uploaded",
            Category::Recording,
            Status::Uploaded,
            "rec_xyz789",
        ),
        (
            "recording.deleted",
            Category::Recording,
            Status::Deleted,
            "rec_xyz789",
        ),
        (
            "transcription.started",
            Category::Transcript,
            Status::Processing,
            "rec_xyz789",
        ),
        (
            "transcription.completed",
            Category::Transcript,
            Status::Completed,
            "rec_xyz789",
        ),
        (
            "transcription.failed",
            Category::Transcript,
            Status::Failed,
            "rec_xyz789",
        ),
        (
            "summary.started",
            Category::Summary,
            Status::Processing,
            "rec_xyz789",
        ),
        (
            "summary.completed",
            Category::Summary,
            Status::Completed,
            "rec_xyz789",
        ),
        (
            "summary.failed",
            Category::Summary,
            Status::Failed,
            "rec_xyz789",
        ),
        (
            "device.low_battery",
            Category::Device,
            Status::Info,
            "dev_device456",
        ),
        (
            "device.offline",
            Category::Device,
            Status::Info,
            "dev_device456",
        ),
    ];
    for (name, category, status, subject) in cases {
        let e = normalize(Provider::Bota, name);
        assert_eq!(e.event_type, name);
        assert_eq!(
            (e.category, e.status, e.subject_id.as_str()),
            (category, status, subject),
            "{name}"
        );
    }
}

#[test]
fn bota_transcription_completed_in_milliseconds() {
    let e = normalize(Provider::Bota, "transcription.completed");
    assert_eq!(e.event_id, "evt_ghi789");
    assert_eq!(e.occurred_at, ts("2025-01-15T10:07:00Z"));
    assert_eq!(e.related["transcription_id"], "txn_abc123");
    let t = e.content.transcript.unwrap();
    assert_eq!(t.language.as_deref(), Some("en"));
    assert_eq!(t.duration_ms, Some(1_847_500));
    assert_eq!(
        t.text.as_deref(),
        Some("Hello, thank you for coming in today. How can I help you?")
    );
    let s: Vec<_> = t
        .segments
        .iter()
        .map(|s| (s.start_ms, s.end_ms, s.speaker.as_deref(), s.text.as_str()))
        .collect();
    assert_eq!(
        s,
        [
            (
                0,
                2500,
                Some("SPEAKER_00"),
                "Hello, thank you for coming in today."
            ),
            (2800, 4200, Some("SPEAKER_00"), "How can I help you?"),
        ]
    );
    assert_eq!(t.segments[1].confidence, Some(0.97));
    assert_eq!(t.segments[0].role, Some(Role::Unknown));
}

#[test]
fn bota_failures_summaries_recordings_and_devices() {
    let e = normalize(Provider::Bota, "transcription.failed");
    let err = e.content.error.unwrap();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        (
            "audio_quality_insufficient",
            "Audio quality is too low for accurate transcription"
        )
    );

    let e = normalize(Provider::Bota, "summary.completed");
    let s = e.content.summary.unwrap();
    assert!(s
        .text
        .starts_with("The patient presented with symptoms of seasonal allergies."));
    assert_eq!(s.template.as_deref(), Some("medical_note"));
    assert_eq!(e.related["summary_id"], "sum_def456");
    assert_eq!(e.related["transcription_id"], "txn_abc123");

    let e = normalize(Provider::Bota, "summary.failed");
    assert_eq!(e.content.error.unwrap().code, "content_policy_violation");

    let e = normalize(Provider::Bota, "recording.created");
    assert_eq!(e.related["device_id"], "dev_device456");
    assert_eq!(e.related["end_user_id"], "eu_user123");
    assert_eq!(e.content.recording.unwrap().consent_obtained, Some(true));

    let e = normalize(Provider::Bota, "recording.uploaded");
    let r = e.content.recording.unwrap();
    assert_eq!(
        (r.duration_ms, r.size_bytes, r.format.as_deref()),
        (Some(1_847_500), Some(44_328_000), Some("wav"))
    );
    assert_eq!(r.ended_at, Some(ts("2025-01-15T10:00:47Z")));

    let e = normalize(Provider::Bota, "device.low_battery");
    assert_eq!(e.content.device.unwrap().battery_percent, Some(15.0));
    let e = normalize(Provider::Bota, "device.offline");
    assert_eq!(e.content.device.unwrap().hours_offline, Some(24.0));
}

#[test]
fn bota_seed_timeline_merges_to_completed_components() {
    let names = [
        "summary.completed",
        "transcription.started",
        "recording.uploaded",
        "transcription.completed",
        "recording.created",
        "summary.started",
    ];
    let events: Vec<_> = names.iter().map(|n| normalize(Provider::Bota, n)).collect();
    let record = merge(&events).unwrap();
    assert_eq!(record.subject_id, "rec_xyz789");
    let c = &record.components;
    assert_eq!(c.recording.as_ref().unwrap().status, Status::Uploaded);
    assert_eq!(c.transcript.as_ref().unwrap().status, Status::Completed);
    assert_eq!(c.summary.as_ref().unwrap().status, Status::Completed);
    assert_eq!(record.events.len(), 6);
    assert_eq!(record.updated_at, ts("2025-01-15T10:08:00Z"));
}

#[test]
fn bota_unknown_types_are_other_not_errors() {
    let body = br#"{"id":"evt_new","type":"consent.revoked","created_at":"2025-02-01T00:00:00Z","data":{"id":"rec_1"}}"#;
    let e = Provider::Bota.normalize(&HeaderMap::new(), body).unwrap();
    assert_eq!(
        (e.category, e.status, e.subject_id.as_str()),
        (Category::Other, Status::Info, "rec_1")
    );
}

// --- Nabla ------------------------------------------------------------------------------

#[test]
fn nabla_note_sections_keep_keys_titles_and_text() {
    let e = normalize(Provider::Nabla, "generate_note_async.succeeded");
    assert_eq!((e.category, e.status), (Category::Note, Status::Completed));
    assert_eq!(e.subject_id, "4b1f8c2e-6a7d-4e9b-8c3f-1a2b3c4d5e6f");
    assert_eq!(e.related["client_request_id"], "visit-2025-03-04-0915");
    assert_eq!(e.occurred_at.to_string(), "2025-03-04T09:15:02.12Z");
    let note = e.content.note.unwrap();
    assert_eq!(note.title.as_deref(), Some("Sleep disorder follow-up"));
    let keys: Vec<_> = note.sections.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "CHIEF_COMPLAINT",
            "HISTORY_OF_PRESENT_ILLNESS",
            "ASSESSMENT_AND_PLAN"
        ]
    );
    assert_eq!(note.sections[0].title.as_deref(), Some("Chief complaint"));
    assert_eq!(note.sections[0].text, "Sleep disorder");
}

#[test]
fn nabla_transcript_roles_and_milliseconds() {
    let e = normalize(Provider::Nabla, "transcribe_async.succeeded");
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Completed)
    );
    let t = e.content.transcript.unwrap();
    let s: Vec<_> = t
        .segments
        .iter()
        .map(|s| (s.start_ms, s.end_ms, s.role))
        .collect();
    assert_eq!(
        s,
        [
            (0, 1800, Some(Role::Clinician)),
            (2100, 5350, Some(Role::Patient)),
            (5400, 5900, Some(Role::Unknown)),
        ]
    );
    assert_eq!(t.segments[0].speaker.as_deref(), Some("DOCTOR"));
    assert_eq!(t.duration_ms, Some(5900));
}

#[test]
fn nabla_aliases_and_lowercase_statuses_of_older_api_versions() {
    let body = br#"{"id":"w","type":"transcribe_async.succeeded","created_at":"2024-04-22T00:00:00Z","data":{"id":"r","status":"succeeded","payload":{"transcript":[{"text":"hi","speaker":"patient","start_time_ms":10,"end_time_ms":20}]}}}"#;
    let e = Provider::Nabla.normalize(&HeaderMap::new(), body).unwrap();
    let seg = &e.content.transcript.unwrap().segments[0];
    assert_eq!(
        (seg.start_ms, seg.end_ms, seg.role),
        (10, 20, Some(Role::Patient))
    );
}

#[test]
fn nabla_failures() {
    let e = normalize(Provider::Nabla, "generate_note_async.failed");
    assert_eq!((e.category, e.status), (Category::Note, Status::Failed));
    let err = e.content.error.unwrap();
    assert_eq!(err.code, "transcript_too_short");
    assert_eq!(
        err.message,
        "We can't generate the note when the transcript is too short"
    );
    let e = normalize(Provider::Nabla, "transcribe_async.failed");
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Failed)
    );
    assert_eq!(e.content.error.unwrap().code, "failed");
    assert!(!e.related.contains_key("client_request_id"));
}

// --- Prosa ------------------------------------------------------------------------------

fn prosa_headers(event: &str, uuid: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-prosa-event", HeaderValue::from_str(event).unwrap());
    h.insert("x-prosa-event-uuid", HeaderValue::from_str(uuid).unwrap());
    h
}

#[test]
fn prosa_bare_job_and_envelope_normalize_alike() {
    let uuid = "a7a26ff2-e851-45b6-9634-d595f45458b7";
    let bare = normalize_with(
        Provider::Prosa,
        &prosa_headers("stt.jobs.completed", uuid),
        "stt.jobs.completed",
    );
    let wrapped = normalize_with(
        Provider::Prosa,
        &prosa_headers("stt.jobs.completed", uuid),
        "stt.jobs.completed.envelope",
    );
    // Each is identified by its own signed bytes (issue 8.4); everything else agrees.
    assert_eq!(
        bare.event_id,
        scribehook::providers::body_event_id(&payload("prosa", "stt.jobs.completed"))
    );
    assert_eq!(bare.related["delivery_id"], uuid);
    assert_eq!(
        wrapped.related["webhook_event_id"],
        "497f6eca-6276-4993-bfeb-53cbbbba6f08"
    );
    let same = |mut e: NormalizedEvent| {
        e.event_id.clear();
        e.related.remove("webhook_event_id");
        e
    };
    assert_eq!(same(bare.clone()), same(wrapped));
    assert_eq!(
        (bare.category, bare.status),
        (Category::Transcript, Status::Completed)
    );
    assert_eq!(bare.subject_id, "063c64da-180d-731e-8000-d11a28529080");
    assert_eq!(bare.occurred_at.to_string(), "2023-01-17T14:26:26.619771Z");
    let t = bare.content.transcript.unwrap();
    assert_eq!(t.language.as_deref(), Some("Bahasa Indonesia"));
    assert_eq!(t.duration_ms, Some(6767));
    let s = &t.segments[0];
    assert_eq!(
        (s.start_ms, s.end_ms, s.speaker.as_deref()),
        (1000, 6470, Some("1"))
    );
    assert_eq!(s.text, "hasil dari pekerjaan ini cukup memuaskan");

    // Without headers the envelope still names its type.
    let e = normalize(Provider::Prosa, "stt.jobs.completed.envelope");
    assert!(e.event_id.starts_with("sha256-"));
    assert_eq!(e.event_type, "stt.jobs.completed");
}

#[test]
fn prosa_failed_singular_spelling_and_unknown_types() {
    let e = normalize_with(
        Provider::Prosa,
        &prosa_headers("stt.job.failed", "u-1"),
        "stt.jobs.failed",
    );
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Failed)
    );
    assert_eq!(e.subject_id, "063c64db-0000-7000-8000-aaaaaaaaaaaa");
    assert_eq!(
        e.content.error.unwrap().message,
        "Audio could not be decoded"
    );
    // A ping is not a job: grouped under its own (digest) id, not the unsigned uuid.
    let e = Provider::Prosa
        .normalize(&prosa_headers("webhook.ping", "u-2"), b"{}")
        .unwrap();
    assert_eq!(
        (e.category, e.status, e.subject_id.as_str()),
        (Category::Other, Status::Info, e.event_id.as_str())
    );
}

#[test]
fn partial_results_are_left_out() {
    let body = br#"{"job_id":"j","result":{"data":[{"final":false,"time_start":0,"time_end":1,"transcript":"hel"},{"final":true,"time_start":0,"time_end":1.5,"transcript":"hello"}]}}"#;
    let e = Provider::Prosa
        .normalize(&prosa_headers("stt.jobs.completed", "u"), body)
        .unwrap();
    let t = e.content.transcript.unwrap();
    assert_eq!(t.segments.len(), 1);
    assert_eq!(t.text.as_deref(), Some("hello"));
}

// --- Malformed bodies -------------------------------------------------------------------

#[test]
fn malformed_bodies_are_errors_for_every_provider() {
    for provider in Provider::ALL {
        let h = prosa_headers("stt.jobs.completed", "u");
        for body in [&b"not json"[..], b"[]", b"{\"id\":1}", b"\xff\xfe"] {
            assert!(
                provider.normalize(&h, body).is_err(),
                "{provider}: {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
    // A known type whose payload has the wrong shape is malformed too.
    let body = br#"{"id":"e","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{"segments":"nope"}}"#;
    assert!(Provider::Bota.normalize(&HeaderMap::new(), body).is_err());
}

// --- No PHI in parse errors (issue 8.5) --------------------------------------------------

/// A wrong-typed field's text must not reach the error (which is logged and answered):
/// the message names the JSON path and the expected type only.
#[test]
fn parse_errors_name_the_path_and_type_never_the_value() {
    const PHI: &str = "Jane Roe, DOB 1961-02-03, HIV positive";
    let cases: [(Provider, HeaderMap, String, &str, &str); 4] = [
        (
            Provider::Bota,
            HeaderMap::new(),
            format!(
                r#"{{"id":"evt_1","type":"transcription.completed","created_at":"2025-01-15T10:07:00Z","data":{{"id":"t","recording_id":"r","duration_seconds":"{PHI}"}}}}"#
            ),
            "data.duration_seconds",
            "f64",
        ),
        (
            Provider::Daily,
            HeaderMap::new(),
            format!(
                r#"{{"version":"1.0.0","type":"meeting.started","id":"m","payload":{{}},"event_ts":"{PHI}"}}"#
            ),
            "event_ts",
            "f64",
        ),
        (
            Provider::Nabla,
            HeaderMap::new(),
            format!(
                r#"{{"id":"w","type":"transcribe_async.succeeded","created_at":"2025-03-04T09:14:40Z","data":{{"id":"r","status":"SUCCEEDED","payload":{{"transcript":[{{"text":"hi","speaker_type":"DOCTOR","start_offset_ms":"{PHI}","end_offset_ms":1}}]}}}}}}"#
            ),
            "data.payload.transcript[0].start_offset_ms",
            "f64",
        ),
        (
            Provider::Prosa,
            prosa_headers("stt.jobs.completed", "u-phi"),
            format!(
                r#"{{"job_id":"j","result":{{"data":[{{"final":true,"time_start":"{PHI}","time_end":1,"transcript":"x"}}]}}}}"#
            ),
            "result.data[0].time_start",
            "f64",
        ),
    ];
    for (provider, headers, body, path, expected) in cases {
        let err = provider
            .normalize(&headers, body.as_bytes())
            .expect_err(provider.as_str())
            .to_string();
        assert!(err.contains(path), "{provider}: {err}");
        assert!(err.contains(expected), "{provider}: {err}");
        for fragment in ["Jane", "Roe", "1961", "HIV"] {
            assert!(
                !err.contains(fragment),
                "{provider} leaks {fragment}: {err}"
            );
        }
    }
}

/// Other shapes of serde error carry values too (`invalid value`, unknown variants, map
/// keys in paths): none of them reach the message.
#[test]
fn parse_errors_leak_nothing_whatever_the_shape() {
    let bodies: [&[u8]; 4] = [
        br#"{"id":"e","type":"recording.uploaded","created_at":"x","data":{"id":"r","file_size_bytes":-5551234}}"#,
        br#"{"id":"e","type":"recording.uploaded","created_at":"x","data":{"id":"r","consent_obtained":"SECRET-NAME"}}"#,
        br#"{"id":"e","type":"summary.completed","created_at":"x","data":{"id":"s","error":"SECRET-NAME"}}"#,
        br#"{"id":"e","type":"transcription.completed","data":{"segments":[{"start":0,"end":1,"text":"a","speaker":{"SECRET-NAME":1}}]}}"#,
    ];
    for body in bodies {
        let err = Provider::Bota
            .normalize(&HeaderMap::new(), body)
            .expect_err(&String::from_utf8_lossy(body))
            .to_string();
        assert!(!err.contains("SECRET") && !err.contains("5551234"), "{err}");
        assert!(err.contains("data."), "{err}");
    }
}

// --- Prosa as GL Speech sends it (issue 12.3) --------------------------------------------

#[test]
fn prosa_ping_is_recognized_and_stores_nothing_of_a_job() {
    let ping = prosa_headers("webhook.ping", "p-1");
    assert!(Provider::Prosa.is_ping(&ping, b"{}"));
    assert!(Provider::Prosa.is_ping(&ping, br#"{"message":"ping"}"#));
    // A job body under the ping header is not a ping; nor is another type, or provider.
    let job = payload("prosa", "stt.jobs.completed");
    assert!(!Provider::Prosa.is_ping(&ping, &job));
    assert!(!Provider::Prosa.is_ping(&prosa_headers("stt.jobs.completed", "u"), b"{}"));
    assert!(!Provider::Daily.is_ping(&ping, b"{}"));
    // A ping that reaches normalize (replay, the CLI) is "other", never a job.
    let e = Provider::Prosa.normalize(&ping, b"{}").unwrap();
    assert_eq!((e.category, e.status), (Category::Other, Status::Info));
    // The ping sample parses as one.
    let body = payload("prosa", "webhook.ping");
    assert!(Provider::Prosa.is_ping(&ping, &body));
}

#[test]
fn prosa_job_and_tts_types_and_the_complete_status() {
    let body = br#"{"job_id":"j-1","status":"complete","result":{"data":[{"final":true,"time_start":0,"time_end":1,"transcript":"halo"}]}}"#;
    for kind in ["stt.jobs.completed", "stt.job.completed"] {
        let e = Provider::Prosa
            .normalize(&prosa_headers(kind, "u"), body)
            .unwrap();
        assert_eq!(
            (e.category, e.status, e.event_type.as_str()),
            (Category::Transcript, Status::Completed, kind)
        );
        assert_eq!(e.content.transcript.unwrap().text.as_deref(), Some("halo"));
    }
    // tts jobs are accepted and recorded as "other".
    let tts = br#"{"job_id":"t-1","status":"complete"}"#;
    let e = Provider::Prosa
        .normalize(&prosa_headers("tts.job.completed", "u"), tts)
        .unwrap();
    assert_eq!((e.category, e.status), (Category::Other, Status::Completed));
    assert_eq!(e.subject_id, "t-1");
    // Without a status field the header names the type (the documented webhook body).
    let e = Provider::Prosa
        .normalize(
            &prosa_headers("stt.job.failed", "u"),
            br#"{"job_id":"j-2","error":"Audio could not be decoded"}"#,
        )
        .unwrap();
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Failed)
    );
    // The sample of the new spelling normalizes like the documented one.
    let e = normalize_with(
        Provider::Prosa,
        &prosa_headers("stt.job.completed", "u"),
        "stt.job.completed",
    );
    assert_eq!(
        (e.category, e.status),
        (Category::Transcript, Status::Completed)
    );
}

// --- Prosa: the signed body decides, not the unsigned headers (issue 8.4) ----------------

#[test]
fn prosa_bodies_that_are_not_jobs_are_malformed() {
    for body in [
        &b"{}"[..],
        br#"{"job_id":""}"#,
        br#"{"result":{"data":[]}}"#,
    ] {
        for kind in ["stt.jobs.completed", "stt.jobs.failed", "tts.job.completed"] {
            let err = Provider::Prosa
                .normalize(&prosa_headers(kind, "u"), body)
                .expect_err(kind);
            assert!(err.to_string().contains("job_id"), "{err}");
        }
    }
}

#[test]
fn prosa_headers_that_contradict_the_body_are_malformed() {
    let failed = br#"{"job_id":"j","status":"failed","error":"x"}"#;
    let complete = br#"{"job_id":"j","status":"complete"}"#;
    for (kind, body) in [
        ("stt.jobs.completed", &failed[..]),
        ("stt.job.completed", failed),
        ("stt.jobs.failed", complete),
        ("webhook.ping", complete),
    ] {
        assert!(
            Provider::Prosa
                .normalize(&prosa_headers(kind, "u"), body)
                .is_err(),
            "{kind} over {}",
            String::from_utf8_lossy(body)
        );
    }
    // An envelope's (signed) event_type outranks a header that disagrees with it.
    let wrapped = payload("prosa", "stt.jobs.completed.envelope");
    assert!(Provider::Prosa
        .normalize(&prosa_headers("stt.jobs.failed", "u"), &wrapped)
        .is_err());
    // Without any header the body's status names the type.
    let e = Provider::Prosa
        .normalize(&HeaderMap::new(), complete)
        .unwrap();
    assert_eq!(
        (e.event_type.as_str(), e.status),
        ("stt.jobs.completed", Status::Completed)
    );
}

#[test]
fn prosa_events_are_identified_by_the_signed_body() {
    let body = payload("prosa", "stt.jobs.completed");
    let first = Provider::Prosa
        .normalize(&prosa_headers("stt.jobs.completed", "uuid-1"), &body)
        .unwrap();
    let replayed = Provider::Prosa
        .normalize(&prosa_headers("stt.jobs.completed", "uuid-2"), &body)
        .unwrap();
    assert_eq!(first.event_id, scribehook::providers::body_event_id(&body));
    assert_eq!(first.event_id, replayed.event_id);
    assert_eq!(first.related["delivery_id"], "uuid-1");
    assert_eq!(replayed.related["delivery_id"], "uuid-2");
}
