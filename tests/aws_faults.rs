//! Our own dependencies failing: S3, SQS, DynamoDB and the Daily output bucket answer with
//! errors (aws-smithy-mocks clients speaking the real wire protocol), while everything else
//! runs on moto_server; and Secrets Manager (moto) as the source of signing secrets.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::primitives::SdkBody;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use common::*;
use scribehook::aws::{S3Outputs, SqsQueue};
use scribehook::config::{SecretSource, Secrets};
use scribehook::entrypoints::lambda::processor_handler;
use scribehook::pipeline::ingest::{Dispatch, Ingest};
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::storage::archive::Archive;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::records::RecordStore;
use scribehook::storage::s3::S3Blobs;
use scribehook::Provider;
use serde_json::{json, Value};

const BOTA_EVENT: &str = "evt_ghi789";

fn http(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body))
}

const S3_INTERNAL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
const S3_SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
const S3_INVALID_OBJECT_STATE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message></Error>";
const S3_ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
const S3_NO_SUCH_KEY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
const S3_PRECONDITION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>";
const SQS_INTERNAL: &str =
    r#"{"__type":"com.amazonaws.sqs#InternalError","message":"We encountered an internal error."}"#;
const DYNAMODB_INTERNAL: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;

/// A mocked S3 client (no SDK retries, so each failure is one call).
macro_rules! s3_mock {
    ($($rule:expr),+) => {
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [$($rule),+], |c| c
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()))
    };
}

fn bota_delivery() -> (Vec<u8>, Vec<(String, String)>) {
    let body = payload(Provider::Bota, "transcription.completed");
    let headers = signed_headers(Provider::Bota, &body, None, None);
    (body, headers)
}

fn assert_unavailable(
    status: u16,
    body: &Value,
    response: &scribehook::entrypoints::lambda::GatewayResponse,
) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("retry"), "{message}");
    assert!(
        !message.contains("InternalError"),
        "no internals: {message}"
    );
    assert_eq!(response.headers().get("retry-after").unwrap(), "30");
}

async fn queue_to(stack: &Stack) -> Dispatch {
    sqs_dispatch(&stack.clients, &stack.queue_url).await
}

// ---------------------------------------------------------------------------------------
// Ingest: the archive or the queue fails

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_archive_put_is_503_and_nothing_is_queued() {
    let stack = Stack::new(vec![]).await;
    let put = mock!(aws_sdk_s3::Client::put_object).then_http_response(|| http(500, S3_INTERNAL));
    let ingest = ingest_with(
        all_secrets(),
        Archive::new(Arc::new(S3Blobs::new(
            s3_mock!(&put),
            stack.bucket.clone(),
            "archive".into(),
        ))),
        queue_to(&stack).await,
        256 * 1024,
    );
    let (body, headers) = bota_delivery();
    let (status, reply, response) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
    let (status, reply, response) = invoke(
        &ingest,
        apigw_v1("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
    assert_eq!(put.num_calls(), 2);
    assert!(stack.receive().await.is_empty(), "nothing queued");
    assert!(list_keys(&stack.clients, &stack.bucket, "")
        .await
        .is_empty());

    // The archive answering "exists" but then failing to read it back is no answer either.
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_http_response(|| http(412, S3_PRECONDITION));
    let get = mock!(aws_sdk_s3::Client::get_object).then_http_response(|| http(500, S3_INTERNAL));
    let ingest = ingest_with(
        all_secrets(),
        Archive::new(Arc::new(S3Blobs::new(
            s3_mock!(&put, &get),
            stack.bucket.clone(),
            "archive".into(),
        ))),
        queue_to(&stack).await,
        256 * 1024,
    );
    let (status, reply, response) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
    assert_eq!((put.num_calls(), get.num_calls()), (1, 1));
    assert!(stack.receive().await.is_empty(), "nothing queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_queue_is_503_and_the_redelivery_gets_the_event_processed_once() {
    let stack = Stack::new(vec![]).await;
    let send =
        mock!(aws_sdk_sqs::Client::send_message).then_http_response(|| http(500, SQS_INTERNAL));
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&send], |c| c
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()));
    let broken = ingest_on(
        &stack,
        Dispatch::Queue(Arc::new(SqsQueue::new(sqs, stack.queue_url.clone()))),
        256 * 1024,
    );
    let (body, headers) = bota_delivery();
    let (status, reply, response) = invoke(
        &broken,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
    assert_eq!(send.num_calls(), 1);
    // Archived (durably stored), but not acknowledged and not queued.
    let key = format!("archive/raw/bota/{BOTA_EVENT}.json");
    assert_eq!(list_keys(&stack.clients, &stack.bucket, "").await, [key]);
    assert!(stack.receive().await.is_empty());

    // The provider retries once SQS is back (another instance, the same archive).
    let recovered = ingest_on(&stack, queue_to(&stack).await, 256 * 1024);
    let (status, reply, _) = invoke(
        &recovered,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"status": "duplicate", "event_id": BOTA_EVENT})
    );
    let messages = stack.receive().await;
    assert_eq!(messages.len(), 1, "the first delivery is not lost");
    let job: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(job, json!({"provider": "bota", "event_id": BOTA_EVENT}));
    let response = processor_handler(&stack.processor, sqs_event(&messages))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    // A further redelivery changes nothing, and, the event being in its record now, costs
    // no processing run: nothing is queued.
    let (_, reply, _) = invoke(
        &recovered,
        apigw_v1("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(reply["status"], "duplicate");
    assert_eq!(process_queue(&stack).await, 0);
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .unwrap();
    assert_eq!(record["events"], json!([BOTA_EVENT]));
    assert_eq!(record["components"]["transcript"]["event_id"], BOTA_EVENT);
    let items = dynamodb_partition(&stack.clients, &stack.table, "bota#rec_xyz789").await;
    assert_eq!(items.len(), 2, "one event item and the record");
}

// ---------------------------------------------------------------------------------------
// Processor: DynamoDB fails

fn failing_dynamodb_store(
    stack: &Stack,
    rules: &[&aws_smithy_mocks::Rule],
) -> Arc<dyn RecordStore> {
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        rules.iter().copied(),
        |c| c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    );
    Arc::new(DynamoDbStore::new(
        client,
        stack.table.clone(),
        Some(stack.archive_blobs.clone()),
    ))
}

fn processor_with(stack: &Stack, stores: Vec<Arc<dyn RecordStore>>) -> Processor {
    Processor::new(
        stack.processor.archive().clone(),
        stores,
        Fetcher::new(
            Arc::new(S3Outputs::new(stack.clients.clone())),
            vec![],
            1024 * 1024,
        ),
    )
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dynamodb_write_is_retried_and_the_record_holds_the_event_once() {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    let stack = Stack::new(vec![]).await;
    let (body, headers) = bota_delivery();
    let (status, _, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200);
    // Another event in the same batch, which succeeds.
    let other = payload(Provider::Bota, "recording.created");
    let (status, _, _) = invoke(
        &stack.ingest,
        apigw_v2(
            "POST",
            "/webhooks/bota",
            &signed_headers(Provider::Bota, &other, None, None),
            &other,
            false,
        ),
    )
    .await;
    assert_eq!(status, 200);
    let messages = stack.receive().await;
    assert_eq!(messages.len(), 2);
    let failing_id = messages
        .iter()
        .find(|m| m.body().unwrap().contains(BOTA_EVENT))
        .and_then(|m| m.message_id())
        .unwrap()
        .to_owned();

    // DynamoDB takes the event item but fails the merged record's write. The S3 store comes
    // first, so that one is already written when DynamoDB fails.
    let get =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let put_record = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| {
            req.item()
                .and_then(|item| item.get("sk"))
                .and_then(|sk| sk.as_s().ok())
                .is_some_and(|sk| sk == "record")
        })
        .then_http_response(|| http(500, DYNAMODB_INTERNAL));
    let put_event = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| {
            req.item()
                .and_then(|item| item.get("event_id"))
                .and_then(|id| id.as_s().ok())
                .is_some_and(|id| id == BOTA_EVENT)
        })
        .then_output(|| PutItemOutput::builder().build());
    let broken = processor_with(
        &stack,
        vec![
            stack.s3_records.clone(),
            failing_dynamodb_store(&stack, &[&get, &put_record, &put_event]),
        ],
    );
    // Only the transcription goes through the broken instance; the other message is
    // handled by the healthy one in the same batch shape.
    let (transcription, created): (Vec<_>, Vec<_>) = messages
        .into_iter()
        .partition(|m| m.message_id() == Some(failing_id.as_str()));
    let response = processor_handler(&broken, sqs_event(&transcription))
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), std::slice::from_ref(&failing_id));
    assert_eq!(put_record.num_calls(), 1);
    let response = processor_handler(&stack.processor, sqs_event(&created))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    // The S3 record already holds the event; DynamoDB's does not.
    let s3_record = stack
        .s3_records
        .get_record(Provider::Bota, "rec_xyz789")
        .await
        .unwrap()
        .unwrap();
    assert!(s3_record.events.contains(BOTA_EVENT));
    let dynamodb_record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .unwrap();
    assert_eq!(dynamodb_record["events"], json!(["evt_abc123"]));

    // SQS redelivers the failed message to a working processor: twice, as it may. The
    // second run finds nothing to change and does not rewrite the record.
    let mut items = Vec::new();
    for _ in 0..2 {
        let response = processor_handler(&stack.processor, sqs_event(&transcription))
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        items.push(
            dynamodb_item(&stack.clients, &stack.table, "bota#rec_xyz789", "record")
                .await
                .unwrap(),
        );
    }
    assert_eq!(items[0], items[1]);
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .unwrap();
    assert_eq!(record["events"], json!(["evt_abc123", BOTA_EVENT]));
    assert_eq!(record["components"]["transcript"]["event_id"], BOTA_EVENT);
    let from_s3 = get_object(
        &stack.clients,
        &stack.bucket,
        "records/bota/rec_xyz789/record.json",
    )
    .await
    .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&from_s3).unwrap(), record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_keeps_changing_is_reported_failed_not_dropped() {
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    let stack = Stack::new(vec![]).await;
    let (body, headers) = bota_delivery();
    invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    let messages = stack.receive().await;
    // Every conditional write of the record loses (another writer, forever).
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let conflict = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| req.condition_expression().is_some())
        .then_http_response(|| {
            http(
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
            )
        });
    let put =
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build());
    let contended = processor_with(
        &stack,
        vec![failing_dynamodb_store(&stack, &[&get, &conflict, &put])],
    );
    let response = processor_handler(&contended, sqs_event(&messages))
        .await
        .unwrap();
    assert_eq!(
        failed_ids(&response),
        [messages[0].message_id().unwrap().to_owned()]
    );
    assert_eq!(
        conflict.num_calls() as u32,
        scribehook::storage::records::MAX_ATTEMPTS
    );
}

// ---------------------------------------------------------------------------------------
// Processor: the Daily output bucket fails

const JOB_ID: &str = "1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10";

fn job_finished(bucket: &str) -> Vec<u8> {
    let text = String::from_utf8(payload(Provider::Daily, "batch-processor.job-finished")).unwrap();
    text.replace("daily-co-batch-processor-qa-us-west-2", bucket)
        .replace("us-west-2", "us-east-1")
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_output_errors_retry_when_transient_and_are_recorded_when_not() {
    let clients = clients().await;
    let outputs = unique("daily-outputs");
    create_bucket(&clients, &outputs).await;
    let stack = Stack::new(vec![outputs.clone()]).await;
    let body = job_finished(&outputs);
    let headers = signed_headers(Provider::Daily, &body, None, None);
    let (status, _, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200);
    let messages = stack.receive().await;
    assert_eq!(messages.len(), 1);
    let id = messages[0].message_id().unwrap().to_owned();
    let pk = format!("daily#{JOB_ID}");

    let fetching_with = |client: aws_sdk_s3::Client| {
        Processor::new(
            stack.processor.archive().clone(),
            vec![stack.dynamodb.clone(), stack.s3_records.clone()],
            Fetcher::new(
                Arc::new(S3Outputs::new(scribehook::aws::Clients::with_s3(client))),
                vec![outputs.clone()],
                1024 * 1024,
            ),
        )
    };

    // Transient: 500 InternalError, 503 SlowDown → the message is retried, nothing written.
    for (status, body) in [(500, S3_INTERNAL), (503, S3_SLOW_DOWN)] {
        let get =
            mock!(aws_sdk_s3::Client::get_object).then_http_response(move || http(status, body));
        let response = processor_handler(&fetching_with(s3_mock!(&get)), sqs_event(&messages))
            .await
            .unwrap();
        assert_eq!(failed_ids(&response), std::slice::from_ref(&id), "{status}");
        assert!(get.num_calls() >= 1);
        assert!(dynamodb_item(&clients, &stack.table, &pk, "record")
            .await
            .is_none());
    }

    // Operator: AccessDenied on an allow-listed bucket is ours to fix → retried, nothing
    // written meanwhile (docs/behaviour.md#failure-classes).
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_http_response(|| http(403, S3_ACCESS_DENIED));
    let response = processor_handler(&fetching_with(s3_mock!(&get)), sqs_event(&messages))
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), std::slice::from_ref(&id));
    assert!(dynamodb_item(&clients, &stack.table, &pk, "record")
        .await
        .is_none());

    // Permanent: an archived object (InvalidObjectState) → processed, the artifact says why.
    let get = mock!(aws_sdk_s3::Client::get_object)
        .then_http_response(|| http(403, S3_INVALID_OBJECT_STATE));
    let response = processor_handler(&fetching_with(s3_mock!(&get)), sqs_event(&messages))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let record = dynamodb_record_json(&clients, &stack.table, &pk)
        .await
        .unwrap();
    let soap = &record["components"]["job"]["artifacts"][0];
    assert_eq!(soap["kind"], "soap");
    assert_eq!(soap["fetched"], false);
    assert!(
        soap["reason"]
            .as_str()
            .unwrap()
            .contains("InvalidObjectState"),
        "{soap}"
    );

    // NoSuchKey, from a mocked 404 and from the real (empty) bucket → processed, recorded.
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_http_response(|| http(404, S3_NO_SUCH_KEY));
    let mocked = fetching_with(s3_mock!(&get));
    for processor in [&mocked, stack.processor.as_ref()] {
        let response = processor_handler(processor, sqs_event(&messages))
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        let event = dynamodb_item(
            &clients,
            &stack.table,
            &pk,
            &format!("event#bp-jf-{JOB_ID}"),
        )
        .await
        .unwrap();
        let event: Value = serde_json::from_str(attr_s(&event, "event").unwrap()).unwrap();
        let artifacts = event["artifacts"].as_array().unwrap();
        for kind in ["soap", "concepts", "summary"] {
            let a = artifacts.iter().find(|a| a["kind"] == kind).unwrap();
            assert_eq!(a["fetched"], false, "{a}");
            assert_eq!(a["reason"], "not fetched: no such key", "{a}");
        }
        let transcript = artifacts
            .iter()
            .find(|a| a["kind"] == "transcript" && a["format"] == "json")
            .unwrap();
        assert_eq!(transcript["reason"], "not fetched: no such key");
    }
}

// ---------------------------------------------------------------------------------------
// Secrets Manager

async fn create_secret(
    clients: &scribehook::entrypoints::app::Clients,
    name: &str,
    value: &str,
) -> String {
    clients
        .secrets()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("an ARN")
}

async fn ingest_with_secrets(stack: &Stack, secrets: Secrets) -> Ingest {
    ingest_with(
        secrets,
        stack.processor.archive().clone(),
        queue_to(stack).await,
        256 * 1024,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_secrets_verify_with_every_listed_secret() {
    let stack = Stack::new(vec![]).await;
    let clients = &stack.clients;
    let old = "b2xkLWRhaWx5LXNlY3JldC1yb3RhdGVkLW91dA==";
    let daily_arn = create_secret(
        clients,
        &unique("scribehook/daily"),
        &json!([old, secret(Provider::Daily)]).to_string(),
    )
    .await;
    // The comma-separated form, for Bota.
    let bota_arn = create_secret(
        clients,
        &unique("scribehook/bota"),
        &format!("whsec_old_one, {}", secret(Provider::Bota)),
    )
    .await;
    let sources = BTreeMap::from([
        (Provider::Daily, SecretSource::SecretsManager(daily_arn)),
        (Provider::Bota, SecretSource::SecretsManager(bota_arn)),
    ]);
    let ingest = ingest_with_secrets(
        &stack,
        Secrets::new(sources, Some(Arc::new(clients.clone()))),
    )
    .await;

    // Signed with the second (current) secret.
    let body = payload(Provider::Daily, "meeting.started");
    let headers = signed_headers(Provider::Daily, &body, None, None);
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "accepted");
    // Signed with the first (being rotated out) secret.
    let body = payload(Provider::Daily, "recording.ready-to-download");
    let headers = signed_headers_with(Provider::Daily, old, &body, NOW, None, None);
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v1("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    // Signed with neither.
    let headers = signed_headers_with(
        Provider::Daily,
        "bm90LWEtY29uZmlndXJlZC1zZWNyZXQ=",
        &body,
        NOW,
        None,
        None,
    );
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 401, "{reply}");
    assert_eq!(reply["error"]["code"], "invalid_signature");

    let (body, headers) = bota_delivery();
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let headers = signed_headers_with(Provider::Bota, "whsec_old_one", &body, NOW, None, None);
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    // Providers not configured here are not served.
    let nabla = payload(Provider::Nabla, "transcribe_async.succeeded");
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2(
            "POST",
            "/webhooks/nabla",
            &signed_headers(Provider::Nabla, &nabla, None, None),
            &nabla,
            false,
        ),
    )
    .await;
    assert_eq!(status, 404, "{reply}");
    assert_eq!(reply["error"]["code"], "unknown_provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_503_not_401_and_is_read_again_once_it_exists() {
    let stack = Stack::new(vec![]).await;
    let clients = &stack.clients;
    let name = unique("scribehook/daily-missing");
    let arn =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:scribehook-never-created-AbCdEf";
    let sources = BTreeMap::from([
        (Provider::Daily, SecretSource::SecretsManager(name.clone())),
        (Provider::Bota, SecretSource::SecretsManager(arn.to_owned())),
    ]);
    let ingest = ingest_with_secrets(
        &stack,
        Secrets::new(sources, Some(Arc::new(clients.clone()))),
    )
    .await;
    let body = payload(Provider::Daily, "meeting.started");
    let headers = signed_headers(Provider::Daily, &body, None, None);
    let (bota_body, bota_headers) = bota_delivery();
    for _ in 0..2 {
        let (status, reply, response) = invoke(
            &ingest,
            apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
        )
        .await;
        assert_unavailable(status, &reply, &response);
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("secret:"),
            "no ARN in the answer: {message}"
        );
        let (status, reply, response) = invoke(
            &ingest,
            apigw_v1("POST", "/webhooks/bota", &bota_headers, &bota_body, false),
        )
        .await;
        assert_unavailable(status, &reply, &response);
    }
    assert!(list_keys(clients, &stack.bucket, "").await.is_empty());
    assert!(stack.receive().await.is_empty());
    // The Daily endpoint check needs no secret.
    let (status, _, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &[], br#"{"test":"test"}"#, false),
    )
    .await;
    assert_eq!(status, 200);

    // The failure is not cached: once the secret exists, the same instance verifies.
    create_secret(clients, &name, secret(Provider::Daily)).await;
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "accepted");

    // Without a Secrets Manager client at all: also 503.
    let sources = BTreeMap::from([(Provider::Daily, SecretSource::SecretsManager(name))]);
    let ingest = ingest_with_secrets(&stack, Secrets::new(sources, None)).await;
    let (status, reply, response) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
}

// ---------------------------------------------------------------------------------------
// Inline processing (no QUEUE_URL)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_processing_that_fails_is_503_and_the_redelivery_records_the_event_once() {
    let stack = Stack::new(vec![]).await;
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_http_response(|| http(500, DYNAMODB_INTERNAL));
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let broken = Arc::new(processor_with(
        &stack,
        vec![failing_dynamodb_store(&stack, &[&get, &put])],
    ));
    let ingest = ingest_on(&stack, Dispatch::Inline(broken), 256 * 1024);
    let (body, headers) = bota_delivery();
    let (status, reply, response) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
    )
    .await;
    assert_unavailable(status, &reply, &response);
    assert!(put.num_calls() >= 1);
    // Archived all the same: the retry finds it.
    assert_eq!(
        list_keys(&stack.clients, &stack.bucket, "archive/").await,
        [format!("archive/raw/bota/{BOTA_EVENT}.json")]
    );

    let working = ingest_on(
        &stack,
        Dispatch::Inline(stack.processor.clone()),
        256 * 1024,
    );
    for _ in 0..2 {
        let (status, reply, _) = invoke(
            &working,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["status"], "duplicate");
    }
    // Processed before answering: the record is there without any queue.
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .unwrap();
    assert_eq!(record["events"], json!([BOTA_EVENT]));
    assert!(stack.receive().await.is_empty());
}
