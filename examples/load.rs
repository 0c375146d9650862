//! `make load`: 10,000 signed deliveries from every provider for 500 subjects through
//! the real ingest handler (32 concurrent senders, API Gateway v2 events) queueing for four
//! concurrent processor invocations (the real handler, SQS batches of up to ten, failed items
//! redelivered) folding them into DynamoDB; then every record
//! is checked against the fold of its unique events. 20 % of the deliveries are exact
//! redeliveries and some are conflicting variants, each sent after its original was
//! answered (a provider retries after an answer or a timeout, not before).
//!
//! Run by `scripts/load.sh` twice, with dynalite serving DynamoDB (its conditional writes
//! are atomic, unlike moto's). First at full size with the archive in a local directory and
//! the queue between ingest and processor in memory (moto's S3 and SQS cannot serve 32
//! concurrent senders: its answers passed the SDK timeouts). Then, with `QUEUE_URL` set, the
//! deployed path at a size moto serves (50 subjects, 4 senders, 2 processors): the ingest
//! archives to S3 and queues on SQS, the processor reads that queue as Lambda's event source
//! does and tells EventBridge, whose rule routes every notification to an SQS queue drained
//! at the end; it also prints each delivery's time from sending to its record written and
//! notifications confirmed, and the bytes each store holds per delivery.
//! In the first run record notifications go to an in-memory bus that refuses one publication in fifty (a
//! flaky EventBridge): the figures say how many events each delivery led to, and that every
//! record's last revision was told anyway, and `Record Completed` once per complete record.
//! Prints one line of figures, then one per provider; exits non-zero on any lost, doubled or mismatched record or
//! notification.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use http::HeaderMap;
use lambda_runtime::{Context, LambdaEvent};
use scribehook::config::{Config, Secrets};
use scribehook::entrypoints::{app, lambda};
use scribehook::pipeline::ingest::{Dispatch, Ingest, Queue};
use scribehook::pipeline::notify::{Detail, DetailType, Notification, Notifier};
use scribehook::record::merge;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::records::RecordStore;
use scribehook::storage::StoreError;
use scribehook::{NormalizedEvent, Provider, SignOptions, Timestamp};
use serde_json::{json, Value};

const EVENTS_PER_SUBJECT: usize = 16;

/// The size of a run: the in-memory one, or the deployed path's (moto serves S3, SQS and
/// EventBridge one request at a time at best, so fewer senders and deliveries).
#[derive(Clone, Copy)]
struct Plan {
    subjects: usize,
    redeliveries: usize,
    conflicts: usize,
    senders: usize,
    processors: usize,
}

const IN_MEMORY: Plan = Plan {
    subjects: 500,
    redeliveries: 2_000,
    conflicts: 50,
    senders: 32,
    processors: 4,
};

const DEPLOYED: Plan = Plan {
    subjects: 50,
    redeliveries: 150,
    conflicts: 10,
    senders: 4,
    processors: 2,
};

/// One delivery to send: the provider, its body, the event type header Prosa needs, and the
/// event id the ingest will answer with.
#[derive(Clone)]
struct Delivery {
    provider: Provider,
    body: Vec<u8>,
    prosa_type: Option<&'static str>,
    event_id: String,
}

fn template(provider: Provider, name: &str) -> Value {
    let path = format!(
        "{}/events/payloads/{provider}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A small deterministic generator (xorshift64*): the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn instant(rng: &mut Rng) -> String {
    Timestamp::from_unix(1_767_225_600 + rng.below(86_400) as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The `n`th event of `subject`, built from the committed sample payloads.
fn event(provider: Provider, subject: &str, n: usize, rng: &mut Rng) -> Delivery {
    let id = format!("{subject}-e{n:02}");
    let (body, prosa_type) = match provider {
        Provider::Bota => {
            const TYPES: [&str; 6] = [
                "recording.created",
                "recording.uploaded",
                "transcription.started",
                "transcription.completed",
                "summary.started",
                "summary.completed",
            ];
            let kind = TYPES[n % TYPES.len()];
            let mut body = template(provider, kind);
            body["id"] = json!(id);
            body["created_at"] = json!(instant(rng));
            if kind.starts_with("recording") {
                body["data"]["id"] = json!(subject);
            } else {
                body["data"]["recording_id"] = json!(subject);
                body["data"]["text"] = json!(format!("text {n} of {subject}"));
            }
            (body, None)
        }
        Provider::Nabla => {
            let kind = if n.is_multiple_of(2) {
                "transcribe_async.succeeded"
            } else {
                "generate_note_async.succeeded"
            };
            let mut body = template(provider, kind);
            body["id"] = json!(id);
            body["created_at"] = json!(instant(rng));
            body["data"]["id"] = json!(subject);
            (body, None)
        }
        Provider::Prosa => {
            let mut body = template(provider, "stt.jobs.completed");
            body["job_id"] = json!(subject);
            body["modified_at"] = json!(instant(rng));
            body["result"]["data"][0]["transcript"] = json!(format!("segment {n} of {subject}"));
            (body, Some("stt.jobs.completed"))
        }
        Provider::NablaConnect => {
            // Exports of one encounter: notes (the clinician edits and exports again) and
            // patient instructions; the signing time orders them.
            let kind = if n.is_multiple_of(3) {
                "PATIENT_INSTRUCTIONS_EXPORT"
            } else {
                "NOTE_EXPORT"
            };
            let mut body = template(provider, kind);
            body["request_uuid"] = json!(id);
            body["data"]["external_encounter_id"] = json!(subject);
            (body, None)
        }
        Provider::Daily => {
            let kind = if n.is_multiple_of(2) {
                "recording.ready-to-download"
            } else {
                "meeting.started"
            };
            let mut body = template(provider, kind);
            body["id"] = json!(id);
            body["event_ts"] = json!(1_767_225_600 + rng.below(86_400));
            body["payload"]["recording_id"] = json!(subject);
            body["payload"]["meeting_id"] = json!(subject);
            (body, None)
        }
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let event_id = if provider == Provider::Prosa {
        scribehook::providers::body_event_id(&body)
    } else {
        id
    };
    Delivery {
        provider,
        body,
        prosa_type,
        event_id,
    }
}

/// The headers `delivery` is sent with when signed at `now` (unix seconds).
fn signed_headers(delivery: &Delivery, now: i64) -> Vec<(String, String)> {
    let keys = delivery
        .provider
        .keys(&[delivery.provider.facts().sample_secret])
        .expect("test secrets");
    let opts = SignOptions {
        timestamp: now,
        event_type: delivery.prosa_type.map(str::to_owned),
        event_id: delivery
            .prosa_type
            .map(|_| format!("uuid-{}", delivery.event_id)),
    };
    delivery
        .provider
        .sign(&keys, &delivery.body, &opts)
        .expect("signing")
}

fn v2_event(
    delivery: &Delivery,
    now: i64,
) -> LambdaEvent<scribehook::entrypoints::gateway::GatewayRequest> {
    let headers: serde_json::Map<String, Value> = signed_headers(delivery, now)
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v)))
        .collect();
    let path = format!("/webhooks/{}", delivery.provider);
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {"accountId": "1", "apiId": "load", "domainName": "l", "domainPrefix": "l",
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0,
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "load"}},
        "body": String::from_utf8_lossy(&delivery.body),
        "isBase64Encoded": false
    });
    LambdaEvent::new(
        serde_json::from_value(event).expect("a v2 event"),
        Context::default(),
    )
}

#[derive(Default)]
struct Tally {
    answers: BTreeMap<String, usize>,
    accepted: BTreeMap<String, usize>,
    latencies_ms: Vec<f64>,
    wrong: Vec<String>,
    by_provider: BTreeMap<Provider, ProviderTally>,
    /// When each first delivery was signed: a signed timestamp can be the event's time
    /// (Nabla Connect's is), so the expected fold needs it.
    signed_at: BTreeMap<String, i64>,
    /// When each first delivery was sent, for the time to its record and notification.
    sent_at: BTreeMap<String, Instant>,
    /// Attempts answered 503 and sent again.
    retried_503: usize,
}

/// One provider's share of the run, for the per-provider lines.
#[derive(Default)]
struct ProviderTally {
    answers: BTreeMap<String, usize>,
    latencies_ms: Vec<f64>,
    records: usize,
    lost: usize,
    mismatched: usize,
}

/// Sends `deliveries` with `senders` concurrent senders; `expected` is each one's answer.
async fn send_all(
    ingest: &Arc<scribehook::pipeline::ingest::Ingest>,
    deliveries: Vec<(Delivery, &'static str)>,
    tally: &Arc<Mutex<Tally>>,
    senders: usize,
) {
    let queue = Arc::new(Mutex::new(deliveries.into_iter()));
    let mut handles = Vec::new();
    for _ in 0..senders {
        let (queue, ingest, tally) = (queue.clone(), ingest.clone(), tally.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                let Some((delivery, expected)) = next else {
                    return;
                };
                let started = Instant::now();
                // A 503 is retried as a provider retries it (a second later, up to five
                // times); the latency is the answer to the attempt that was not a 503.
                let (mut attempts, mut elapsed, mut signed_at, mut body) = (0, 0.0, 0, Value::Null);
                while attempts < 5 {
                    attempts += 1;
                    let attempt = Instant::now();
                    signed_at = Timestamp::now().unix_seconds();
                    let event = v2_event(&delivery, signed_at);
                    let response = lambda::ingest_handler(&ingest, event).await;
                    elapsed = attempt.elapsed().as_secs_f64() * 1000.0;
                    let status = response.as_ref().map_or(0, |r| r.status());
                    body = response
                        .as_ref()
                        .ok()
                        .and_then(|r| serde_json::from_str(r.body()).ok())
                        .unwrap_or(Value::Null);
                    if status != 503 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let status = body["status"].as_str().unwrap_or("error").to_owned();
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                t.retried_503 += attempts - 1;
                if expected == "accepted" {
                    t.signed_at.insert(delivery.event_id.clone(), signed_at);
                    t.sent_at.insert(delivery.event_id.clone(), started);
                }
                t.latencies_ms.push(elapsed);
                *t.answers.entry(status.clone()).or_default() += 1;
                let mine = t.by_provider.entry(delivery.provider).or_default();
                mine.latencies_ms.push(elapsed);
                *mine.answers.entry(status.clone()).or_default() += 1;
                if status == "accepted" {
                    *t.accepted.entry(delivery.event_id.clone()).or_default() += 1;
                }
                // A first delivery answered `duplicate` was stored by an earlier attempt of the
                // same request (an SDK retry after a timeout whose write had landed).
                let stored_anyway = expected == "accepted" && status == "duplicate";
                if status == "duplicate" && stored_anyway {
                    *t.accepted.entry(delivery.event_id.clone()).or_default() += 1;
                }
                if status != expected && !stored_anyway {
                    t.wrong.push(format!(
                        "{}: {status} (expected {expected}): {body}",
                        delivery.event_id
                    ));
                }
            }
        }));
    }
    for handle in handles {
        let _ = handle.await;
    }
}

/// The queue between the ingest and the processors: the ingest's own `Queue` capability,
/// here in memory (moto's SQS cannot take 32 concurrent senders: its sends timed out), with
/// SQS's at-least-once redelivery of what a processor reports failed.
struct MemoryQueue(tokio::sync::mpsc::UnboundedSender<String>);

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, message: String) -> Result<(), StoreError> {
        self.0
            .send(message)
            .map_err(|e| StoreError::new("queue", e))
    }
}

/// The bus: keeps what each record was told (the highest revision, how many `Record
/// Completed`) and refuses every `FAIL_EVERY`th publication, as an EventBridge outage would.
#[derive(Default)]
struct MemoryBus {
    calls: AtomicUsize,
    refused: AtomicUsize,
    told: Mutex<BTreeMap<(Provider, String), Told>>,
}

#[derive(Default)]
struct Told {
    events: usize,
    last_revision: u64,
    completed: usize,
}

const FAIL_EVERY: usize = 50;

#[async_trait::async_trait]
impl Notifier for MemoryBus {
    async fn publish(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % FAIL_EVERY == FAIL_EVERY - 1 {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::new(
                "put events",
                "refused by the load's flaky bus",
            ));
        }
        let mut told = self.told.lock().unwrap_or_else(|p| p.into_inner());
        for n in notifications {
            if let Detail::Record(d) = &n.detail {
                let entry = told.entry((d.provider, d.subject_id.clone())).or_default();
                entry.events += 1;
                entry.last_revision = entry.last_revision.max(d.revision);
                entry.completed += usize::from(n.detail_type == DetailType::Completed);
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "memory://load".into()
    }
}

/// Drains the queue with `processors` concurrent processor invocations of up to ten
/// messages each until `done` is set and the queue stays empty; failed items come back.
async fn process_all(
    processor: Arc<scribehook::pipeline::process::Processor>,
    queue: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>>,
    requeue: tokio::sync::mpsc::UnboundedSender<String>,
    done: Arc<AtomicBool>,
    processed: Arc<AtomicUsize>,
    processors: usize,
) {
    let mut workers = Vec::new();
    for worker in 0..processors {
        let (processor, queue, requeue, done, processed) = (
            processor.clone(),
            queue.clone(),
            requeue.clone(),
            done.clone(),
            processed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut serial = 0u64;
            loop {
                let mut batch = Vec::new();
                {
                    let mut rx = queue.lock().await;
                    while batch.len() < 10 {
                        match rx.try_recv() {
                            Ok(m) => batch.push(m),
                            Err(_) => break,
                        }
                    }
                }
                if batch.is_empty() {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let mut event = SqsEvent::default();
                event.records = batch
                    .iter()
                    .map(|body| {
                        serial += 1;
                        let mut record = SqsMessage::default();
                        record.message_id = Some(format!("{worker}-{serial}"));
                        record.body = Some(body.clone());
                        record
                    })
                    .collect();
                let ids: Vec<Option<String>> =
                    event.records.iter().map(|r| r.message_id.clone()).collect();
                let Ok(response) = lambda::processor_handler(
                    &processor,
                    LambdaEvent::new(event, Context::default()),
                )
                .await
                else {
                    continue;
                };
                let failed: BTreeSet<&str> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                for (id, body) in ids.iter().zip(batch) {
                    if failed.contains(id.as_deref().unwrap_or_default()) {
                        let _ = requeue.send(body);
                    } else {
                        processed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One line per provider: its deliveries and answers, ingest latencies, and its records as
/// checked against the fold of their events.
fn print_by_provider(by_provider: &mut BTreeMap<Provider, ProviderTally>) {
    for provider in Provider::ALL {
        let Some(mine) = by_provider.get_mut(&provider) else {
            println!("load:   {:<13} no deliveries", provider.as_str());
            continue;
        };
        mine.latencies_ms.sort_by(|a, b| a.total_cmp(b));
        let answers: Vec<String> = mine
            .answers
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!(
            "load:   {:<13} {:>5} deliveries ({}), ingest p50 {:.1} ms, p99 {:.1} ms; {} records, lost {}, differing from the fold {}",
            provider.as_str(),
            mine.latencies_ms.len(),
            answers.join(", "),
            percentile(&mine.latencies_ms, 0.5),
            percentile(&mine.latencies_ms, 0.99),
            mine.records,
            mine.lost,
            mine.mismatched,
        );
    }
}

/// The expected record of each subject: the fold of its unique (first) events, each read
/// with the headers it was first sent with (`signed_at`: when it was signed).
fn expected_records(
    unique: &[Delivery],
    signed_at: &BTreeMap<String, i64>,
) -> BTreeMap<(Provider, String), scribehook::Record> {
    let mut by_subject: BTreeMap<(Provider, String), Vec<NormalizedEvent>> = BTreeMap::new();
    for d in unique {
        let Some(at) = signed_at.get(&d.event_id) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        for (name, value) in signed_headers(d, *at) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        let Ok(draft) = d.provider.normalize(&headers, &d.body) else {
            continue;
        };
        let event = draft.finish(
            d.provider,
            Timestamp::from_unix(0).unwrap_or_else(Timestamp::now),
            None,
        );
        by_subject
            .entry((d.provider, event.subject_id.clone()))
            .or_default()
            .push(event);
    }
    by_subject
        .into_iter()
        .filter_map(|(key, events)| merge(&events).map(|r| (key, r)))
        .collect()
}

/// The notifications each record was told, as the run saw them: from the in-memory bus, or
/// drained from the SQS queue an EventBridge rule on the deployed path's bus sends them to.
type ToldMap = BTreeMap<(Provider, String), Told>;

/// The deployed path's queue, read as Lambda's SQS event source reads it: batches of up to
/// ten, each handed to the real processor handler; what it reports failed is left for SQS
/// to deliver again after the visibility timeout, the rest deleted. Records when each
/// delivery's processing (record written, notifications confirmed) first completed.
async fn process_sqs(
    processor: Arc<scribehook::pipeline::process::Processor>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    done: Arc<AtomicBool>,
    processed: Arc<AtomicUsize>,
    completed: Arc<Mutex<BTreeMap<String, Instant>>>,
    processors: usize,
) {
    let mut workers = Vec::new();
    for _ in 0..processors {
        let (processor, sqs, url, done, processed, completed) = (
            processor.clone(),
            sqs.clone(),
            queue_url.clone(),
            done.clone(),
            processed.clone(),
            completed.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let received = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await;
                let Ok(received) = received else {
                    // moto answering slowly under load: the SDK's timeout; ask again.
                    continue;
                };
                let messages = received.messages.unwrap_or_default();
                if messages.is_empty() {
                    // Done once the senders are and nothing is left in the queue, visible
                    // or in flight (a failed message comes back after its timeout).
                    if done.load(Ordering::SeqCst) && queue_is_empty(&sqs, &url).await {
                        return;
                    }
                    continue;
                }
                let mut event = SqsEvent::default();
                event.records = messages
                    .iter()
                    .map(|m| {
                        let mut record = SqsMessage::default();
                        record.message_id = m.message_id.clone();
                        record.body = m.body.clone();
                        record
                    })
                    .collect();
                let Ok(response) = lambda::processor_handler(
                    &processor,
                    LambdaEvent::new(event, Context::default()),
                )
                .await
                else {
                    continue;
                };
                let failed: BTreeSet<&str> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                let now = Instant::now();
                for m in &messages {
                    if failed.contains(m.message_id.as_deref().unwrap_or_default()) {
                        continue;
                    }
                    processed.fetch_add(1, Ordering::SeqCst);
                    let id: Value = serde_json::from_str(m.body.as_deref().unwrap_or("null"))
                        .unwrap_or(Value::Null);
                    if let Some(id) = id["event_id"].as_str() {
                        let mut c = completed.lock().unwrap_or_else(|p| p.into_inner());
                        c.entry(id.to_owned()).or_insert(now);
                    }
                    let _ = sqs
                        .delete_message()
                        .queue_url(&url)
                        .set_receipt_handle(m.receipt_handle.clone())
                        .send()
                        .await;
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
}

/// Whether `url` holds no message, visible or in flight.
async fn queue_is_empty(sqs: &aws_sdk_sqs::Client, url: &str) -> bool {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let Ok(attributes) = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
    else {
        return false;
    };
    let count = |a: A| {
        attributes
            .attributes()
            .and_then(|m| m.get(&a))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
    };
    count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible) == 0
}

/// Every notification the bus's rule sent to `queue_url`, folded per record; also returns
/// their bytes (the events as EventBridge delivered them).
async fn drain_notifications(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (ToldMap, usize) {
    let (mut told, mut bytes, mut empty) = (ToldMap::new(), 0, 0);
    while empty < 3 {
        let Ok(received) = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
        else {
            empty += 1;
            continue;
        };
        let messages = received.messages.unwrap_or_default();
        empty = if messages.is_empty() { empty + 1 } else { 0 };
        for m in messages {
            let body = m.body.unwrap_or_default();
            bytes += body.len();
            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let d = &event["detail"];
            let provider = d["provider"]
                .as_str()
                .and_then(|p| p.parse::<Provider>().ok());
            if let (Some(provider), Some(subject), Some(revision)) =
                (provider, d["subject_id"].as_str(), d["revision"].as_u64())
            {
                let entry = told.entry((provider, subject.to_owned())).or_default();
                entry.events += 1;
                entry.last_revision = entry.last_revision.max(revision);
                entry.completed += usize::from(event["detail-type"] == "Record Completed");
            }
            let _ = sqs
                .delete_message()
                .queue_url(queue_url)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await;
        }
    }
    (told, bytes)
}

/// Bytes and objects under the archive bucket (the deployed path's S3 archive).
async fn s3_bytes(s3: &aws_sdk_s3::Client, bucket: &str) -> (i64, usize) {
    let (mut bytes, mut objects, mut token) = (0, 0, None);
    loop {
        let Ok(page) = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
        else {
            return (bytes, objects);
        };
        for o in page.contents() {
            bytes += o.size().unwrap_or(0);
            objects += 1;
        }
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return (bytes, objects),
        }
    }
}

/// The table's items and their size as DynamoDB counts it (attribute names plus values).
async fn dynamodb_bytes(ddb: &aws_sdk_dynamodb::Client, table: &str) -> (usize, usize) {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len(),
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + size(v)).sum::<usize>(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + size(v)).sum::<usize>(),
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().map(String::len).sum(),
            _ => 0,
        }
    }
    let (mut bytes, mut items, mut start) = (0, 0, None);
    loop {
        let Ok(page) = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
        else {
            return (bytes, items);
        };
        for item in page.items() {
            bytes += item.iter().map(|(k, v)| k.len() + size(v)).sum::<usize>();
            items += 1;
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return (bytes, items),
        }
    }
}

/// Deliveries to send, each with the answer it must get.
type Sends = Vec<(Delivery, &'static str)>;

/// The deliveries of a run: every subject's unique events, then redeliveries and conflicts.
fn deliveries(plan: Plan) -> (Vec<Delivery>, Sends, Sends) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let providers = Provider::ALL;
    let mut unique = Vec::new();
    for s in 0..plan.subjects {
        let provider = providers[s % providers.len()];
        let subject = format!("load-{provider}-{s:03}");
        for n in 0..EVENTS_PER_SUBJECT {
            unique.push(event(provider, &subject, n, &mut rng));
        }
    }
    let mut first: Sends = unique.iter().cloned().map(|d| (d, "accepted")).collect();
    rng.shuffle(&mut first);
    let mut second: Sends = (0..plan.redeliveries)
        .map(|_| (unique[rng.below(unique.len())].clone(), "duplicate"))
        .collect();
    for _ in 0..plan.conflicts {
        // A variant under the same id: only providers whose id is not the body digest.
        let mut d = unique[rng.below(unique.len())].clone();
        if d.provider == Provider::Prosa {
            continue;
        }
        let mut body: Value = serde_json::from_slice(&d.body).unwrap_or(Value::Null);
        body["conflicting_variant"] = json!(true);
        d.body = serde_json::to_vec(&body).unwrap_or_default();
        second.push((d, "conflict"));
    }
    rng.shuffle(&mut second);
    (unique, first, second)
}

/// What the checks found of the records and their notifications.
#[derive(Default)]
struct Checked {
    lost: usize,
    mismatched: usize,
    /// Records whose last revision was not told.
    untold: usize,
    /// Records whose completion was told other than once (when complete) or more than once.
    completions_wrong: usize,
    complete: usize,
}

/// Every record against the fold of its unique events, and against what it was told.
async fn check_records(
    store: &DynamoDbStore,
    expected: &BTreeMap<(Provider, String), scribehook::Record>,
    told: &ToldMap,
    by_provider: &mut BTreeMap<Provider, ProviderTally>,
) -> Checked {
    let mut c = Checked::default();
    for ((provider, subject), want) in expected {
        let (before_lost, before_mismatched) = (c.lost, c.mismatched);
        match store.get_record(*provider, subject).await {
            Ok(Some(got)) => {
                c.lost += want
                    .events
                    .iter()
                    .filter(|id| !got.events.contains(*id))
                    .count();
                let record_told = told.get(&(*provider, subject.clone()));
                let last = record_told.map_or(0, |t| t.last_revision);
                c.untold +=
                    usize::from(last != got.revision || got.notified.revision != got.revision);
                let is_complete = scribehook::pipeline::notify::Facts::of(&got).complete;
                c.complete += usize::from(is_complete);
                // Once when complete; never twice (a record may stop being complete after
                // it was told: a later failure wins).
                let completions = record_told.map_or(0, |t| t.completed);
                let wrong = completions > 1 || (is_complete && completions != 1);
                if wrong && c.completions_wrong < 3 {
                    eprintln!("load: {provider}/{subject} complete {is_complete}, told completed {completions} times");
                }
                c.completions_wrong += usize::from(wrong);
                if !got.same_content(want) {
                    c.mismatched += 1;
                    if c.mismatched <= 3 {
                        eprintln!(
                            "load: record {provider}/{subject} differs from the fold of its events"
                        );
                    }
                }
            }
            _ => {
                c.lost += want.events.len();
                c.mismatched += 1;
            }
        }
        let mine = by_provider.entry(*provider).or_default();
        mine.records += 1;
        mine.lost += c.lost - before_lost;
        mine.mismatched += c.mismatched - before_mismatched;
    }
    c
}

/// The deployed path's figures: each first delivery's time from sending to its processing
/// completing (record written, notifications confirmed), and the bytes each store holds
/// per delivery.
async fn deployed_figures(
    clients: &app::Clients,
    table: &str,
    t: &Tally,
    completed: &BTreeMap<String, Instant>,
    notification_bytes: usize,
    sent: usize,
) {
    let mut end_to_end: Vec<f64> = t
        .sent_at
        .iter()
        .filter_map(|(id, at)| {
            completed
                .get(id)
                .map(|done| (*done - *at).as_secs_f64() * 1000.0)
        })
        .collect();
    end_to_end.sort_by(|a, b| a.total_cmp(b));
    println!(
        "load: deployed path: answered → record written and notifications confirmed, for {} of {} first deliveries: p50 {:.0} ms, p99 {:.0} ms",
        end_to_end.len(),
        t.sent_at.len(),
        percentile(&end_to_end, 0.5),
        percentile(&end_to_end, 0.99),
    );
    let bucket = std::env::var("LOAD_ARCHIVE_BUCKET").unwrap_or_default();
    let (archive_bytes, objects) = s3_bytes(&clients.s3().await, &bucket).await;
    let (table_bytes, items) = dynamodb_bytes(&clients.dynamodb().await, table).await;
    let per = |b: f64| b / sent as f64;
    println!(
        "load: deployed path: bytes per delivery ({sent} sent): S3 archive {:.0} B ({objects} objects), DynamoDB {:.0} B ({items} items), EventBridge {:.0} B",
        per(archive_bytes as f64),
        per(table_bytes as f64),
        per(notification_bytes as f64),
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("load: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The deployed path: S3 archive and SQS queue (moto), EventBridge notifications routed to
    // an SQS queue by a rule; otherwise the archive on disk, queue and bus in memory.
    let deployed = config.queue_url.clone();
    let plan = if deployed.is_some() {
        DEPLOYED
    } else {
        IN_MEMORY
    };
    let table = std::env::var("LOAD_TABLE").unwrap_or_default();
    let clients = app::Clients::from_env();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let ingest = Arc::new(match deployed {
        Some(_) => app::ingest(&config, &clients, scribehook::record::system_clock()).await,
        None => Ingest::new(
            Secrets::new(config.secrets.clone(), None),
            app::archive(&config, &clients).await,
            Dispatch::Queue(Arc::new(MemoryQueue(sender.clone()))),
            config.limits.clone(),
        ),
    });
    let bus = Arc::new(MemoryBus::default());
    let processor = app::processor(&config, &clients).await;
    let processor = Arc::new(match deployed {
        Some(_) => processor,
        None => processor.with_notifier(Some(bus.clone())),
    });

    let (unique, first, second) = deliveries(plan);
    let sent = first.len() + second.len();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let done = Arc::new(AtomicBool::new(false));
    let processed = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(Mutex::new(BTreeMap::new()));
    let started = Instant::now();
    let processing = match &deployed {
        Some(url) => tokio::spawn(process_sqs(
            processor.clone(),
            clients.sqs().await,
            url.clone(),
            done.clone(),
            processed.clone(),
            completed.clone(),
            plan.processors,
        )),
        None => tokio::spawn(process_all(
            processor.clone(),
            Arc::new(tokio::sync::Mutex::new(receiver)),
            sender,
            done.clone(),
            processed.clone(),
            plan.processors,
        )),
    };
    send_all(&ingest, first, &tally, plan.senders).await;
    send_all(&ingest, second, &tally, plan.senders).await;
    let ingest_secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(900), processing).await;
    let total_secs = started.elapsed().as_secs_f64();

    let (told, notification_bytes) = match deployed {
        Some(_) => {
            let queue = std::env::var("LOAD_NOTIFY_QUEUE_URL").unwrap_or_default();
            drain_notifications(&clients.sqs().await, &queue).await
        }
        None => {
            let told = std::mem::take(&mut *bus.told.lock().unwrap_or_else(|p| p.into_inner()));
            (told, 0)
        }
    };
    let store = DynamoDbStore::new(clients.dynamodb().await, table.clone(), None);
    // Every sender is done: the tally is the run's alone now.
    let mut t = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
    let signed_at = std::mem::take(&mut t.signed_at);
    let expected = expected_records(&unique, &signed_at);
    let c = check_records(&store, &expected, &told, &mut t.by_provider).await;
    let doubled = t.accepted.values().filter(|n| **n > 1).count();
    let never_accepted = unique
        .iter()
        .filter(|d| !t.accepted.contains_key(&d.event_id))
        .count();
    let mut latencies = t.latencies_ms.clone();
    latencies.sort_by(|a, b| a.total_cmp(b));
    for wrong in t.wrong.iter().take(5) {
        eprintln!("load: {wrong}");
    }
    let events_told: usize = told.values().map(|t| t.events).sum();
    let bus_line = match deployed {
        Some(_) => "published to EventBridge (moto), routed by a rule to SQS".to_owned(),
        None => format!(
            "{} of {} publications refused by the flaky bus and published again",
            bus.refused.load(Ordering::SeqCst),
            bus.calls.load(Ordering::SeqCst)
        ),
    };
    println!(
        "load: notifications: {events_told} events for {sent} deliveries = {:.2} per delivery ({:.2} per unique event); {bus_line}; every record's last revision told: {} ({} not); Record Completed once per complete record: {} ({} complete, {} wrong)",
        events_told as f64 / sent as f64,
        events_told as f64 / unique.len() as f64,
        if c.untold == 0 { "yes" } else { "no" },
        c.untold,
        if c.completions_wrong == 0 { "yes" } else { "no" },
        c.complete,
        c.completions_wrong,
    );
    println!(
        "load: {sent} deliveries ({} unique, {} subjects, answers {:?}) by {} senders in {ingest_secs:.1} s = {:.0} deliveries/s ({} attempts answered 503 sent again); ingest p50 {:.1} ms, p99 {:.1} ms; {} messages processed by {} processors, all records in {total_secs:.1} s; lost {}, doubled {doubled}, never accepted {never_accepted}, wrong answers {}, records differing from the fold {} of {}",
        unique.len(),
        plan.subjects,
        t.answers,
        plan.senders,
        sent as f64 / ingest_secs,
        t.retried_503,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        processed.load(Ordering::SeqCst),
        plan.processors,
        c.lost,
        t.wrong.len(),
        c.mismatched,
        expected.len(),
    );
    print_by_provider(&mut t.by_provider);
    if deployed.is_some() {
        let completed = completed.lock().map(|c| c.clone()).unwrap_or_default();
        deployed_figures(&clients, &table, &t, &completed, notification_bytes, sent).await;
    }
    let failures = c.lost + doubled + never_accepted + c.mismatched + t.wrong.len();
    if failures + c.untold + c.completions_wrong > 0 {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
