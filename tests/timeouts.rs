//! docs/behaviour.md#timeouts: every AWS client has connect and operation timeouts, and the
//! ingest answers 503 with Retry-After within `INGEST_DEADLINE_MS` whatever hangs, never
//! running into the function's own timeout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use scribehook::config::{Config, Limits};
use scribehook::entrypoints::app;
use scribehook::pipeline::ingest::{Dispatch, Ingest};
use scribehook::storage::archive::Archive;
use scribehook::storage::records::RecordStore;
use scribehook::storage::{Blobs, Condition, Put, StoreError, Version};
use scribehook::Provider;

/// A TCP server that accepts connections and never answers: an S3 that hangs.
fn hanging_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

/// A TCP server that reads each request and closes the connection without an answer: a
/// dependency that drops its answers.
fn dropping_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            drop(stream);
        }
    });
    format!("http://{address}")
}

fn sdk_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::for_tests(),
            ),
        )
        .build()
}

/// Blobs that never finish anything: only the ingest's own deadline can end a request.
struct Stuck;

#[async_trait]
impl Blobs for Stuck {
    async fn get(&self, _: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        std::future::pending().await
    }
    async fn put(&self, _: &str, _: Bytes, _: Condition) -> Result<Put, StoreError> {
        std::future::pending().await
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        std::future::pending().await
    }
    async fn list(&self, _: &str) -> Result<Vec<String>, StoreError> {
        std::future::pending().await
    }
    fn location(&self, key: &str) -> String {
        format!("stuck://{key}")
    }
}

fn bota() -> (Vec<u8>, Vec<(String, String)>) {
    let body = payload(Provider::Bota, "recording.created");
    let headers = signed_headers(Provider::Bota, &body, None, None);
    (body, headers)
}

fn assert_unavailable(status: u16, reply: &serde_json::Value, retry_after: Option<&str>) {
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "unavailable");
    assert_eq!(retry_after, Some("30"));
}

/// The real ingest archiving to an S3 at `endpoint`, with a deadline well past the SDK's
/// budgets, so the SDK's timeouts are what answer.
async fn s3_ingest(endpoint: &str) -> Ingest {
    let clients = app::Clients::from_sdk_config(&sdk_at(endpoint));
    let vars = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", "s3://faulty/archive".to_owned()),
        ("STORE", "s3://faulty".to_owned()),
        ("INGEST_DEADLINE_MS", "60000".to_owned()),
    ];
    let config =
        Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap();
    app::ingest(&config, &clients, clock()).await
}

/// A Bota delivery in both API Gateway shapes is answered 503 with Retry-After; `why` says
/// what would make it hang otherwise.
async fn assert_both_unavailable(ingest: &Ingest, why: &str) {
    let (body, headers) = bota();
    for event in [
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        apigw_v1("POST", "/webhooks/bota", &headers, &body, false),
    ] {
        let (status, reply, response) =
            tokio::time::timeout(Duration::from_secs(50), invoke(ingest, event))
                .await
                .expect(why);
        assert_unavailable(
            status,
            &reply,
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_s3_is_a_503_from_the_sdk_timeouts() {
    let ingest = s3_ingest(&hanging_endpoint()).await;
    assert_both_unavailable(
        &ingest,
        "without SDK timeouts the request would hang until the test harness gives up",
    )
    .await;
}

#[tokio::test]
async fn the_ingest_answers_503_when_its_deadline_is_spent() {
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let processor = {
        let dir = std::env::temp_dir().join(format!("scribehook-deadline-{}", std::process::id()));
        let uri = format!("file://{}", dir.display());
        let vars = [("ARCHIVE", uri.clone()), ("STORE", uri)];
        let config =
            Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
                .unwrap();
        app::processor(&config, &clients().await).await
    };
    let ingest = Ingest::new(
        all_secrets(),
        Archive::new(Arc::new(Stuck)),
        Dispatch::Inline(Arc::new(processor)),
        limits,
    )
    .with_clock(clock());
    assert_both_unavailable(&ingest, "the deadline ends the request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_that_drops_its_answers_is_a_503_and_nothing_is_acknowledged() {
    let ingest = s3_ingest(&dropping_endpoint()).await;
    assert_both_unavailable(&ingest, "an answer within the SDK's budgets").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_that_drops_or_hangs_is_retried_by_the_processor_then_recovered() {
    let stack = Stack::new(vec![]).await;
    let (body, headers) = bota();
    let (status, _, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200);
    let messages = stack.receive().await;
    assert_eq!(messages.len(), 1);
    for endpoint in [dropping_endpoint(), hanging_endpoint()] {
        let broken = app::Clients::from_sdk_config(&sdk_at(&endpoint));
        let store: Arc<dyn scribehook::storage::records::RecordStore> =
            Arc::new(scribehook::storage::dynamodb::DynamoDbStore::new(
                broken.dynamodb().await,
                stack.table.clone(),
                None,
            ));
        let processor = scribehook::pipeline::process::Processor::new(
            stack.processor.archive().clone(),
            vec![store],
            scribehook::providers::daily::outputs::Fetcher::new(
                Arc::new(scribehook::aws::S3Outputs::new(stack.clients.clone())),
                vec![],
                1024,
            ),
        );
        let response = tokio::time::timeout(
            Duration::from_secs(50),
            scribehook::entrypoints::lambda::processor_handler(&processor, sqs_event(&messages)),
        )
        .await
        .expect("an answer within the SDK's budgets")
        .unwrap();
        assert_eq!(
            response.batch_item_failures.len(),
            1,
            "{endpoint}: retried, not dropped"
        );
    }
    // SQS redelivers it to a healthy processor: recorded once.
    let response =
        scribehook::entrypoints::lambda::processor_handler(&stack.processor, sqs_event(&messages))
            .await
            .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let record = stack
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    assert!(record.contains("evt_abc123"));
}
