//! `scribehook replay` re-processes archived deliveries into the configured STORE,
//! idempotently: against local files, and against S3 + DynamoDB in moto_server through the
//! real binary with `AWS_ENDPOINT_URL` (the standard SDK variable) pointing at moto.

mod common;

use std::process::Command;

use common::*;
use scribehook::storage::records::RecordStore;
use scribehook::Provider;

fn replay(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_scribehook"))
        .arg("replay")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const TIMELINE: [&str; 6] = [
    "recording.created",
    "recording.uploaded",
    "transcription.started",
    "transcription.completed",
    "summary.started",
    "summary.completed",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_file_records_idempotently() {
    let dir = std::env::temp_dir().join(unique("scribehook-replay"));
    let uri = format!("file://{}", dir.display());
    let config = scribehook::config::Config::from_lookup(|k| match k {
        "BOTA_WEBHOOK_SECRETS" => Some(secret(Provider::Bota).to_owned()),
        "ARCHIVE" | "STORE" => Some(uri.clone()),
        _ => None,
    })
    .unwrap();
    let ingest = scribehook::entrypoints::app::ingest(&config, &clients().await, clock()).await;
    for name in TIMELINE {
        let body = payload(Provider::Bota, name);
        let headers = signed_headers(Provider::Bota, &body, None, None);
        let (status, reply, _) = invoke(
            &ingest,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    let record_path = dir.join("records/bota/rec_xyz789/record.json");
    let original = std::fs::read(&record_path).unwrap();
    // A lost or stale record (a bad deploy, a schema change) is rebuilt from the archive.
    std::fs::remove_dir_all(dir.join("records")).unwrap();
    let env = [("STORE", uri.as_str())];
    let report = replay(&["--archive", &uri, "--provider", "bota"], &env);
    assert_eq!(report["deliveries"], 6);
    assert_eq!(report["records"], 1);
    let rebuilt = std::fs::read(&record_path).unwrap();
    // The same record, its bookkeeping aside: a record rebuilt from nothing is written
    // once, so its revision starts again (docs/behaviour.md#revisions-and-publication).
    let (rebuilt_record, original_record): (scribehook::Record, scribehook::Record) = (
        serde_json::from_slice(&rebuilt).unwrap(),
        serde_json::from_slice(&original).unwrap(),
    );
    assert!(rebuilt_record.same_content(&original_record));
    assert_eq!((original_record.revision, rebuilt_record.revision), (6, 1));
    // Again: nothing changes.
    replay(&["--archive", &uri], &env);
    assert_eq!(std::fs::read(&record_path).unwrap(), rebuilt);
    // --since after every delivery touches nothing.
    let report = replay(
        &["--archive", &uri, "--since", "2030-01-01T00:00:00Z"],
        &env,
    );
    assert_eq!(report["records"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_dynamodb_records_from_an_s3_archive() {
    let stack = Stack::new(vec![]).await;
    for name in TIMELINE {
        let body = payload(Provider::Bota, name);
        let headers = signed_headers(Provider::Bota, &body, None, None);
        let (status, _, _) = invoke(
            &stack.ingest,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Only half the queue was processed before "the processor broke".
    let messages = stack.receive().await;
    scribehook::entrypoints::lambda::processor_handler(&stack.processor, sqs_event(&messages[..3]))
        .await
        .unwrap();
    let partial = stack
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(partial.events.len(), 3);

    let archive = format!("s3://{}/archive", stack.bucket);
    let store = format!("dynamodb://{}", stack.table);
    let env = [
        ("AWS_ENDPOINT_URL", moto().endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("STORE", store.as_str()),
    ];
    let report = replay(&["--archive", &archive, "--provider", "bota"], &env);
    assert_eq!(report["deliveries"], 6, "{report}");
    let full = stack
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(full.events.len(), 6);
    assert_eq!(
        full.components.summary.as_ref().unwrap().event_id,
        "evt_mno345"
    );

    // The same record the live path builds: process the rest of the queue elsewhere.
    let reference = Stack::new(vec![]).await;
    for name in TIMELINE {
        let body = payload(Provider::Bota, name);
        let headers = signed_headers(Provider::Bota, &body, None, None);
        invoke(
            &reference.ingest,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
    }
    let all = reference.receive().await;
    scribehook::entrypoints::lambda::processor_handler(&reference.processor, sqs_event(&all))
        .await
        .unwrap();
    let mut live = reference
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    // raw_location names each stack's own bucket; everything else must agree but the
    // bookkeeping (the live path wrote the record once per event, replay twice).
    let strip = |r: &mut scribehook::Record| {
        r.revision = 0;
        serde_json::to_value(r)
            .unwrap()
            .to_string()
            .replace(&reference.bucket, "B")
            .replace(&stack.bucket, "B")
    };
    assert_eq!(strip(&mut live), strip(&mut full.clone()));

    // Idempotent.
    replay(&["--archive", &archive], &env);
    assert_eq!(
        stack
            .dynamodb
            .get_record(Provider::Bota, "rec_xyz789")
            .await
            .unwrap()
            .unwrap(),
        full
    );
}
