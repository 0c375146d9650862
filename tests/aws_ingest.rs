//! docs/behaviour.md#http-answers through the real ingest handler: real API Gateway v1/v2 events in, every
//! status code out, and what is (or is not) stored in the S3 archive (moto) and queued in
//! SQS (moto) for each answer.

mod common;

use base64::Engine;
use common::*;
use lambda_runtime::LambdaEvent;
use scribehook::entrypoints::gateway::GatewayRequest;
use scribehook::entrypoints::lambda::GatewayResponse;
use scribehook::Provider;
use serde_json::{json, Value};

const PROSA_EVENT: &str = "stt.jobs.completed";
const PROSA_UUID: &str = "6f1c2d3e-4b5a-4c6d-8e7f-001122334455";
static PROSA_ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    scribehook::providers::body_event_id(&payload(Provider::Prosa, "stt.jobs.completed"))
});

#[derive(Clone, Copy, Debug)]
enum Shape {
    V1,
    V2,
}

const SHAPES: [Shape; 2] = [Shape::V1, Shape::V2];

fn event(
    shape: Shape,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    base64: bool,
) -> LambdaEvent<GatewayRequest> {
    match shape {
        Shape::V1 => apigw_v1(method, path, headers, body, base64),
        Shape::V2 => apigw_v2(method, path, headers, body, base64),
    }
}

fn post(
    shape: Shape,
    provider: Provider,
    headers: &[(String, String)],
    body: &[u8],
) -> LambdaEvent<GatewayRequest> {
    event(
        shape,
        "POST",
        &format!("/webhooks/{provider}"),
        headers,
        body,
        false,
    )
}

/// One delivery per provider with the headers that provider sends, and its event id.
fn delivery(provider: Provider) -> (Vec<u8>, Vec<(String, String)>, &'static str) {
    match provider {
        Provider::Daily => {
            let body = payload(provider, "meeting.started");
            let headers = signed_headers(provider, &body, None, None);
            (
                body,
                headers,
                "ms-1f2e3d4c-0000-4000-8000-000000000003-1736935790",
            )
        }
        Provider::Bota => {
            let body = payload(provider, "recording.created");
            let headers = signed_headers(provider, &body, None, None);
            (body, headers, "evt_abc123")
        }
        Provider::Nabla => {
            let body = payload(provider, "transcribe_async.succeeded");
            let headers = signed_headers(provider, &body, None, None);
            (body, headers, "9f1d2c3b-0000-4000-8000-00000000a003")
        }
        Provider::Prosa => {
            let body = payload(provider, "stt.jobs.completed");
            let headers = signed_headers(provider, &body, Some(PROSA_EVENT), Some(PROSA_UUID));
            // Prosa events are identified by the signed body's digest (docs/behaviour.md#what-unsigned-headers-may-decide).
            (body, headers, PROSA_ID.as_str())
        }
        Provider::NablaConnect => {
            let body = payload(provider, "NOTE_EXPORT");
            let headers = signed_headers(provider, &body, None, None);
            (body, headers, "3f6c2a9e-7d41-4b8a-9c2e-5a1d0e7f4b21")
        }
    }
}

fn assert_ok(status: u16, body: &Value, expected: &str, event_id: &str) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, &json!({"status": expected, "event_id": event_id}));
}

/// [`assert_ok`] for `provider`'s answer, which repeats the event id where the provider
/// waits for it (Nabla Connect's `request_uuid`).
fn assert_ok_from(provider: Provider, status: u16, body: &Value, expected: &str, event_id: &str) {
    assert_eq!(status, 200, "{body}");
    let mut answer = json!({"status": expected, "event_id": event_id});
    if provider == Provider::NablaConnect {
        answer["request_uuid"] = json!(event_id);
    }
    assert_eq!(body, &answer);
}

/// An error answer of docs/behaviour.md#http-answers: the status, exactly `{"error":{"code","message"}}`
/// with a message a person can read, JSON content type, and no secret in it.
fn assert_error(status: u16, body: &Value, response: &GatewayResponse, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    let object = body.as_object().expect("an object body");
    assert_eq!(object.len(), 1, "only `error` at the top: {body}");
    let error = object["error"].as_object().expect("`error` is an object");
    assert_eq!(error.len(), 2, "`error` holds code and message: {body}");
    assert_eq!(error["code"], code, "{body}");
    let message = error["message"].as_str().expect("a message");
    assert!(message.trim().len() > 10, "an actionable message: {body}");
    for p in Provider::ALL {
        assert!(!message.contains(secret(p)), "a secret leaked: {message}");
    }
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    if expected == 503 {
        let retry = response
            .headers()
            .get("retry-after")
            .expect("Retry-After on 503")
            .to_str()
            .unwrap();
        assert!(retry.parse::<u32>().unwrap() > 0, "{retry}");
    } else {
        assert!(response.headers().get("retry-after").is_none());
    }
}

/// Nothing was archived and nothing queued.
async fn assert_nothing_stored(stack: &Stack) {
    assert_eq!(
        list_keys(&stack.clients, &stack.bucket, "").await,
        Vec::<String>::new(),
        "nothing may be stored"
    );
    assert!(stack.receive().await.is_empty(), "nothing may be queued");
}

fn archive_key(provider: Provider, event_id: &str) -> String {
    format!("archive/raw/{provider}/{event_id}.json")
}

/// The archive object of one delivery: docs/behaviour.md#storage-layout's shape, holding the exact body.
async fn assert_archived(stack: &Stack, provider: Provider, event_id: &str, body: &[u8]) -> Value {
    let key = archive_key(provider, event_id);
    let bytes = get_object(&stack.clients, &stack.bucket, &key)
        .await
        .unwrap_or_else(|| panic!("{key} is archived"));
    let archived: Value = serde_json::from_slice(&bytes).unwrap();
    let mut fields: Vec<&str> = archived
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "body_base64",
            "event_id",
            "headers",
            "provider",
            "received_at"
        ]
    );
    assert_eq!(archived["provider"], provider.as_str());
    assert_eq!(archived["event_id"], event_id);
    assert_eq!(archived["received_at"], "2026-01-01T00:00:00Z");
    let stored = base64::engine::general_purpose::STANDARD
        .decode(archived["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(stored, body, "the archive keeps the exact raw bytes");
    archived
}

fn queued_jobs(messages: &[aws_sdk_sqs::types::Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// 200 accepted / duplicate / conflict

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_is_accepted_archived_and_queued_in_both_shapes() {
    for shape in SHAPES {
        let stack = Stack::new(vec![]).await;
        for provider in Provider::ALL {
            let (body, headers, event_id) = delivery(provider);
            let (status, reply, response) =
                invoke(&stack.ingest, post(shape, provider, &headers, &body)).await;
            assert_ok_from(provider, status, &reply, "accepted", event_id);
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "application/json"
            );
            let archived = assert_archived(&stack, provider, event_id, &body).await;
            // The signature-relevant headers are kept (lower-cased) for re-verification.
            let kept = archived["headers"].as_object().unwrap();
            for (name, value) in &headers {
                assert_eq!(
                    kept.get(&name.to_ascii_lowercase()),
                    Some(&Value::String(value.clone())),
                    "{shape:?} {provider}: {archived}"
                );
            }
            let jobs = queued_jobs(&stack.receive().await);
            assert_eq!(
                jobs,
                [json!({"provider": provider.as_str(), "event_id": event_id})],
                "{shape:?} {provider}"
            );
        }
        let keys = list_keys(&stack.clients, &stack.bucket, "").await;
        assert_eq!(keys.len(), Provider::ALL.len(), "{keys:?}");
        // The queued jobs process into records.
        for provider in Provider::ALL {
            let (body, headers, _) = delivery(provider);
            invoke(&stack.ingest, post(shape, provider, &headers, &body)).await;
        }
        assert_eq!(process_queue(&stack).await, Provider::ALL.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_is_a_duplicate_and_is_queued_again() {
    for shape in SHAPES {
        let stack = Stack::new(vec![]).await;
        for provider in Provider::ALL {
            let (body, headers, event_id) = delivery(provider);
            let (status, reply, _) =
                invoke(&stack.ingest, post(shape, provider, &headers, &body)).await;
            assert_ok_from(provider, status, &reply, "accepted", event_id);
            for _ in 0..2 {
                let (status, reply, _) =
                    invoke(&stack.ingest, post(shape, provider, &headers, &body)).await;
                assert_ok_from(provider, status, &reply, "duplicate", event_id);
            }
            // Every delivery is dispatched (processing is idempotent), and the archive still
            // holds the first one only.
            assert_eq!(stack.receive().await.len(), 3);
            assert_eq!(
                list_keys(
                    &stack.clients,
                    &stack.bucket,
                    &format!("archive/raw/{provider}/")
                )
                .await,
                [archive_key(provider, event_id)]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_retry_with_a_new_event_ts_is_a_duplicate() {
    let stack = Stack::new(vec![]).await;
    let body = payload(Provider::Daily, "meeting.started");
    let event_id = "ms-1f2e3d4c-0000-4000-8000-000000000003-1736935790";
    let headers = signed_headers(Provider::Daily, &body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Daily, &headers, &body),
    )
    .await;
    assert_ok(status, &reply, "accepted", event_id);

    // Daily's retry: the same event, re-sent (and re-signed) later with a new event_ts.
    let mut retry: Value = serde_json::from_slice(&body).unwrap();
    retry["event_ts"] = json!(1736935850.25);
    let retry = serde_json::to_vec(&retry).unwrap();
    assert_ne!(retry, body);
    let headers = signed_headers_at(Provider::Daily, &retry, NOW + 60, None, None);
    for shape in SHAPES {
        let (status, reply, _) = invoke(
            &stack.ingest,
            post(shape, Provider::Daily, &headers, &retry),
        )
        .await;
        assert_ok(status, &reply, "duplicate", event_id);
    }
    // No variant: the first archive object is the only one.
    assert_eq!(
        list_keys(&stack.clients, &stack.bucket, "archive/").await,
        [archive_key(Provider::Daily, event_id)]
    );
    assert_archived(&stack, Provider::Daily, event_id, &body).await;
    // Anything else changed in the body is a conflict, not a duplicate.
    let mut changed: Value = serde_json::from_slice(&body).unwrap();
    changed["payload"]["room"] = json!("exam-room-5");
    let changed = serde_json::to_vec(&changed).unwrap();
    let headers = signed_headers(Provider::Daily, &changed, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Daily, &headers, &changed),
    )
    .await;
    assert_ok(status, &reply, "conflict", event_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_event_id_with_other_content_is_a_conflict_kept_beside_the_first() {
    let stack = Stack::new(vec![]).await;
    let first = payload(Provider::Bota, "transcription.completed");
    let mut second: Value = serde_json::from_slice(&first).unwrap();
    second["data"]["text"] = json!("A different transcript under the same event id.");
    second["data"]["segments"][0]["text"] = json!("A different transcript");
    let second = serde_json::to_vec(&second).unwrap();

    let headers = signed_headers(Provider::Bota, &first, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Bota, &headers, &first),
    )
    .await;
    assert_ok(status, &reply, "accepted", "evt_ghi789");
    for shape in SHAPES {
        let headers = signed_headers(Provider::Bota, &second, None, None);
        let (status, reply, _) = invoke(
            &stack.ingest,
            post(shape, Provider::Bota, &headers, &second),
        )
        .await;
        assert_ok(status, &reply, "conflict", "evt_ghi789");
    }

    // The first stays where it was; the variant sits beside it as <id>~<16 hex>.json.
    assert_archived(&stack, Provider::Bota, "evt_ghi789", &first).await;
    let keys = list_keys(&stack.clients, &stack.bucket, "archive/raw/bota/").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let variant = keys
        .iter()
        .find(|k| k.as_str() != archive_key(Provider::Bota, "evt_ghi789"))
        .unwrap();
    let suffix = variant
        .strip_prefix("archive/raw/bota/evt_ghi789~")
        .and_then(|s| s.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("variant key {variant}"));
    assert_eq!(suffix.len(), 16, "{variant}");
    assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{variant}");
    let stored: Value = serde_json::from_slice(
        &get_object(&stack.clients, &stack.bucket, variant)
            .await
            .unwrap(),
    )
    .unwrap();
    let stored = base64::engine::general_purpose::STANDARD
        .decode(stored["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(stored, second, "the variant is kept byte for byte");

    // After everything queued is processed, the record keeps the first content.
    assert_eq!(process_queue(&stack).await, 3);
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .expect("a record");
    let transcript = &record["components"]["transcript"];
    assert_eq!(
        transcript["transcript"]["text"],
        "Hello, thank you for coming in today. How can I help you?"
    );
    assert_eq!(
        transcript["transcript"]["segments"][0]["text"],
        "Hello, thank you for coming in today."
    );
    assert_eq!(record["events"], json!(["evt_ghi789"]));
    let from_s3 = get_object(
        &stack.clients,
        &stack.bucket,
        "records/bota/rec_xyz789/record.json",
    )
    .await
    .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&from_s3).unwrap(), record);
}

// ---------------------------------------------------------------------------------------
// Daily's endpoint check

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_endpoint_check_is_answered_200_and_stores_nothing() {
    let stack = Stack::new(vec![]).await;
    let bodies: [&[u8]; 4] = [
        br#"{"test":"test"}"#,
        b"{ \"test\" : \"test\" }\n",
        b"\r\n\t{\"test\":\r\n  \"test\"}  ",
        br#"{"test": "test"}"#,
    ];
    for shape in SHAPES {
        for body in bodies {
            // Unsigned, as Daily sends it when a webhook is created…
            let (status, reply, _) =
                invoke(&stack.ingest, post(shape, Provider::Daily, &[], body)).await;
            assert_eq!(status, 200, "{shape:?} {reply}");
            assert!(reply.get("error").is_none(), "{reply}");
            // …and signed.
            let headers = signed_headers(Provider::Daily, body, None, None);
            let (status, reply, _) =
                invoke(&stack.ingest, post(shape, Provider::Daily, &headers, body)).await;
            assert_eq!(status, 200, "{shape:?} {reply}");
            assert!(reply.get("error").is_none(), "{reply}");
            // Base64-flagged too.
            let (status, _, _) = invoke(
                &stack.ingest,
                event(shape, "POST", "/webhooks/daily", &headers, body, true),
            )
            .await;
            assert_eq!(status, 200);
        }
    }
    assert_nothing_stored(&stack).await;
    // Something that only looks like it is a normal delivery: unsigned → 401.
    let (status, reply, response) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Daily, &[], br#"{"test":"test","x":1}"#),
    )
    .await;
    assert_error(status, &reply, &response, 401, "missing_signature");
    assert_nothing_stored(&stack).await;
}

// ---------------------------------------------------------------------------------------
// 401

fn replace_header(headers: &mut [(String, String)], name: &str, value: &str) {
    let slot = headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no {name} header"));
    slot.1 = value.to_owned();
}

fn without_header(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}

fn header_value(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// Each provider's required signature headers.
fn required_headers(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Daily => &["X-Webhook-Signature", "X-Webhook-Timestamp"],
        Provider::Bota => &["X-Bota-Signature", "X-Bota-Timestamp"],
        Provider::Nabla => &["x-nabla-webhook-signature", "x-nabla-webhook-timestamp"],
        Provider::Prosa => &["X-Prosa-Signature", "X-Prosa-Event", "X-Prosa-Event-UUID"],
        Provider::NablaConnect => &["x-nabla-connect-signature", "x-nabla-connect-timestamp"],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_blank_signature_headers_are_401_missing_signature() {
    let stack = Stack::new(vec![]).await;
    for shape in SHAPES {
        for provider in Provider::ALL {
            let (body, headers, _) = delivery(provider);
            // No headers at all.
            let (status, reply, response) =
                invoke(&stack.ingest, post(shape, provider, &[], &body)).await;
            assert_error(status, &reply, &response, 401, "missing_signature");
            for name in required_headers(provider) {
                // One required header missing.
                let (status, reply, response) = invoke(
                    &stack.ingest,
                    post(shape, provider, &without_header(&headers, name), &body),
                )
                .await;
                assert_error(status, &reply, &response, 401, "missing_signature");
                // Or present but blank.
                for blank in ["", "   "] {
                    let mut blanked = headers.clone();
                    replace_header(&mut blanked, name, blank);
                    let (status, reply, response) =
                        invoke(&stack.ingest, post(shape, provider, &blanked, &body)).await;
                    assert_error(status, &reply, &response, 401, "missing_signature");
                }
            }
        }
    }
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_signature_headers_joined_by_http_api_v2_are_401_missing_signature() {
    let stack = Stack::new(vec![]).await;
    // HTTP API (v2) joins a repeated header's values with a comma.
    let cases: [(Provider, &str); 6] = [
        (Provider::Daily, "X-Webhook-Signature"),
        (Provider::Daily, "X-Webhook-Timestamp"),
        (Provider::Bota, "X-Bota-Signature"),
        (Provider::Bota, "X-Bota-Timestamp"),
        (Provider::Nabla, "x-nabla-webhook-timestamp"),
        (Provider::Prosa, "X-Prosa-Signature"),
    ];
    for (provider, name) in cases {
        let (body, mut headers, _) = delivery(provider);
        let value = header_value(&headers, name);
        replace_header(&mut headers, name, &format!("{value},{value}"));
        let (status, reply, response) =
            invoke(&stack.ingest, post(Shape::V2, provider, &headers, &body)).await;
        assert_error(status, &reply, &response, 401, "missing_signature");
    }
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_signature_headers_in_rest_api_v1_multi_value_headers_are_401() {
    let stack = Stack::new(vec![]).await;
    for provider in Provider::ALL {
        let (body, headers, _) = delivery(provider);
        let name = required_headers(provider)[0];
        let value = header_value(&headers, name);
        // API Gateway REST (v1): `multiValueHeaders` holds both values, `headers` the last.
        for first in [value.clone(), "v1=forged".to_owned()] {
            let mut repeated = headers.clone();
            let at = repeated
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(name))
                .unwrap();
            repeated.insert(at, (name.to_owned(), first));
            let (status, reply, response) =
                invoke(&stack.ingest, post(Shape::V1, provider, &repeated, &body)).await;
            assert_error(status, &reply, &response, 401, "missing_signature");
        }
    }
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_outside_the_window_are_401_stale_timestamp() {
    let stack = Stack::new(vec![]).await;
    for shape in SHAPES {
        for provider in Provider::ALL {
            let (body, _, _) = delivery(provider);
            let (event_type, event_id) = match provider {
                Provider::Prosa => (Some(PROSA_EVENT), Some(PROSA_UUID)),
                _ => (None, None),
            };
            for at in [NOW - 301, NOW + 301, NOW - 86_400, NOW + 86_400] {
                let headers = signed_headers_at(provider, &body, at, event_type, event_id);
                let (status, reply, response) =
                    invoke(&stack.ingest, post(shape, provider, &headers, &body)).await;
                assert_error(status, &reply, &response, 401, "stale_timestamp");
            }
        }
    }
    assert_nothing_stored(&stack).await;
    // The window's edges themselves (±300 s) are inside it.
    for (at, expected) in [(NOW - 300, "accepted"), (NOW + 300, "duplicate")] {
        let body = payload(Provider::Bota, "recording.created");
        let headers = signed_headers_at(Provider::Bota, &body, at, None, None);
        let (status, reply, _) = invoke(
            &stack.ingest,
            post(Shape::V2, Provider::Bota, &headers, &body),
        )
        .await;
        assert_ok(status, &reply, expected, "evt_abc123");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_a_tampered_body_is_401_invalid_signature() {
    let stack = Stack::new(vec![]).await;
    let wrong = |p: Provider| match p {
        Provider::Daily => "d3Jvbmctc2VjcmV0LWZvci1kYWlseQ==",
        Provider::Bota => "whsec_wrong",
        Provider::Nabla => "wrong-nabla",
        Provider::Prosa => "wrong-prosa",
        Provider::NablaConnect => "wrong-nabla-connect",
    };
    for shape in SHAPES {
        for provider in Provider::ALL {
            let (body, headers, _) = delivery(provider);
            let (event_type, event_id) = match provider {
                Provider::Prosa => (Some(PROSA_EVENT), Some(PROSA_UUID)),
                _ => (None, None),
            };
            let forged =
                signed_headers_with(provider, wrong(provider), &body, NOW, event_type, event_id);
            let (status, reply, response) =
                invoke(&stack.ingest, post(shape, provider, &forged, &body)).await;
            assert_error(status, &reply, &response, 401, "invalid_signature");

            // The right signature over other bytes: one character changed, or whitespace
            // added (verification is on the raw bytes, never on re-serialized JSON).
            let text = String::from_utf8(body.clone()).unwrap();
            let tampered = text
                .replacen("\"id\"", "\"Id\"", 1)
                .replacen("job_id", "job_Id", 1)
                .replacen("request_uuid", "request_uuiD", 1);
            let spaced = format!("{text} ");
            for other in [tampered, spaced] {
                assert_ne!(other.as_bytes(), body.as_slice());
                let (status, reply, response) = invoke(
                    &stack.ingest,
                    post(shape, provider, &headers, other.as_bytes()),
                )
                .await;
                assert_error(status, &reply, &response, 401, "invalid_signature");
            }
        }
    }
    // Bota: an X-Bota-Event-Id that is not the signed body's id.
    let (body, mut headers, _) = delivery(Provider::Bota);
    replace_header(&mut headers, "X-Bota-Event-Id", "evt_other");
    let (status, reply, response) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Bota, &headers, &body),
    )
    .await;
    assert_error(status, &reply, &response, 401, "invalid_signature");
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_names_in_any_case_verify() {
    let stack = Stack::new(vec![]).await;
    let odd_case = |name: &str| -> String {
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    };
    for provider in Provider::ALL {
        let (body, headers, event_id) = delivery(provider);
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (odd_case(&k), v))
            .collect();
        // REST API (v1) hands header names over as the client sent them.
        let (status, reply, _) =
            invoke(&stack.ingest, post(Shape::V1, provider, &headers, &body)).await;
        assert_ok_from(provider, status, &reply, "accepted", event_id);
        assert_archived(&stack, provider, event_id, &body).await;
    }
}

// ---------------------------------------------------------------------------------------
// 404 / 405 / 413

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_provider_route_is_404_unknown_provider() {
    let stack = Stack::new(vec![]).await;
    let (body, headers, _) = delivery(Provider::Bota);
    for shape in SHAPES {
        for path in [
            "/webhooks/zoom",
            "/webhooks/",
            "/webhooks",
            "/hooks/bota",
            "/webhooks/bota/extra",
            "/",
        ] {
            let (status, reply, response) = invoke(
                &stack.ingest,
                event(shape, "POST", path, &headers, &body, false),
            )
            .await;
            assert_error(status, &reply, &response, 404, "unknown_provider");
        }
    }
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_other_than_post_is_405_with_allow_post() {
    let stack = Stack::new(vec![]).await;
    for shape in SHAPES {
        for provider in Provider::ALL {
            let (body, headers, _) = delivery(provider);
            for (method, body) in [
                ("GET", &[][..]),
                ("PUT", &body[..]),
                ("DELETE", &[][..]),
                ("PATCH", &body[..]),
            ] {
                let (status, reply, response) = invoke(
                    &stack.ingest,
                    event(
                        shape,
                        method,
                        &format!("/webhooks/{provider}"),
                        &headers,
                        body,
                        false,
                    ),
                )
                .await;
                assert_error(status, &reply, &response, 405, "method_not_allowed");
                assert_eq!(response.headers().get("allow").unwrap(), "POST");
            }
        }
    }
    assert_nothing_stored(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_body_bytes_is_413_and_the_limit_itself_is_accepted() {
    let stack = Stack::new(vec![]).await;
    let limit = 256 * 1024;
    let base = payload(Provider::Bota, "recording.created");
    // Trailing whitespace keeps the JSON valid; the size is what varies.
    let sized = |n: usize| {
        let mut body = base.clone();
        body.resize(n, b' ');
        body
    };
    for shape in SHAPES {
        for n in [limit + 1, limit + 4096, 2 * limit] {
            let body = sized(n);
            let headers = signed_headers(Provider::Bota, &body, None, None);
            let (status, reply, response) =
                invoke(&stack.ingest, post(shape, Provider::Bota, &headers, &body)).await;
            assert_error(status, &reply, &response, 413, "payload_too_large");
            // Flagged base64 on the wire, it is the decoded size that counts.
            let (status, reply, response) = invoke(
                &stack.ingest,
                event(shape, "POST", "/webhooks/bota", &headers, &body, true),
            )
            .await;
            assert_error(status, &reply, &response, 413, "payload_too_large");
        }
    }
    assert_nothing_stored(&stack).await;
    let body = sized(limit);
    let headers = signed_headers(Provider::Bota, &body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Bota, &headers, &body),
    )
    .await;
    assert_ok(status, &reply, "accepted", "evt_abc123");
}

// ---------------------------------------------------------------------------------------
// 400 malformed_event, 200 for unmodelled types

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_body_that_is_not_the_envelope_is_400_and_archived_under_its_sha256() {
    let stack = Stack::new(vec![]).await;
    let cases: [(Provider, &[u8]); 7] = [
        (Provider::Bota, b"this is not json"),
        (Provider::Bota, br#"{"id":"evt_no_type"}"#),
        (Provider::Daily, b"<xml/>"),
        (Provider::Daily, br#"[{"type":"meeting.started"}]"#),
        (
            Provider::Nabla,
            br#"{"id":"x","type":"transcribe_async.succeeded"}"#,
        ),
        // Under Nabla's and Prosa's v1 schemes only one JSON value counts as signed
        // (docs/behaviour.md#signed-bytes-quoting-and-bounds): their cases are JSON.
        (Provider::Nabla, br#"[1, 2, 3]"#),
        (Provider::Prosa, br#""not a job""#),
    ];
    for (i, (provider, body)) in cases.into_iter().enumerate() {
        let shape = SHAPES[i % 2];
        let uuid = format!("uuid-{i}");
        let headers = match provider {
            Provider::Prosa => signed_headers(provider, body, Some(PROSA_EVENT), Some(&uuid)),
            _ => signed_headers(provider, body, None, None),
        };
        let (status, reply, response) =
            invoke(&stack.ingest, post(shape, provider, &headers, body)).await;
        assert_error(status, &reply, &response, 400, "malformed_event");
        // docs/behaviour.md#http-answers: archived under its `sha256-…` id (even when a header named one).
        let event_id = format!("sha256-{}", scribehook::signature::sha256_hex(body));
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&event_id),
            "names the archive id: {message}"
        );
        assert_archived(&stack, provider, &event_id, body).await;
    }
    assert_eq!(
        list_keys(&stack.clients, &stack.bucket, "archive/")
            .await
            .len(),
        cases.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodelled_event_type_is_accepted_and_recorded_as_other() {
    let stack = Stack::new(vec![]).await;
    let body = br#"{"id":"evt_consent_1","type":"consent.revoked","created_at":"2025-01-15T12:00:00Z","data":{"id":"rec_xyz789","end_user_id":"eu_user123"}}"#;
    let headers = signed_headers(Provider::Bota, body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V1, Provider::Bota, &headers, body),
    )
    .await;
    assert_ok(status, &reply, "accepted", "evt_consent_1");
    assert_archived(&stack, Provider::Bota, "evt_consent_1", body).await;
    // A Daily type nobody modelled either.
    let daily = br#"{"version":"1.0.0","type":"participant.joined","id":"pj-1","payload":{"session_id":"sess-9","user_id":"u-1","joined_at":1736935800},"event_ts":1736935800.5}"#;
    let headers = signed_headers(Provider::Daily, daily, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Daily, &headers, daily),
    )
    .await;
    assert_ok(status, &reply, "accepted", "pj-1");

    assert_eq!(process_queue(&stack).await, 2);
    let item = dynamodb_item(
        &stack.clients,
        &stack.table,
        "bota#rec_xyz789",
        "event#evt_consent_1",
    )
    .await
    .expect("the event item");
    assert_eq!(attr_s(&item, "category"), Some("other"));
    assert_eq!(attr_s(&item, "event_type"), Some("consent.revoked"));
    let event: Value = serde_json::from_str(attr_s(&item, "event").unwrap()).unwrap();
    assert_eq!(event["category"], "other");
    assert_eq!(event["status"], "info");
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .expect("a record");
    assert_eq!(record["events"], json!(["evt_consent_1"]));
    let s3_event = get_object(
        &stack.clients,
        &stack.bucket,
        "records/bota/rec_xyz789/events/evt_consent_1.json",
    )
    .await
    .expect("the S3 event");
    assert_eq!(serde_json::from_slice::<Value>(&s3_event).unwrap(), event);

    let item = dynamodb_item(&stack.clients, &stack.table, "daily#sess-9", "event#pj-1")
        .await
        .expect("the Daily event item");
    assert_eq!(attr_s(&item, "category"), Some("other"));
}

// ---------------------------------------------------------------------------------------
// isBase64Encoded

fn flag_base64(mut event: LambdaEvent<GatewayRequest>) -> LambdaEvent<GatewayRequest> {
    event.payload.is_base64_encoded = true;
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_bodies_verify_on_the_decoded_bytes() {
    for shape in SHAPES {
        let stack = Stack::new(vec![]).await;
        for provider in Provider::ALL {
            let (body, headers, event_id) = delivery(provider);
            let (status, reply, _) = invoke(
                &stack.ingest,
                event(
                    shape,
                    "POST",
                    &format!("/webhooks/{provider}"),
                    &headers,
                    &body,
                    true,
                ),
            )
            .await;
            assert_ok_from(provider, status, &reply, "accepted", event_id);
            assert_archived(&stack, provider, event_id, &body).await;
        }
        // Bytes that are not UTF-8 only travel base64-encoded; they still verify and are
        // archived exactly (then refused as malformed, being no JSON).
        let binary: &[u8] = &[0xff, 0xfe, 0x00, 0x7b, 0x80, 0x22];
        let headers = signed_headers(Provider::Bota, binary, None, None);
        let (status, reply, response) = invoke(
            &stack.ingest,
            event(shape, "POST", "/webhooks/bota", &headers, binary, true),
        )
        .await;
        assert_error(status, &reply, &response, 400, "malformed_event");
        let id = format!("sha256-{}", scribehook::signature::sha256_hex(binary));
        assert_archived(&stack, Provider::Bota, &id, binary).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_base64_body_is_400_and_the_ingest_keeps_serving() {
    let stack = Stack::new(vec![]).await;
    let (body, headers, event_id) = delivery(Provider::Daily);
    for shape in SHAPES {
        for garbage in ["@@@ not base64 @@@", "abc", "====", "{\"test\":\"test\"}"] {
            let (status, reply, response) = invoke(
                &stack.ingest,
                flag_base64(event(
                    shape,
                    "POST",
                    "/webhooks/daily",
                    &headers,
                    garbage.as_bytes(),
                    false,
                )),
            )
            .await;
            assert_error(status, &reply, &response, 400, "malformed_event");
        }
    }
    assert_nothing_stored(&stack).await;
    // The same instance still answers a valid request.
    for (shape, expected) in [(Shape::V2, "accepted"), (Shape::V1, "duplicate")] {
        let (status, reply, _) =
            invoke(&stack.ingest, post(shape, Provider::Daily, &headers, &body)).await;
        assert_ok(status, &reply, expected, event_id);
    }
}

// ---------------------------------------------------------------------------------------
// 503 from real (moto) dependencies, and ids in keys

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dependency_is_503_unavailable_with_retry_after() {
    let stack = Stack::new(vec![]).await;
    let (body, headers, event_id) = delivery(Provider::Bota);

    // The queue does not exist: archived, but not acknowledged.
    let missing_queue = format!(
        "{}/123456789012/no-such-queue-{}",
        moto().endpoint,
        unique("q")
    );
    let broken = ingest_on(
        &stack,
        sqs_dispatch(&stack.clients, &missing_queue).await,
        256 * 1024,
    );
    for shape in SHAPES {
        let (status, reply, response) =
            invoke(&broken, post(shape, Provider::Bota, &headers, &body)).await;
        assert_error(status, &reply, &response, 503, "unavailable");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("no-such-queue"),
            "no internals: {message}"
        );
    }
    assert_archived(&stack, Provider::Bota, event_id, &body).await;
    // The provider's retry, once the queue is back, gets the event queued.
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Bota, &headers, &body),
    )
    .await;
    assert_ok(status, &reply, "duplicate", event_id);
    assert_eq!(stack.receive().await.len(), 1);

    // The archive bucket does not exist: nothing is queued.
    let no_archive = ingest_with(
        all_secrets(),
        scribehook::storage::archive::Archive::new(std::sync::Arc::new(
            scribehook::storage::s3::S3Blobs::new(
                stack.clients.s3().await,
                unique("no-such-bucket"),
                "archive".into(),
            ),
        )),
        sqs_dispatch(&stack.clients, &stack.queue_url).await,
        256 * 1024,
    );
    for shape in SHAPES {
        let (status, reply, response) =
            invoke(&no_archive, post(shape, Provider::Bota, &headers, &body)).await;
        assert_error(status, &reply, &response, 503, "unavailable");
    }
    assert!(stack.receive().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_are_percent_encoded_in_keys() {
    let stack = Stack::new(vec![]).await;
    let body = br#"{"id":"evt/../a b?","type":"recording.created","created_at":"2025-01-15T10:00:00Z","data":{"id":"rec/../x"}}"#;
    let headers = signed_headers(Provider::Bota, body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        post(Shape::V2, Provider::Bota, &headers, body),
    )
    .await;
    assert_ok(status, &reply, "accepted", "evt/../a b?");
    assert_eq!(
        list_keys(&stack.clients, &stack.bucket, "").await,
        ["archive/raw/bota/evt%2F..%2Fa%20b%3F.json"]
    );
    assert_eq!(process_queue(&stack).await, 1);
    assert!(dynamodb_item(
        &stack.clients,
        &stack.table,
        "bota#rec%2F..%2Fx",
        "event#evt%2F..%2Fa%20b%3F"
    )
    .await
    .is_some());
    let keys = list_keys(&stack.clients, &stack.bucket, "records/").await;
    assert_eq!(
        keys,
        [
            "records/bota/rec%2F..%2Fx/events/evt%2F..%2Fa%20b%3F.json",
            "records/bota/rec%2F..%2Fx/record.json"
        ]
    );
}
