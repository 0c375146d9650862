//! The `scribehook` binary end to end: `verify` against deliveries signed by independent
//! implementations (Python's hmac/hashlib, pinned in tests/signatures.rs), `sign`, and
//! `normalize` on the documented examples.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn scribehook(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scribehook"))
        .args(args)
        .env_remove("SIGNATURE_TOLERANCE_SECONDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

const BOTA_BODY: &[u8] = br#"{"id":"evt_abc123","type":"recording.created","created_at":"2025-01-15T10:00:00Z","data":{"id":"rec_xyz789","status":"created"}}"#;
const BOTA_SIG: &str =
    "X-Bota-Signature: v1=0eb66a00e7536ca93d96e6f73f059b5b6bde9cb301c32d30f8bc93586571204b";

fn verify_bota(headers: &[&str], body: &[u8], now: &str) -> Output {
    let mut args = vec![
        "verify",
        "--provider",
        "bota",
        "--secret",
        "whsec_scribehook_test_5f2b8c",
        "--now",
        now,
    ];
    for h in headers {
        args.extend(["--header", h]);
    }
    scribehook(&args, body)
}

#[test]
fn verify_accepts_independently_signed_deliveries() {
    let o = verify_bota(
        &[BOTA_SIG, "X-Bota-Timestamp: 1736937000"],
        BOTA_BODY,
        "1736937000",
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "valid");

    let daily_body = br#"{"id":"evt_1","type":"participant.joined","payload":{"room":"balo-abc"}}"#;
    let o = scribehook(
        &[
            "verify",
            "--provider",
            "daily",
            "--secret",
            "YS0zMi1ieXRlLWRhaWx5LXdlYmhvb2stc2VjcmV0ISE=",
            "--now",
            "2026-08-14T10:01:00Z",
            "-H",
            "X-Webhook-Signature: zVwFNQPyiHPmH63FPrudklOf81G7/0w7r1P9kxaGh8k=",
            "-H",
            "X-Webhook-Timestamp: 1786701600",
        ],
        daily_body,
    );
    assert_eq!(stdout(&o), "valid", "{o:?}");

    let prosa_body = br#"{"job_id":"063c64da-180d-731e-8000-d11a28529080","result":{"data":[{"final":true,"channel":0,"time_end":6.47,"time_start":1,"transcript":"hasil dari pekerjaan ini cukup memuaskan","speaker_tag":1}]},"created_at":"2023-01-17T14:26:25.505439","modified_at":"2023-01-17T14:26:26.619771"}"#;
    let o = scribehook(
        &[
            "verify", "--provider", "prosa",
            "--secret", "a35837907f71e9eaf52848b54ca11135187e9e30e23f2ac001eabbc3321e9bdd",
            "--now", "1673940400",
            "-H", "X-Prosa-Signature: t=1673940396,v1=256518eacabdbc6f971639524496a1cf5f9589001a5dea531892b12ac43f80e9",
            "-H", "X-Prosa-Event: stt.jobs.completed",
            "-H", "X-Prosa-Event-UUID: a7a26ff2-e851-45b6-9634-d595f45458b7",
        ],
        prosa_body,
    );
    assert_eq!(stdout(&o), "valid", "{o:?}");

    let nabla_body = br#"{"id":"wh_1","type":"transcribe_async.failed","created_at":"2025-01-15T10:30:00Z","data":{"id":"req_1","status":"FAILED","payload":{}}}"#;
    let o = scribehook(
        &[
            "verify", "--provider", "nabla", "--secret", "nabla-test-secret-7c1e", "--now", "1736937000",
            "-H", "x-nabla-webhook-signature: 1742c363e73cc369af95771c6ea4fc4efbeda93c43720c01fb5329eae43cc529",
            "-H", "x-nabla-webhook-timestamp: 2025-01-15T10:30:00Z",
        ],
        nabla_body,
    );
    assert_eq!(stdout(&o), "valid", "{o:?}");
}

#[test]
fn verify_rejections_print_the_contract_code_and_exit_1() {
    let ts = "X-Bota-Timestamp: 1736937000";
    let mut tampered = BOTA_BODY.to_vec();
    tampered[20] ^= 1;
    let cases: Vec<(Vec<&str>, &[u8], &str, &str)> = vec![
        (
            vec![BOTA_SIG, ts],
            &tampered,
            "1736937000",
            "invalid_signature",
        ),
        (
            vec![BOTA_SIG, ts],
            BOTA_BODY,
            "1736937301",
            "stale_timestamp",
        ),
        (
            vec![BOTA_SIG, ts],
            BOTA_BODY,
            "1736936699",
            "stale_timestamp",
        ),
        (
            vec!["X-Bota-Signature: ", ts],
            BOTA_BODY,
            "1736937000",
            "missing_signature",
        ),
        (
            vec!["X-Bota-Signature: v1=0eb66a00e7536ca9", ts],
            BOTA_BODY,
            "1736937000",
            "invalid_signature",
        ),
        (
            vec![BOTA_SIG, BOTA_SIG, ts],
            BOTA_BODY,
            "1736937000",
            "missing_signature",
        ),
        (vec![ts], BOTA_BODY, "1736937000", "missing_signature"),
    ];
    for (headers, body, now, code) in cases {
        let o = verify_bota(&headers, body, now);
        assert_eq!(o.status.code(), Some(1), "{headers:?} {o:?}");
        assert_eq!(stdout(&o), code, "{headers:?}");
        assert!(!o.stderr.is_empty());
    }
    let o = scribehook(
        &[
            "verify",
            "--provider",
            "bota",
            "--secret",
            "whsec_wrong",
            "--now",
            "1736937000",
            "-H",
            BOTA_SIG,
            "-H",
            ts,
        ],
        BOTA_BODY,
    );
    assert_eq!(stdout(&o), "invalid_signature");
}

#[test]
fn sign_then_verify_round_trips_for_every_provider() {
    let secrets = [
        (
            "daily",
            "c2NyaWJlaG9vay1kYWlseS10ZXN0LXNlY3JldC0wMDAx",
            "daily/batch-processor.job-finished",
        ),
        ("bota", "whsec_demo", "bota/transcription.completed"),
        ("nabla", "nabla-demo", "nabla/generate_note_async.succeeded"),
        ("prosa", "prosa-demo", "prosa/stt.jobs.completed"),
    ];
    for (provider, secret, payload) in secrets {
        let body = std::fs::read(format!(
            "{}/events/payloads/{payload}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let o = scribehook(
            &[
                "sign",
                "--provider",
                provider,
                "--secret",
                secret,
                "--timestamp",
                "1736937000",
                "--event-type",
                "stt.jobs.completed",
                "--event-id",
                "e-1",
            ][..if provider == "prosa" { 11 } else { 7 }],
            &body,
        );
        assert!(o.status.success(), "{o:?}");
        let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        let mut args = vec![
            "verify",
            "--provider",
            provider,
            "--secret",
            secret,
            "--now",
            "1736937000",
        ];
        for l in &lines {
            args.extend(["-H", l.as_str()]);
        }
        assert_eq!(
            stdout(&scribehook(&args, &body)),
            "valid",
            "{provider}: {lines:?}"
        );
    }
}

/// Nabla Connect through the binary (docs/cli.md#nabla-connect): a delivery signed by an
/// independent implementation verifies, `sign` writes exactly those headers, a timestamp
/// 61 s old is `stale_timestamp` under the provider's own 60 s default window, and
/// `normalize` prints the note with its diagnoses.
#[test]
fn nabla_connect_signs_verifies_and_normalizes() {
    const BODY: &[u8] = br#"{"request_uuid":"3f6c2a9e-7d41-4b8a-9c2e-5a1d0e7f4b21","type":"NOTE_EXPORT","data":{"external_patient_id":"p-1","external_encounter_id":"enc-1","external_provider_id":"dr-1","note":{"sections":[{"title":"Chief complaint","category":"CHIEF_COMPLAINT","content":"Right knee pain."}]},"visit_diagnoses":[{"system":"ICD-10","code":"M25.561","display":"Pain in right knee","is_hcc":false,"is_mcc":false}]}}"#;
    const SECRET: &str = "nabla-connect-test-secret-3e9a";
    // Python's hmac: hex(HMAC-SHA256(secret, timestamp text ‖ body)), no separator.
    const SIGNATURE: &str = "x-nabla-connect-signature: 58e90167becb866b7ad3389b24ccbb07a82c55d811537087ebe68303ce1ba7e1";
    const TIMESTAMP: &str = "x-nabla-connect-timestamp: 2026-12-07T09:15:00Z";
    const SIGNED_AT: i64 = 1_796_634_900;
    // Only the provider's own default window may apply.
    let run = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scribehook"))
            .args(args)
            .env_remove("SIGNATURE_TOLERANCE_SECONDS")
            .env_remove("NABLA_CONNECT_SIGNATURE_TOLERANCE_SECONDS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(BODY).unwrap();
        child.wait_with_output().unwrap()
    };
    let verify = |headers: &[&str], now: i64| {
        let now = now.to_string();
        let mut args = vec![
            "verify",
            "--provider",
            "nabla-connect",
            "--secret",
            SECRET,
            "--now",
            &now,
        ];
        for h in headers {
            args.extend(["-H", h]);
        }
        run(&args)
    };

    let o = verify(&[SIGNATURE, TIMESTAMP], SIGNED_AT);
    assert_eq!(stdout(&o), "valid", "{o:?}");

    let o = run(&[
        "sign",
        "--provider",
        "nabla-connect",
        "--secret",
        SECRET,
        "--timestamp",
        &SIGNED_AT.to_string(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let mut signed: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    signed.sort();
    assert_eq!(signed, [SIGNATURE, TIMESTAMP]);
    let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
    assert_eq!(stdout(&verify(&signed, SIGNED_AT + 60)), "valid");
    let o = verify(&signed, SIGNED_AT + 61);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(stdout(&o), "stale_timestamp");
    let o = verify(&[SIGNATURE, TIMESTAMP], SIGNED_AT - 61);
    assert_eq!(stdout(&o), "stale_timestamp", "a timestamp 61 s ahead");
    // A rotation: the header lists one signature per secret.
    let o = verify(
        &[
            "x-nabla-connect-signature: 00ff, 58e90167becb866b7ad3389b24ccbb07a82c55d811537087ebe68303ce1ba7e1",
            TIMESTAMP,
        ],
        SIGNED_AT,
    );
    assert_eq!(stdout(&o), "valid", "{o:?}");

    let o = run(&["normalize", "--provider", "nabla-connect", "-H", TIMESTAMP]);
    assert!(o.status.success(), "{o:?}");
    let event: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(event["provider"], "nabla-connect");
    assert_eq!(event["category"], "note");
    assert_eq!(event["status"], "completed");
    assert_eq!(event["event_id"], "3f6c2a9e-7d41-4b8a-9c2e-5a1d0e7f4b21");
    assert_eq!(event["subject_id"], "enc-1");
    assert_eq!(event["occurred_at"], "2026-12-07T09:15:00Z");
    assert_eq!(event["note"]["sections"][0]["key"], "CHIEF_COMPLAINT");
    assert_eq!(event["diagnoses"][0]["code"], "M25.561");
    assert_eq!(event["diagnoses"][0]["display"], "Pain in right knee");
}

#[test]
fn normalize_prints_schema_v1_events() {
    let body = std::fs::read(format!(
        "{}/events/payloads/bota/transcription.completed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let o = scribehook(&["normalize", "--provider", "bota"], &body);
    assert!(o.status.success(), "{o:?}");
    let event: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(event["schema_version"], "1");
    assert_eq!(event["subject_id"], "rec_xyz789");
    assert_eq!(event["transcript"]["segments"][1]["start_ms"], 2800);

    let body = std::fs::read(format!(
        "{}/events/payloads/prosa/stt.jobs.completed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let o = scribehook(
        &[
            "normalize",
            "--provider",
            "prosa",
            "-H",
            "X-Prosa-Event: stt.jobs.completed",
            "-H",
            "X-Prosa-Event-UUID: u-1",
        ],
        &body,
    );
    let event: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The signed body identifies a Prosa event; the unsigned delivery UUID is kept beside.
    assert_eq!(
        event["event_id"],
        scribehook::providers::body_event_id(&body).as_str()
    );
    assert_eq!(event["related"]["delivery_id"], "u-1");
    assert_eq!(event["transcript"]["segments"][0]["end_ms"], 6470);

    let o = scribehook(&["normalize", "--provider", "nabla"], b"{not json");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("malformed_event"));
    let o = scribehook(&["normalize", "--provider", "zoom"], b"{}");
    assert!(!o.status.success());
}

/// Issue 17.12: `scribehook records` prints what providers sent (ids, types, transcript
/// text); a terminal control sequence in them is printed escaped, never executed, in the
/// summary and in `--json` alike.
#[tokio::test]
async fn records_print_control_characters_escaped() {
    use scribehook::record::{Category, EventDraft, OnDelete, Segment, Status, Transcript};
    use scribehook::storage::file::FileBlobs;
    use scribehook::storage::records::{merge_event, BlobRecordStore, RecordStore};
    use scribehook::{Provider, Timestamp};

    let dir = std::env::temp_dir().join(format!("scribehook-cli-records-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = BlobRecordStore::new(std::sync::Arc::new(FileBlobs::new(&dir)));
    let mut draft = EventDraft::new(
        "evt\u{1b}[2J",
        "transcription.completed\u{7}",
        Category::Transcript,
        "rec\u{1b}]0;owned\u{7}",
        Status::Completed,
        Timestamp::from_unix(1_700_000_000),
    );
    draft.content.transcript = Some(scribehook::record::Shared::new(Transcript {
        segments: vec![Segment {
            start_ms: 0,
            end_ms: 1000,
            speaker: Some("S\u{9b}31m".into()),
            role: None,
            text: "knee \u{1b}[31mpain\u{7f}".into(),
            confidence: None,
        }],
        ..Transcript::default()
    }));
    let event = draft.finish(
        Provider::Bota,
        Timestamp::from_unix(1_700_000_001).unwrap(),
        None,
    );
    store.put_event(&event).await.unwrap();
    merge_event(&store, &event, OnDelete::default())
        .await
        .unwrap();
    let uri = format!("file://{}", dir.display());
    for args in [
        vec!["records", "--store", &uri],
        vec!["records", "--store", &uri, "--json"],
    ] {
        let o = scribehook(&args, b"");
        assert!(o.status.success(), "{o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("rec"), "{text}");
        let control: Vec<char> = text
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        assert!(control.is_empty(), "{args:?} prints {control:?}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
