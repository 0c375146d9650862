//! The committed sample events (events/, from `make events`) through the real Lambda
//! handlers with local file stores: every API Gateway v2 and v1 sample is accepted, and
//! the SQS samples then process into records. The clock is pinned to the instant the
//! samples were signed (events/manifest.json), never the tolerance loosened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;

use common::{manifest, sample_config, samples};
use lambda_runtime::{Context, LambdaEvent};
use scribehook::entrypoints::{app, lambda};
use scribehook::storage::file::FileBlobs;
use scribehook::storage::records::{BlobRecordStore, RecordStore};
use scribehook::{Provider, Timestamp};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn event<T: serde::de::DeserializeOwned>(path: &Path) -> LambdaEvent<T> {
    let payload = serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    LambdaEvent::new(payload, Context::default())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scribehook-events-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn every_sample_is_accepted_by_the_ingest_then_processed() {
    let signed_at = manifest()["signed_at"].as_i64().unwrap();
    for kind in ["apigw-v2", "apigw-v1"] {
        let dir = temp_dir(kind);
        let (mut config, clients) = sample_config(&dir, &[]);
        // Queue mode is what the samples model; here the queue is the SQS samples below.
        config.queue_url = None;
        let ingest = app::ingest(
            &config,
            &clients,
            Arc::new(move || Timestamp::from_unix(signed_at).unwrap()),
        )
        .await;
        let files = samples(kind);
        assert!(files.len() >= 25, "{kind}: {} samples", files.len());
        for file in &files {
            let response = lambda::ingest_handler(&ingest, event(file)).await.unwrap();
            assert_eq!(
                response.status(),
                200,
                "{}: {}",
                file.display(),
                response.body()
            );
            let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
            // A provider's test delivery is answered and not stored.
            let expected = if file.ends_with("webhook.ping.json") {
                "ok"
            } else {
                "accepted"
            };
            assert_eq!(body["status"], expected, "{}", file.display());
        }

        // Processing again through the SQS samples is idempotent: same records.
        let store = BlobRecordStore::new(Arc::new(FileBlobs::new(&dir)));
        let before = store
            .get_record(Provider::Bota, "rec_xyz789")
            .await
            .unwrap()
            .expect("bota record");
        let processor = app::processor(&config, &clients).await;
        for file in std::fs::read_dir(events_dir().join("sqs")).unwrap() {
            let response = lambda::processor_handler(&processor, event(&file.unwrap().path()))
                .await
                .unwrap();
            assert!(response.batch_item_failures.is_empty());
        }
        let after = store
            .get_record(Provider::Bota, "rec_xyz789")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(
            after.events.len(),
            9,
            "the nine recording, transcription and summary samples"
        );
        let nabla = store
            .get_record(Provider::Nabla, "4b1f8c2e-6a7d-4e9b-8c3f-1a2b3c4d5e6f")
            .await
            .unwrap()
            .expect("nabla record");
        assert_eq!(
            nabla
                .components
                .note
                .unwrap()
                .content
                .note
                .unwrap()
                .sections
                .len(),
            3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn samples_go_stale_and_are_refused_later() {
    let signed_at = manifest()["signed_at"].as_i64().unwrap();
    let dir = temp_dir("stale");
    let (config, clients) = sample_config(&dir, &[]);
    let ingest = app::ingest(
        &config,
        &clients,
        Arc::new(move || Timestamp::from_unix(signed_at + 301).unwrap()),
    )
    .await;
    let file = events_dir().join("apigw-v2/bota/recording.created.json");
    let response = lambda::ingest_handler(&ingest, event(&file)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.body().contains("stale_timestamp"));
    assert!(
        !dir.join("raw").exists(),
        "nothing stored for a refused delivery"
    );
}
