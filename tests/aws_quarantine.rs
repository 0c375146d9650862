//! docs/behaviour.md#failure-classes through the real processor handler: what a retry can fix is reported back to
//! SQS; what it cannot (a value the store refuses, a delivery this release cannot parse) is
//! quarantined beside the archive and acknowledged, never looped; operator errors on our own
//! resources are retried; `scribehook replay` processes quarantined deliveries after a fix.

mod common;

use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::primitives::SdkBody;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use common::*;
use scribehook::aws::S3Outputs;
use scribehook::entrypoints::lambda::processor_handler;
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::records::RecordStore;
use scribehook::storage::{fault_of, Fault};
use scribehook::Provider;

fn http(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body))
}

const VALIDATION: &str = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}"#;
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#;
const NO_TABLE: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#;
const DENIED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"not authorized"}"#;

/// A processor on the stack's archive whose only store is DynamoDB answering `status`/`body`
/// to every write.
fn processor_failing_with(stack: &Stack, status: u16, body: &'static str) -> Processor {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    let get =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let put =
        mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(move || http(status, body));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put], |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()));
    let store: Arc<dyn RecordStore> = Arc::new(DynamoDbStore::new(
        client,
        stack.table.clone(),
        Some(stack.archive_blobs.clone()),
    ));
    Processor::new(
        stack.processor.archive().clone(),
        vec![store],
        Fetcher::new(
            Arc::new(S3Outputs::new(stack.clients.clone())),
            vec![],
            1024,
        ),
    )
}

async fn ingest_one(stack: &Stack, name: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let body = payload(Provider::Bota, name);
    let headers = signed_headers(Provider::Bota, &body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    stack.receive().await
}

async fn quarantine_keys(stack: &Stack) -> Vec<String> {
    list_keys(&stack.clients, &stack.bucket, "archive/quarantine/").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_store_refuses_is_quarantined_once_and_acknowledged() {
    let stack = Stack::new(vec![]).await;
    let messages = ingest_one(&stack, "transcription.completed").await;
    let broken = processor_failing_with(&stack, 400, VALIDATION);
    let response = processor_handler(&broken, sqs_event(&messages))
        .await
        .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "a permanent failure is acknowledged, not retried"
    );
    let keys = quarantine_keys(&stack).await;
    assert_eq!(keys, ["archive/quarantine/bota/evt_ghi789.json"]);
    let entry: serde_json::Value = serde_json::from_slice(
        &get_object(&stack.clients, &stack.bucket, &keys[0])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(entry["event_id"], "evt_ghi789");
    assert_eq!(entry["error"]["code"], "store_refused");
    assert!(entry["raw_location"]
        .as_str()
        .unwrap()
        .ends_with("archive/raw/bota/evt_ghi789.json"));
    // The archive still holds the delivery: replay with a working store processes it and
    // clears the quarantine entry.
    let report = stack
        .processor
        .replay(
            &[Provider::Bota],
            Some(scribehook::Timestamp::from_unix(NOW + 3600).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(report.released, 1, "{report:?}");
    assert!(quarantine_keys(&stack).await.is_empty());
    let record = stack
        .dynamodb
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    assert!(record.contains("evt_ghi789"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_operator_errors_are_retried_not_quarantined() {
    let stack = Stack::new(vec![]).await;
    let messages = ingest_one(&stack, "transcription.completed").await;
    for (status, body) in [
        (400, THROTTLED),
        (400, NO_TABLE),
        (400, DENIED),
        (500, r#"{"__type":"InternalServerError"}"#),
    ] {
        let broken = processor_failing_with(&stack, status, body);
        let response = processor_handler(&broken, sqs_event(&messages))
            .await
            .unwrap();
        assert_eq!(response.batch_item_failures.len(), 1, "{body}");
        assert!(quarantine_keys(&stack).await.is_empty(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_this_release_cannot_parse_is_quarantined() {
    let stack = Stack::new(vec![]).await;
    // Verified but not the provider's envelope: answered 400 and archived by the ingest.
    let body =
        br#"{"id":"evt_bad","type":"transcription.completed","data":{"segments":"not a list"}}"#;
    let headers = signed_headers(Provider::Bota, body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, body, false),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    // A message naming it anyway (a replayed queue, an older release's message).
    let message = aws_sdk_sqs::types::Message::builder()
        .message_id("m-1")
        .receipt_handle("r-1")
        .body(format!(
            r#"{{"provider":"bota","event_id":"{}"}}"#,
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .split("archived as ")
                .nth(1)
                .unwrap()
                .trim_end_matches(" for replay)")
        ))
        .build();
    let response = processor_handler(&stack.processor, sqs_event(&[message]))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let keys = quarantine_keys(&stack).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let entry: serde_json::Value = serde_json::from_slice(
        &get_object(&stack.clients, &stack.bucket, &keys[0])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(entry["error"]["code"], "malformed_event");
}

#[tokio::test]
async fn sdk_errors_are_classified_by_kind_not_text() {
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
    let raw = |status: u16| http(status, "");
    let service = |err: PutItemError, status: u16| SdkError::service_error(err, raw(status));
    // As the SDK builds it from a response: the typed variant carrying its code.
    let not_found = PutItemError::ResourceNotFoundException(
        ResourceNotFoundException::builder()
            .message("x")
            .meta(
                aws_sdk_dynamodb::error::ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .build(),
            )
            .build(),
    );
    assert_eq!(fault_of(&service(not_found, 400)), Fault::Operator);
    let generic = |code: &str| {
        PutItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code(code)
                .message("whatever the text says")
                .build(),
        )
    };
    assert_eq!(
        fault_of(&service(generic("ValidationException"), 400)),
        Fault::Permanent
    );
    assert_eq!(
        fault_of(&service(generic("ThrottlingException"), 400)),
        Fault::Transient
    );
    assert_eq!(
        fault_of(&service(generic("AccessDeniedException"), 400)),
        Fault::Operator
    );
    assert_eq!(
        fault_of(&service(generic("InternalServerError"), 500)),
        Fault::Transient
    );
    let timeout: SdkError<PutItemError, HttpResponse> = SdkError::timeout_error("slow");
    assert_eq!(fault_of(&timeout), Fault::Transient);
}
