//! docs/behaviour.md#ids-in-keys, "any verified id is storable": event and subject ids of 2,048 characters
//! (and of characters that must be encoded) through the real ingest and processor into S3,
//! DynamoDB (moto enforces its key limits) and local files (the OS enforces 255-byte names),
//! then found again by replay.

mod common;

use std::sync::Arc;

use common::*;
use scribehook::entrypoints::app;
use scribehook::pipeline::process::Processor;
use scribehook::storage::file::FileBlobs;
use scribehook::storage::records::{BlobRecordStore, RecordStore};
use scribehook::Provider;
use serde_json::json;

/// A signed Bota transcription whose event id and recording id are `id` and `subject`.
fn long_delivery(id: &str, subject: &str) -> (Vec<u8>, Vec<(String, String)>) {
    let body = serde_json::to_vec(&json!({
        "id": id,
        "type": "transcription.completed",
        "created_at": "2025-01-15T10:07:00Z",
        "data": {
            "id": "txn_long",
            "recording_id": subject,
            "text": "Patient reports knee pain.",
            "segments": [{"start": 0.0, "end": 1.5, "text": "Patient reports knee pain.", "speaker": 0}]
        }
    }))
    .unwrap();
    let headers = signed_headers(Provider::Bota, &body, None, None);
    (body, headers)
}

fn ids() -> Vec<(String, String)> {
    vec![
        ("e".repeat(2048), "r".repeat(2048)),
        // Every character encoded three times over: 6,144 bytes after encoding.
        ("/".repeat(2048), "é".repeat(1024)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_2048_characters_reach_dynamodb_s3_and_replay() {
    let stack = Stack::new(vec![]).await;
    for (id, subject) in ids() {
        let (body, headers) = long_delivery(&id, &subject);
        for event in [
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
            apigw_v1("POST", "/webhooks/bota", &headers, &body, false),
        ] {
            let (status, reply, _) = invoke(&stack.ingest, event).await;
            assert_eq!(status, 200, "{reply}");
            assert_eq!(reply["event_id"], id.as_str());
        }
        assert_eq!(process_queue(&stack).await, 2);
        for store in [
            stack.dynamodb.clone() as Arc<dyn RecordStore>,
            stack.s3_records.clone(),
        ] {
            let record = store
                .get_record(Provider::Bota, &subject)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{}: no record", store.describe()));
            assert_eq!(record.subject_id, subject);
            assert!(record.contains(&id));
            let transcript = record.components.transcript.unwrap();
            assert_eq!(transcript.event_id, id);
        }
        assert!(stack
            .processor
            .archive()
            .list(Provider::Bota)
            .await
            .unwrap()
            .contains(&id));
    }
    let report = stack
        .processor
        .replay(&[Provider::Bota], None)
        .await
        .unwrap();
    assert_eq!(report.deliveries, 2, "{report:?}");
    assert_eq!(report.records, 2, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
}

#[tokio::test]
async fn ids_of_2048_characters_reach_a_file_store() {
    let dir = std::env::temp_dir().join(format!("scribehook-long-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    let vars = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", uri.clone()),
        ("STORE", uri),
    ];
    let config = scribehook::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let clients = clients().await;
    let ingest = app::ingest(&config, &clients, clock()).await;
    let store = BlobRecordStore::new(Arc::new(FileBlobs::new(&dir)));
    for (id, subject) in ids() {
        let (body, headers) = long_delivery(&id, &subject);
        let (status, reply, _) = invoke(
            &ingest,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let record = store
            .get_record(Provider::Bota, &subject)
            .await
            .unwrap()
            .expect("a record");
        assert!(record.contains(&id));
    }
    let processor: Processor = app::processor(&config, &clients).await;
    let report = processor.replay(&[Provider::Bota], None).await.unwrap();
    assert_eq!((report.deliveries, report.records), (2, 2), "{report:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
