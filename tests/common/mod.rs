//! Shared harness for the integration tests: one `moto_server` per test binary on a free
//! loopback port, real AWS SDK clients pointed at it, and helpers to build the real
//! handlers and real API Gateway / SQS events.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use http::HeaderMap;
use lambda_runtime::{Context, LambdaEvent};
use scribehook::aws::{S3Outputs, SqsQueue};
use scribehook::config::Limits;
use scribehook::config::Secrets;
use scribehook::entrypoints::app::Clients;
use scribehook::entrypoints::gateway::GatewayRequest;
use scribehook::entrypoints::lambda::{self, GatewayResponse};
use scribehook::pipeline::ingest::{Dispatch, Ingest};
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::providers::Keys;
use scribehook::record::Clock;
use scribehook::storage::archive::Archive;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::records::{BlobRecordStore, RecordStore};
use scribehook::storage::s3::S3Blobs;
use scribehook::{Provider, SignOptions, Timestamp};

pub struct Moto {
    pub endpoint: String,
    _child: Child,
}

/// The Python that has moto: `SCRIBEHOOK_PYTHON` (set by `make test`), else the
/// project's `.venv`, else `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SCRIBEHOOK_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// moto's threaded server (scripts/moto_server.py, shared with `make bench`), exiting as
/// soon as this test process is gone, so no server outlives the tests.
const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto_server.py");

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut child = Command::new(python())
            .args([SERVER, &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python with moto (run `make setup`)");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        std::io::BufRead::read_line(&mut out, &mut line).expect("moto output");
        assert_eq!(
            line.trim(),
            "ready",
            "moto_server did not start; run `make setup` (it installs moto into .venv)"
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server never listened on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            endpoint,
            _child: child,
        }
    })
}

/// The SDK configuration a deployed function would get, with moto as the endpoint (what
/// `AWS_ENDPOINT_URL` does) and fixed credentials so nothing probes instance metadata.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

pub async fn clients() -> Clients {
    Clients::from_sdk_config(&sdk_config().await)
}

/// A name no other test in this run uses (moto keeps state for the whole binary).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn create_bucket(clients: &Clients, name: &str) {
    clients
        .s3()
        .await
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("create bucket");
}

pub async fn create_table(clients: &Clients, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    clients
        .dynamodb()
        .await
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

pub async fn create_queue(clients: &Clients, name: &str) -> String {
    clients
        .sqs()
        .await
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

/// The test secret every provider's deliveries are signed with here: the one its samples in
/// events/ are signed with (`scribehook providers` lists them).
pub fn secret(provider: Provider) -> &'static str {
    provider.facts().sample_secret
}

pub fn keys(provider: Provider) -> Keys {
    provider.keys(&[secret(provider)]).unwrap()
}

pub fn all_secrets() -> Secrets {
    let sources = Provider::ALL
        .into_iter()
        .map(|p| (p, scribehook::config::SecretSource::Env(keys(p))))
        .collect();
    Secrets::new(sources, None)
}

/// A fixed "now" for every delivery signed in these tests.
pub const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn clock() -> Clock {
    Arc::new(|| Timestamp::from_unix(NOW).unwrap())
}

pub fn payload(provider: Provider, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/events/payloads/{provider}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The headers `provider` would send for `body` at [`NOW`].
pub fn signed_headers(
    provider: Provider,
    body: &[u8],
    event_type: Option<&str>,
    event_id: Option<&str>,
) -> Vec<(String, String)> {
    let opts = SignOptions {
        timestamp: NOW,
        event_id: event_id.map(str::to_owned),
        event_type: event_type.map(str::to_owned),
    };
    provider.sign(&keys(provider), body, &opts).unwrap()
}

/// An API Gateway HTTP API (payload v2) event, as the Lambda service delivers it.
pub fn apigw_v2(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    base64: bool,
) -> LambdaEvent<GatewayRequest> {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), serde_json::Value::String(v.clone())))
        .collect();
    let body = event_body(body, base64);
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "provider"},
            "requestId": "req",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000u64
        },
        "body": body,
        "isBase64Encoded": base64
    });
    lambda_event(event)
}

/// An API Gateway REST API (payload v1) event; repeated headers are kept in
/// `multiValueHeaders` as API Gateway does.
pub fn apigw_v1(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    base64: bool,
) -> LambdaEvent<GatewayRequest> {
    let mut single = serde_json::Map::new();
    let mut multi: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for (k, v) in headers {
        single.insert(k.clone(), serde_json::Value::String(v.clone()));
        multi
            .entry(k.clone())
            .or_insert_with(|| serde_json::Value::Array(vec![]))
            .as_array_mut()
            .unwrap()
            .push(serde_json::Value::String(v.clone()));
    }
    let body = event_body(body, base64);
    let event = serde_json::json!({
        "resource": "/webhooks/{provider}",
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"provider": path.rsplit('/').next().unwrap_or_default()},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc",
            "stage": "prod",
            "requestId": "req",
            "identity": {"sourceIp": "192.0.2.1"},
            "resourcePath": "/webhooks/{provider}",
            "httpMethod": method,
            "apiId": "api",
            "path": format!("/prod{path}")
        },
        "body": body,
        "isBase64Encoded": base64
    });
    lambda_event(event)
}

/// The `body` of an API Gateway event: base64 text when flagged, else the text itself.
fn event_body(body: &[u8], base64: bool) -> String {
    use base64::Engine;
    if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("text body")
    }
}

pub fn lambda_event<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> LambdaEvent<T> {
    let payload: T = serde_json::from_value(json).expect("a Lambda event of this shape");
    LambdaEvent::new(payload, Context::default())
}

/// Runs one request through the real ingest handler, as the Lambda runtime would.
pub async fn invoke(
    ingest: &Ingest,
    event: LambdaEvent<GatewayRequest>,
) -> (u16, serde_json::Value, GatewayResponse) {
    let response = lambda::ingest_handler(ingest, event)
        .await
        .expect("the ingest never fails an invocation");
    let status = u16::try_from(response.status()).unwrap();
    let body = serde_json::from_str(response.body()).expect("a JSON body");
    (status, body, response)
}

/// A complete AWS-backed deployment inside moto: archive bucket, DynamoDB table, S3 record
/// store, SQS queue; the real ingest (queueing) and processor built on them.
pub struct Stack {
    pub clients: Clients,
    pub bucket: String,
    pub table: String,
    pub queue_url: String,
    pub ingest: Ingest,
    pub processor: Arc<Processor>,
    pub dynamodb: Arc<DynamoDbStore>,
    pub s3_records: Arc<BlobRecordStore>,
    /// The archive's location as a blob store of its own (DynamoDB's overflow objects go
    /// next to the archive, as the deployed wiring puts them).
    #[allow(dead_code)]
    pub archive_blobs: Arc<S3Blobs>,
}

impl Stack {
    pub async fn new(allowed_output_buckets: Vec<String>) -> Self {
        let clients = clients().await;
        let bucket = unique("scribehook-data");
        let table = unique("scribehook-records");
        create_bucket(&clients, &bucket).await;
        create_table(&clients, &table).await;
        let queue_url = create_queue(&clients, &unique("scribehook-deliveries")).await;
        let archive_blobs = Arc::new(S3Blobs::new(
            clients.s3().await,
            bucket.clone(),
            "archive".into(),
        ));
        let archive = Archive::new(archive_blobs.clone());
        let dynamodb = Arc::new(DynamoDbStore::new(
            clients.dynamodb().await,
            table.clone(),
            Some(archive_blobs.clone()),
        ));
        let s3_records = Arc::new(BlobRecordStore::new(Arc::new(S3Blobs::new(
            clients.s3().await,
            bucket.clone(),
            String::new(),
        ))));
        let stores: Vec<Arc<dyn RecordStore>> = vec![dynamodb.clone(), s3_records.clone()];
        let fetcher = Fetcher::new(
            Arc::new(S3Outputs::new(clients.clone())),
            allowed_output_buckets,
            1024 * 1024,
        );
        let processor = Arc::new(Processor::new(archive.clone(), stores, fetcher));
        let ingest = ingest_with(
            all_secrets(),
            archive,
            sqs_dispatch(&clients, &queue_url).await,
            256 * 1024,
        );
        Stack {
            clients,
            bucket,
            table,
            queue_url,
            ingest,
            processor,
            dynamodb,
            s3_records,
            archive_blobs,
        }
    }

    /// Receives what the ingest queued, as the SQS event source would hand it over.
    pub async fn receive(&self) -> Vec<aws_sdk_sqs::types::Message> {
        drain_queue(&self.clients, &self.queue_url).await
    }
}

/// An SQS event for the processor from received messages.
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
) -> LambdaEvent<aws_lambda_events::sqs::SqsEvent> {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id().unwrap_or_default(),
                "receiptHandle": m.receipt_handle().unwrap_or_default(),
                "body": m.body().unwrap_or_default(),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    lambda_event(serde_json::json!({ "Records": records }))
}

pub fn header_map(pairs: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

// ---------------------------------------------------------------------------------------
// Helpers added for aws_ingest.rs, aws_processor.rs and aws_faults.rs (append only).

/// The headers `provider` would send for `body` at `timestamp`, signed with `secret`
/// (exactly as the provider shows it) instead of the test secret.
pub fn signed_headers_with(
    provider: Provider,
    secret: &str,
    body: &[u8],
    timestamp: i64,
    event_type: Option<&str>,
    event_id: Option<&str>,
) -> Vec<(String, String)> {
    let opts = SignOptions {
        timestamp,
        event_id: event_id.map(str::to_owned),
        event_type: event_type.map(str::to_owned),
    };
    let keys = provider.keys(&[secret]).unwrap();
    provider.sign(&keys, body, &opts).unwrap()
}

/// The headers `provider` would send for `body` at `timestamp` with the test secret.
pub fn signed_headers_at(
    provider: Provider,
    body: &[u8],
    timestamp: i64,
    event_type: Option<&str>,
    event_id: Option<&str>,
) -> Vec<(String, String)> {
    signed_headers_with(
        provider,
        secret(provider),
        body,
        timestamp,
        event_type,
        event_id,
    )
}

/// Every key in `bucket` under `prefix`, sorted.
pub async fn list_keys(clients: &Clients, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = clients
        .s3()
        .await
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page.expect("list objects").contents() {
            keys.extend(object.key().map(str::to_owned));
        }
    }
    keys.sort();
    keys
}

/// The bytes of `s3://bucket/key`, or `None` when there is no such key.
pub async fn get_object(clients: &Clients, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match clients
        .s3()
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(output) => Some(
            output
                .body
                .collect()
                .await
                .expect("read object")
                .into_bytes()
                .to_vec(),
        ),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
        Err(err) => panic!(
            "get s3://{bucket}/{key}: {}",
            aws_sdk_s3::error::DisplayErrorContext(err)
        ),
    }
}

pub async fn put_object(clients: &Clients, bucket: &str, key: &str, bytes: Vec<u8>) {
    clients
        .s3()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await
        .expect("put object");
}

/// The raw DynamoDB item `(pk, sk)`, as the SDK returns it.
pub async fn dynamodb_item(
    clients: &Clients,
    table: &str,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    clients
        .dynamodb()
        .await
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

/// Every item of partition `pk`, in sort-key order.
pub async fn dynamodb_partition(
    clients: &Clients,
    table: &str,
    pk: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut items = Vec::new();
    let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
    loop {
        let output = clients
            .dynamodb()
            .await
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .set_exclusive_start_key(start.take())
            .consistent_read(true)
            .send()
            .await
            .expect("query");
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// A string attribute of a DynamoDB item.
pub fn attr_s<'a>(
    item: &'a std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The merged record as the DynamoDB item `sk = "record"` holds it inline (the `record`
/// attribute parsed as JSON); `None` when there is no item.
pub async fn dynamodb_record_json(
    clients: &Clients,
    table: &str,
    pk: &str,
) -> Option<serde_json::Value> {
    let item = dynamodb_item(clients, table, pk, "record").await?;
    let text = attr_s(&item, "record").expect("the record item holds `record` inline");
    Some(serde_json::from_str(text).expect("`record` is JSON"))
}

/// The ingest of `stack` rebuilt on the same archive with another dispatch and body bound
/// (the Stack's own ingest is left as it is).
pub fn ingest_on(stack: &Stack, dispatch: Dispatch, max_body_bytes: usize) -> Ingest {
    ingest_with(
        all_secrets(),
        stack.processor.archive().clone(),
        dispatch,
        max_body_bytes,
    )
}

/// An ingest on the pinned clock with a 300 s window.
pub fn ingest_with(
    secrets: Secrets,
    archive: Archive,
    dispatch: Dispatch,
    max_body_bytes: usize,
) -> Ingest {
    let limits = Limits {
        max_body_bytes,
        ..Limits::default()
    };
    Ingest::new(secrets, archive, dispatch, limits).with_clock(clock())
}

/// Dispatch to the SQS queue at `url`.
pub async fn sqs_dispatch(clients: &Clients, url: &str) -> Dispatch {
    Dispatch::Queue(Arc::new(SqsQueue::new(clients.sqs().await, url)))
}

/// Processes everything queued on `stack` in one batch; panics on any failed item.
pub async fn process_queue(stack: &Stack) -> usize {
    let messages = stack.receive().await;
    if messages.is_empty() {
        return 0;
    }
    let response = lambda::processor_handler(&stack.processor, sqs_event(&messages))
        .await
        .expect("the processor never fails an invocation");
    assert!(
        response.batch_item_failures.is_empty(),
        "failed items: {:?}",
        response
            .batch_item_failures
            .iter()
            .map(|f| &f.item_identifier)
            .collect::<Vec<_>>()
    );
    messages.len()
}

/// A small deterministic generator (xorshift64*) for shuffles and splits in tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// `events/manifest.json`: when the committed samples were signed, and with which secrets.
pub fn manifest() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/manifest.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The committed samples of one kind (`apigw-v2`, `apigw-v1`), every provider, sorted.
pub fn samples(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The configuration the samples were signed for (the manifest's secrets), archiving and
/// storing under `dir`, plus `extra` variables; clients that make no network call.
pub fn sample_config(
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (scribehook::config::Config, Clients) {
    let m = manifest();
    let mut vars: std::collections::HashMap<String, String> = Provider::ALL
        .iter()
        .map(|p| {
            (
                p.secrets_env().to_owned(),
                m["secrets"][p.as_str()].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let uri = format!("file://{}", dir.display());
    vars.insert("ARCHIVE".into(), uri.clone());
    vars.insert("STORE".into(), uri);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = scribehook::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    (config, Clients::from_sdk_config(&sdk))
}

/// Every message in the queue at `queue_url`, each deleted once received.
pub async fn drain_queue(clients: &Clients, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let sqs = clients.sqs().await;
    let mut messages = Vec::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            return messages;
        }
        for m in &batch {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
        messages.extend(batch);
    }
}
