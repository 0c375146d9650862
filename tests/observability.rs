//! docs/behaviour.md#observability on the real binaries: `ingest` and `processor` run as Lambda runs them,
//! against a stand-in of the Lambda Runtime API on loopback, and what they print is checked:
//! Powertools-conventional JSON log lines, and EMF documents flushed once per invocation
//! (one per provider, one dimension set, `ColdStart` on its own).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use scribehook::{Provider, SignOptions, Timestamp};
use serde_json::{json, Value};

const TRACE: &str = "Root=1-67a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";

/// Serves `events` (request id, JSON body) on `/invocation/next`, one per call, then holds
/// the next call open; each `/response` body is sent to the returned channel.
fn runtime_api(events: Vec<(String, Value)>) -> (String, mpsc::Receiver<(String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (responses, received) = mpsc::channel();
    std::thread::spawn(move || {
        let queue = std::sync::Arc::new(std::sync::Mutex::new(events.into_iter()));
        for stream in listener.incoming().flatten() {
            let queue = queue.clone();
            let responses = responses.clone();
            std::thread::spawn(move || serve(stream, &queue, &responses));
        }
    });
    (address, received)
}

fn serve(
    stream: TcpStream,
    queue: &std::sync::Mutex<std::vec::IntoIter<(String, Value)>>,
    responses: &mpsc::Sender<(String, Value)>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        if path.ends_with("/invocation/next") {
            let next = queue.lock().unwrap().next();
            let Some((id, event)) = next else {
                // Nothing more to do: hold the call, as Lambda does between invocations.
                std::thread::sleep(Duration::from_secs(120));
                return;
            };
            let body = event.to_string();
            let deadline = Timestamp::now().unix_millis() + 30_000;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\nlambda-runtime-trace-id: {TRACE}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        } else {
            let id = path.split('/').rev().nth(1).unwrap_or("").to_owned();
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = responses.send((id, value));
            write!(stream, "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n").unwrap();
        }
        stream.flush().unwrap();
    }
}

/// Runs `binary` until it has answered `count` invocations; returns its stdout lines as JSON.
fn run(
    binary: &str,
    env: &[(&str, String)],
    events: Vec<(String, Value)>,
) -> (Vec<Value>, Vec<(String, Value)>) {
    let count = events.len();
    let (address, responses) = runtime_api(events);
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "scribehook-BotaIngest")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/scribehook-BotaIngest",
        )
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("POWERTOOLS_SERVICE_NAME", "scribehook-test")
        .env("POWERTOOLS_METRICS_NAMESPACE", "TestNamespace")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let answered: Vec<(String, Value)> = (0..count)
        .map(|_| {
            responses
                .recv_timeout(Duration::from_secs(60))
                .expect("an answer")
        })
        .collect();
    // Give the last flush a moment to reach the pipe, then stop the function.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (lines, answered)
}

fn signed_v2(body: &[u8], now: i64) -> Value {
    let opts = SignOptions {
        timestamp: now,
        ..SignOptions::default()
    };
    let headers = Provider::Bota
        .sign(&keys(Provider::Bota), body, &opts)
        .unwrap();
    let headers: serde_json::Map<String, Value> = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/bota",
        "rawPath": "/webhooks/bota",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "example", "requestId": "r", "routeKey": "POST /webhooks/bota",
            "stage": "$default", "time": "03/Dec/2026:08:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "POST", "path": "/webhooks/bota", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"}
        },
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "isBase64Encoded": false
    })
}

fn assert_powertools_keys(line: &Value) {
    for key in [
        "timestamp",
        "level",
        "message",
        "service",
        "cold_start",
        "function_request_id",
        "xray_trace_id",
    ] {
        assert!(line.get(key).is_some(), "{key} missing: {line}");
    }
    assert_eq!(line["service"], "scribehook-test");
    assert!(
        Timestamp::parse_rfc3339(line["timestamp"].as_str().unwrap()).is_some(),
        "{line}"
    );
    assert!(
        line.get("fields").is_none() && line.get("span").is_none(),
        "flat: {line}"
    );
}

fn emf(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("_aws").is_some()).collect()
}

#[test]
fn the_ingest_binary_logs_and_counts_as_powertools_does() {
    let dir = std::env::temp_dir().join(format!("scribehook-observability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    let now = Timestamp::now().unix_seconds();
    let accepted = payload(Provider::Bota, "recording.created");
    let mut refused = signed_v2(&payload(Provider::Bota, "recording.uploaded"), now);
    refused["headers"]["x-bota-signature"] = json!(format!("v1={}", "0".repeat(64)));
    let events = vec![
        ("req-1".to_owned(), signed_v2(&accepted, now)),
        ("req-2".to_owned(), refused),
    ];
    let env = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", uri.clone()),
        ("STORE", uri),
    ];
    let (lines, answered) = run(env!("CARGO_BIN_EXE_ingest"), &env, events);
    assert_eq!(answered[0].1["statusCode"], 200, "{:?}", answered[0]);
    assert_eq!(answered[1].1["statusCode"], 401, "{:?}", answered[1]);

    let deliveries: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("outcome").is_some())
        .collect();
    assert_eq!(deliveries.len(), 2, "{lines:#?}");
    for line in &deliveries {
        assert_powertools_keys(line);
        assert_eq!(line["provider"], "bota");
        assert_eq!(line["xray_trace_id"], TRACE);
        assert!(line["latency_ms"].is_number());
    }
    let (first, second) = (deliveries[0], deliveries[1]);
    assert_eq!(first["function_request_id"], "req-1");
    assert_eq!(first["cold_start"], true);
    assert_eq!(first["outcome"], "accepted");
    assert_eq!(first["event_id"], "evt_abc123");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["message"], "bota delivery accepted");
    assert_eq!(second["function_request_id"], "req-2");
    assert_eq!(second["cold_start"], false);
    assert_eq!(second["outcome"], "invalid_signature");
    assert_eq!(second["level"], "WARN");

    let documents = emf(&lines);
    // ColdStart on its own, then one document per provider per invocation.
    assert_eq!(documents.len(), 3, "{documents:#?}");
    let cold = documents[0];
    assert_eq!(cold["ColdStart"], 1.0);
    assert_eq!(cold["function_name"], "scribehook-BotaIngest");
    for doc in &documents[1..] {
        let metrics = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], "TestNamespace");
        assert_eq!(metrics["Dimensions"], json!([["service", "provider"]]));
        assert_eq!(doc["service"], "scribehook-test");
        assert_eq!(doc["provider"], "bota");
    }
    assert_eq!(documents[1]["Accepted"], 1.0);
    assert_eq!(documents[2]["Rejected"], 1.0);
    assert!(documents[2].get("Accepted").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_processor_binary_logs_each_message_and_flushes_once() {
    let dir =
        std::env::temp_dir().join(format!("scribehook-observability-p-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    // Archive two deliveries with the ingest binary first.
    let now = Timestamp::now().unix_seconds();
    let env = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", uri.clone()),
        ("STORE", uri.clone()),
        ("QUEUE_URL", String::new()),
    ];
    let names = ["recording.created", "transcription.completed"];
    let events = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("in-{i}"),
                signed_v2(&payload(Provider::Bota, n), now),
            )
        })
        .collect();
    run(env!("CARGO_BIN_EXE_ingest"), &env, events);
    let records: Vec<Value> = ["evt_abc123", "evt_ghi789"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": "r", "body": json!({"provider": "bota", "event_id": id}).to_string(),
                   "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
        })
        .collect();
    let (lines, answered) = run(
        env!("CARGO_BIN_EXE_processor"),
        &env,
        vec![("p-1".to_owned(), json!({ "Records": records }))],
    );
    assert_eq!(answered[0].1["batchItemFailures"], json!([]));
    let processed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["outcome"] == "processed")
        .collect();
    assert_eq!(processed.len(), 2, "{lines:#?}");
    for line in processed {
        assert_powertools_keys(line);
        assert_eq!(line["function_request_id"], "p-1");
        assert_eq!(line["subject_id"], "rec_xyz789");
        assert!(line["event_type"].as_str().is_some());
    }
    let documents = emf(&lines);
    assert_eq!(
        documents.len(),
        2,
        "ColdStart, then one flush: {documents:#?}"
    );
    assert_eq!(documents[1]["Processed"], json!([1.0, 1.0]));
    assert!(documents[1]["EndToEndLatency"].is_array());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The ingest binary as deployed: an S3 archive and an SQS queue (moto, through
/// `AWS_ENDPOINT_URL`). The AWS configuration and clients it builds from the environment
/// (Lambda's environment credentials, its own HTTPS client with the embedded trust store)
/// archive the signed delivery and queue its job; the redelivery is a duplicate, queued again
/// since nothing has processed the first yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_binary_archives_to_s3_and_queues_with_its_own_clients() {
    let clients = clients().await;
    let bucket = unique("deployed");
    create_bucket(&clients, &bucket).await;
    let queue = create_queue(&clients, &unique("deployed")).await;
    let now = Timestamp::now().unix_seconds();
    let body = payload(Provider::Bota, "recording.created");
    let events = vec![
        ("req-1".to_owned(), signed_v2(&body, now)),
        ("req-2".to_owned(), signed_v2(&body, now)),
    ];
    let env = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", format!("s3://{bucket}/archive")),
        ("STORE", format!("s3://{bucket}")),
        ("QUEUE_URL", queue.clone()),
        ("AWS_ENDPOINT_URL", moto().endpoint.clone()),
    ];
    let binary = env!("CARGO_BIN_EXE_ingest");
    let (_, answered) = tokio::task::spawn_blocking(move || run(binary, &env, events))
        .await
        .unwrap();
    let statuses: Vec<(Value, Value)> = answered
        .iter()
        .map(|(_, r)| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            (r["statusCode"].clone(), body["status"].clone())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (json!(200), json!("accepted")),
            (json!(200), json!("duplicate"))
        ]
    );
    assert_eq!(
        list_keys(&clients, &bucket, "archive/").await,
        ["archive/raw/bota/evt_abc123.json"]
    );
    let messages = clients
        .sqs()
        .await
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 2);
    let job: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(job, json!({"provider": "bota", "event_id": "evt_abc123"}));
}

/// One SQS record whose body is `job`.
fn sqs_record(message_id: &str, job: &Value) -> Value {
    json!({"messageId": message_id, "receiptHandle": "r", "body": job.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
}

/// Issue 17.13: in JSON logs an id appears exactly as received, control characters and
/// all: JSON's own escaping protects the line; escaping it once more hid the id from a
/// search for it.
#[test]
fn json_log_lines_carry_ids_exactly_as_received() {
    let dir = std::env::temp_dir().join(format!(
        "scribehook-observability-id-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    let env = [
        ("BOTA_WEBHOOK_SECRETS", secret(Provider::Bota).to_owned()),
        ("ARCHIVE", uri.clone()),
        ("STORE", uri),
    ];
    let id = "evt_1\n2026-01-01T00:00:00Z INFO forged\u{1b}[31m\t\"q\"";
    let record = sqs_record("m-1", &json!({"provider": "bota", "event_id": id}));
    let (lines, answered) = run(
        env!("CARGO_BIN_EXE_processor"),
        &env,
        vec![("p-1".to_owned(), json!({ "Records": [record] }))],
    );
    // Not archived: retried, and the failure line names the id.
    assert_eq!(
        answered[0].1["batchItemFailures"][0]["itemIdentifier"],
        "m-1"
    );
    let failed: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{lines:#?}");
    assert_eq!(failed[0]["event_id"], id, "{}", failed[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 17.6: an allow-listed output bucket that is missing (or forbidden) is the
/// operator's to fix: the message is retried, the `OutputBucketErrors` metric counts each
/// failure, and one error line per cold start says what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_output_bucket_is_retried_counted_and_explained_once() {
    use scribehook::pipeline::ingest::{Dispatch, Queue};

    struct Held;
    #[async_trait::async_trait]
    impl Queue for Held {
        async fn send(&self, _: String) -> Result<(), scribehook::storage::StoreError> {
            Ok(())
        }
    }

    let dir = std::env::temp_dir().join(format!(
        "scribehook-observability-ob-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let uri = format!("file://{}", dir.display());
    // Archive the sample job with the real ingest (queued nowhere).
    let archive = scribehook::storage::Archive::new(std::sync::Arc::new(
        scribehook::storage::file::FileBlobs::new(&dir),
    ));
    let ingest = ingest_with(
        all_secrets(),
        archive,
        Dispatch::Queue(std::sync::Arc::new(Held)),
        1 << 20,
    );
    let body = payload(Provider::Daily, "batch-processor.job-finished");
    let headers = signed_headers(Provider::Daily, &body, None, None);
    let (status, _, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/daily", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200);
    let job =
        json!({"provider": "daily", "event_id": "bp-jf-1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10"});
    let message = |n: usize| sqs_record(&format!("m-{n}"), &job);
    let env = [
        ("DAILY_WEBHOOK_SECRETS", secret(Provider::Daily).to_owned()),
        ("ARCHIVE", uri.clone()),
        ("STORE", uri),
        // Listed, but no such bucket exists in moto: NoSuchBucket.
        (
            "ALLOWED_OUTPUT_BUCKETS",
            "daily-co-batch-processor-qa-us-west-2".to_owned(),
        ),
        ("AWS_ENDPOINT_URL", moto().endpoint.clone()),
    ];
    let binary = env!("CARGO_BIN_EXE_processor");
    let events = vec![
        ("p-1".to_owned(), json!({ "Records": [message(1)] })),
        ("p-2".to_owned(), json!({ "Records": [message(2)] })),
    ];
    let (lines, answered) = tokio::task::spawn_blocking(move || run(binary, &env, events))
        .await
        .unwrap();
    for (n, (_, answer)) in answered.iter().enumerate() {
        assert_eq!(
            answer["batchItemFailures"][0]["itemIdentifier"],
            format!("m-{}", n + 1),
            "{answer}"
        );
    }
    let hints = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("ALLOWED_OUTPUT_BUCKETS"))
        })
        .count();
    assert_eq!(hints, 1, "one hint per cold start: {lines:#?}");
    let counted: Vec<&Value> = emf(&lines)
        .into_iter()
        .filter(|d| d.get("OutputBucketErrors").is_some())
        .collect();
    assert_eq!(counted.len(), 2, "{lines:#?}");
    for doc in counted {
        assert_eq!(doc["provider"], "daily");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
