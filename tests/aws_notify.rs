//! Record notifications on moto (docs/behaviour.md#record-notifications-eventbridge): the
//! real processor puts its events on an EventBridge bus through the real SDK, a rule routes
//! them to an SQS queue (as a consumer would wire it), and the tests read that queue.
//! Every event read is checked against schemas/notification.schema.json and searched for
//! the samples' content.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use scribehook::aws::{EventBridgeNotifier, S3Outputs};
use scribehook::entrypoints::app::Clients;
use scribehook::entrypoints::lambda::processor_handler;
use scribehook::pipeline::notify::{Notification, Notifier};
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::storage::records::RecordStore;
use scribehook::storage::StoreError;
use scribehook::{Provider, Record};
use serde_json::Value;

/// The Bota recording of the samples: every event of its successful timeline.
const BOTA_SUBJECT: &str = "rec_xyz789";
const BOTA_TIMELINE: [&str; 6] = [
    "recording.created",
    "recording.uploaded",
    "transcription.started",
    "transcription.completed",
    "summary.started",
    "summary.completed",
];

/// A bus with a rule sending every scribehook event to a queue, as a consumer wires it.
struct Bus {
    name: String,
    queue_url: String,
}

async fn queue_arn(clients: &Clients, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    clients
        .sqs()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue arn")
}

/// A rule on `bus` with `pattern`, targeting a new queue; returns the queue's URL.
async fn rule_to_queue(clients: &Clients, bus: &str, pattern: Value) -> String {
    let queue_url = create_queue(clients, &unique("scribehook-consumer")).await;
    let events = clients.eventbridge().await;
    let rule = unique("scribehook-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("put rule");
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn(clients, &queue_url).await)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put targets");
    queue_url
}

impl Bus {
    async fn new(clients: &Clients) -> Self {
        let name = unique("scribehook-records");
        clients
            .eventbridge()
            .await
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .expect("create bus");
        let queue_url = rule_to_queue(
            clients,
            &name,
            serde_json::json!({"source": ["scribehook"]}),
        )
        .await;
        Bus { name, queue_url }
    }
}

/// Everything on the queue, in the order received, each checked against the schema and
/// for content; the raw bytes go to `seen` for the content search.
async fn drain_events(clients: &Clients, queue_url: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for m in drain_queue(clients, queue_url).await {
        let event: Value = serde_json::from_str(m.body().unwrap()).expect("an event");
        assert_valid_event(&event);
        events.push(event);
    }
    events
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/notification.schema.json");
        let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .offline()
            .build(&schema)
            .expect("the notification schema compiles")
    })
}

/// The event as a consumer receives it: from scribehook, of a known type, its detail valid.
fn assert_valid_event(event: &Value) {
    assert_eq!(event["source"], "scribehook", "{event}");
    let detail_type = event["detail-type"].as_str().unwrap_or_default();
    assert!(
        scribehook::pipeline::notify::DetailType::ALL
            .iter()
            .any(|t| t.as_str() == detail_type),
        "{event}"
    );
    let errors: Vec<String> = validator()
        .iter_errors(&event["detail"])
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{event}");
}

/// The real processor on the stack's archive and stores, telling `notifier`.
fn processor(stack: &Stack, notifier: Arc<dyn Notifier>) -> Processor {
    let fetcher = Fetcher::new(
        Arc::new(S3Outputs::new(stack.clients.clone())),
        vec![],
        1024 * 1024,
    );
    Processor::new(
        stack.processor.archive().clone(),
        stack.processor.stores().to_vec(),
        fetcher,
    )
    .with_notifier(Some(notifier))
    .with_clock(clock())
}

/// The SQS message naming one archived delivery, as the ingest queues it.
fn message(provider: Provider, event_id: &str) -> aws_sdk_sqs::types::Message {
    aws_sdk_sqs::types::Message::builder()
        .message_id(unique("msg"))
        .receipt_handle("handle")
        .body(serde_json::json!({"provider": provider, "event_id": event_id}).to_string())
        .build()
}

/// Processes one message through the real handler; whether it succeeded.
async fn process(processor: &Processor, provider: Provider, event_id: &str) -> bool {
    let response = processor_handler(processor, sqs_event(&[message(provider, event_id)]))
        .await
        .unwrap();
    response.batch_item_failures.is_empty()
}

/// Archives a sample delivery through the real ingest (queueing), leaving the queue empty;
/// returns its event id.
async fn archive_sample(stack: &Stack, provider: Provider, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events/apigw-v2")
        .join(provider.as_str())
        .join(format!("{name}.json"));
    let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (status, reply, _) = invoke(&stack.ingest, lambda_event(event)).await;
    assert_eq!(status, 200, "{name}: {reply}");
    stack.receive().await;
    reply["event_id"].as_str().unwrap().to_owned()
}

async fn primary_record(stack: &Stack, provider: Provider, subject: &str) -> Record {
    stack
        .dynamodb
        .get_record(provider, subject)
        .await
        .unwrap()
        .expect("a record")
}

fn detail_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap().to_owned())
        .collect()
}

fn of_type<'a>(events: &'a [Value], detail_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == detail_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_told_once_and_completed_once_in_any_order() {
    for permutation in 0..4u64 {
        let mut rng = Rng::new(0x0E7E_0000 + permutation);
        let stack = Stack::new(vec![]).await;
        let bus = Bus::new(&stack.clients).await;
        let notifier = Arc::new(EventBridgeNotifier::new(stack.clients.clone(), &bus.name));
        let processor = processor(&stack, notifier);
        let mut ids = Vec::new();
        for name in BOTA_TIMELINE {
            ids.push(archive_sample(&stack, Provider::Bota, name).await);
        }
        // Every event once, three redelivered, shuffled; one message at a time (moto's
        // conditional writes are not atomic under concurrency).
        let mut order: Vec<usize> = (0..ids.len()).collect();
        for _ in 0..3 {
            order.push(rng.below(ids.len()));
        }
        rng.shuffle(&mut order);
        let mut all = Vec::new();
        let mut revision = 0;
        for &index in &order {
            assert!(process(&processor, Provider::Bota, &ids[index]).await);
            let record = primary_record(&stack, Provider::Bota, BOTA_SUBJECT).await;
            let events = drain_events(&stack.clients, &bus.queue_url).await;
            if record.revision == revision {
                assert!(
                    events.is_empty(),
                    "a delivery that changed nothing told {events:?}"
                );
                continue;
            }
            assert_eq!(record.revision, revision + 1, "one revision per change");
            revision = record.revision;
            assert_eq!(record.notified.revision, revision, "confirmed");
            let updated = of_type(&events, "Record Updated");
            assert_eq!(updated.len(), 1, "{events:?}");
            for event in &events {
                // Every event of one change carries the same detail.
                assert_eq!(event["detail"], updated[0]["detail"]);
                assert_eq!(event["detail"]["revision"], revision);
            }
            all.extend(events);
        }
        assert_eq!(revision, 6, "one change per distinct event");
        let completed = of_type(&all, "Record Completed");
        assert_eq!(completed.len(), 1, "{:?}", detail_types(&all));
        let detail = &completed[0]["detail"];
        assert_eq!(detail["complete"], true);
        assert_eq!(detail["subject_id"], BOTA_SUBJECT);
        assert_eq!(detail["components"]["transcript"]["status"], "completed");
        assert_eq!(detail["components"]["summary"]["status"], "completed");
        assert_eq!(
            detail["location"]["table"],
            serde_json::json!({"name": stack.table, "pk": "bota#rec_xyz789", "sk": "record"})
        );
        assert_eq!(
            detail["location"]["s3"],
            format!("s3://{}/records/bota/rec_xyz789/record.json", stack.bucket)
        );
        assert!(of_type(&all, "Record Needs Attention").is_empty());
        assert!(of_type(&all, "Record Purged").is_empty());
    }
}

/// A notifier that refuses the first `failures` publications, then hands on to the real one.
struct Flaky {
    inner: Arc<dyn Notifier>,
    failures: AtomicUsize,
}

#[async_trait]
impl Notifier for Flaky {
    async fn publish(&self, notifications: &[Notification]) -> Result<(), StoreError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::new("put events", "injected outage"));
        }
        self.inner.publish(notifications).await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// EventBridge unreachable: the SDK's own connection errors, then the real moto endpoint.
async fn unreachable_clients() -> Clients {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sdk = sdk_config().await.to_builder();
    let sdk = sdk.endpoint_url(format!("http://127.0.0.1:{port}")).build();
    Clients::from_sdk_config(&sdk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_events_outage_then_recovery_loses_nothing() {
    let stack = Stack::new(vec![]).await;
    let bus = Bus::new(&stack.clients).await;
    let mut ids = Vec::new();
    for name in BOTA_TIMELINE {
        ids.push(archive_sample(&stack, Provider::Bota, name).await);
    }
    // The outage: PutEvents cannot be reached. Every message fails (and would be retried),
    // but every record write happened.
    let down = processor(
        &stack,
        Arc::new(EventBridgeNotifier::new(
            unreachable_clients().await,
            &bus.name,
        )),
    );
    for id in &ids[..4] {
        assert!(
            !process(&down, Provider::Bota, id).await,
            "a failed put fails the message"
        );
    }
    let record = primary_record(&stack, Provider::Bota, BOTA_SUBJECT).await;
    assert_eq!((record.revision, record.notified.revision), (4, 0));
    assert!(drain_events(&stack.clients, &bus.queue_url)
        .await
        .is_empty());

    // A failed entry counts the same: the flaky notifier refuses once more.
    let up: Arc<dyn Notifier> =
        Arc::new(EventBridgeNotifier::new(stack.clients.clone(), &bus.name));
    let flaky = processor(
        &stack,
        Arc::new(Flaky {
            inner: up.clone(),
            failures: AtomicUsize::new(1),
        }),
    );
    assert!(!process(&flaky, Provider::Bota, &ids[4]).await);
    // Recovery: the retried messages find the record unchanged and publish what was not
    // confirmed (the last revision), once.
    let recovered = processor(&stack, up.clone());
    assert!(process(&recovered, Provider::Bota, &ids[0]).await);
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(detail_types(&events), ["Record Updated"]);
    assert_eq!(events[0]["detail"]["revision"], 5);
    for id in &ids[1..5] {
        assert!(process(&recovered, Provider::Bota, id).await);
    }
    assert!(drain_events(&stack.clients, &bus.queue_url)
        .await
        .is_empty());
    // The completing change after the outage is told as usual.
    assert!(process(&recovered, Provider::Bota, &ids[5]).await);
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(
        detail_types(&events),
        ["Record Updated", "Record Completed"]
    );
    let record = primary_record(&stack, Provider::Bota, BOTA_SUBJECT).await;
    assert_eq!((record.revision, record.notified.revision), (6, 6));
    assert!(record.notified.complete);

    // `scribehook notify --pending` after an outage: a record changed while the bus was
    // down is published; then nothing is pending.
    let deleted = archive_sample(&stack, Provider::Bota, "recording.deleted").await;
    assert!(!process(&down, Provider::Bota, &deleted).await);
    let report = recovered.notify_pending().await.unwrap();
    assert_eq!((report.published, report.events), (1, 2), "{report:?}");
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(detail_types(&events), ["Record Updated", "Record Purged"]);
    assert_eq!(events[0]["detail"]["revision"], 7);
    assert!(events[0]["detail"]["deleted_at"].is_string());
    let report = recovered.notify_pending().await.unwrap();
    assert_eq!((report.published, report.events), (0, 0), "{report:?}");
}

/// Every string of a content field (transcript, note, summary, concepts, SOAP, diagnoses,
/// instructions, error messages) at least five characters long, and patient ids.
fn content_strings(event: &Value, out: &mut BTreeSet<String>) {
    fn strings(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::String(s) if s.chars().count() >= 5 => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    for field in [
        "transcript",
        "note",
        "summary",
        "concepts",
        "soap",
        "diagnoses",
        "instructions",
    ] {
        strings(&event[field], out);
    }
    strings(&event["error"]["message"], out);
    strings(&event["related"]["external_patient_id"], out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_is_told_without_its_content() {
    let stack = Stack::new(vec![]).await;
    let bus = Bus::new(&stack.clients).await;
    // What the template's example rule does: one provider's Record Completed to a queue.
    let completed_queue = rule_to_queue(
        &stack.clients,
        &bus.name,
        serde_json::json!({"source": ["scribehook"], "detail-type": ["Record Completed"],
                           "detail": {"provider": ["nabla"]}}),
    )
    .await;
    let processor = processor(
        &stack,
        Arc::new(EventBridgeNotifier::new(stack.clients.clone(), &bus.name)),
    );
    let mut content = BTreeSet::new();
    let mut subjects = BTreeMap::new();
    for path in samples("apigw-v2") {
        let provider: Provider = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let (status, reply, _) = invoke(&stack.ingest, lambda_event(event)).await;
        if reply["status"] != "accepted" {
            assert_eq!(status, 200, "{}: {reply}", path.display());
            continue;
        }
        stack.receive().await;
        let id = reply["event_id"].as_str().unwrap();
        // Read before processing: a deletion erases the subject's archived deliveries.
        let stored = stack
            .processor
            .archive()
            .get(provider, id)
            .await
            .unwrap()
            .unwrap();
        let normalized = serde_json::to_value(processor.normalize(&stored).await.unwrap()).unwrap();
        assert!(
            process(&processor, provider, id).await,
            "{}",
            path.display()
        );
        content_strings(&normalized, &mut content);
        subjects.insert(
            (
                provider,
                normalized["subject_id"].as_str().unwrap().to_owned(),
            ),
            (),
        );
    }
    assert!(content.len() > 20, "{content:?}");
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    let bytes = serde_json::to_string(&events).unwrap();
    for text in &content {
        assert!(!bytes.contains(text.as_str()), "content told: {text:?}");
        // JSON-escaped text (quotes, newlines) is searched as written too.
        let escaped = serde_json::to_string(text).unwrap();
        assert!(
            !bytes.contains(escaped.trim_matches('"')),
            "content told: {text:?}"
        );
    }
    // Every subject was told; the last told revision of each is its record's.
    let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
    for event in &events {
        let d = &event["detail"];
        if let Some(subject) = d["subject_id"].as_str() {
            let key = (
                d["provider"].as_str().unwrap().to_owned(),
                subject.to_owned(),
            );
            let revision = d["revision"].as_u64().unwrap();
            let entry = last.entry(key).or_default();
            *entry = (*entry).max(revision);
        }
    }
    assert_eq!(last.len(), subjects.len());
    for ((provider, subject), revision) in &last {
        let provider: Provider = provider.parse().unwrap();
        let record = primary_record(&stack, provider, subject).await;
        assert_eq!(record.revision, *revision, "{provider}/{subject}");
        assert_eq!(record.notified.revision, *revision, "{provider}/{subject}");
    }
    // The completeness rules on the samples (docs/behaviour.md#completeness).
    let completed: BTreeSet<(String, String)> = of_type(&events, "Record Completed")
        .iter()
        .map(|e| {
            let d = &e["detail"];
            (
                d["provider"].as_str().unwrap().to_owned(),
                d["subject_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        completed.len(),
        of_type(&events, "Record Completed").len(),
        "once per record"
    );
    let completed_providers: BTreeSet<&str> = completed.iter().map(|(p, _)| p.as_str()).collect();
    for provider in ["daily", "nabla", "prosa", "nabla-connect"] {
        assert!(
            completed_providers.contains(provider),
            "{provider}: {completed:?}"
        );
    }
    // Bota's samples end in recording.deleted: a deleted record is told purged, never
    // complete (its completion is in the timeline test above).
    assert!(!completed_providers.contains("bota"), "{completed:?}");
    let purged = of_type(&events, "Record Purged");
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!(purged[0]["detail"]["subject_id"], BOTA_SUBJECT);
    assert_eq!(purged[0]["detail"]["complete"], false);
    // Failed components and unfetched outputs are called out with codes only.
    let attention: BTreeSet<String> = of_type(&events, "Record Needs Attention")
        .iter()
        .flat_map(|e| e["detail"]["reasons"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    for reason in [
        "transcript_failed",
        "recording_failed",
        "job_failed",
        "note_failed",
    ] {
        assert!(attention.contains(reason), "{reason}: {attention:?}");
    }
    assert!(
        attention.iter().any(|r| r.ends_with("_not_fetched")),
        "{attention:?}"
    );
    // The example rule saw exactly Nabla's completions.
    let routed = drain_events(&stack.clients, &completed_queue).await;
    let nabla: Vec<_> = completed.iter().filter(|(p, _)| p == "nabla").collect();
    assert_eq!(routed.len(), nabla.len(), "{routed:?}");
    assert!(routed
        .iter()
        .all(|e| e["detail-type"] == "Record Completed" && e["detail"]["provider"] == "nabla"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_quarantines_and_replays_are_told() {
    let stack = Stack::new(vec![]).await;
    let bus = Bus::new(&stack.clients).await;
    let notifier: Arc<dyn Notifier> =
        Arc::new(EventBridgeNotifier::new(stack.clients.clone(), &bus.name));
    let processor = processor(&stack, notifier.clone());
    for name in ["transcription.completed", "summary.completed"] {
        let id = archive_sample(&stack, Provider::Bota, name).await;
        assert!(process(&processor, Provider::Bota, &id).await);
    }
    let first = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(
        detail_types(&first),
        ["Record Updated", "Record Updated", "Record Completed"]
    );

    // An operator's purge: told once, after it, with purged_at.
    processor.purge(Provider::Bota, BOTA_SUBJECT).await.unwrap();
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(detail_types(&events), ["Record Updated", "Record Purged"]);
    assert!(events[1]["detail"]["purged_at"].is_string());
    processor.purge(Provider::Bota, BOTA_SUBJECT).await.unwrap();
    assert!(drain_events(&stack.clients, &bus.queue_url)
        .await
        .is_empty());

    // A delivery no retry can process: quarantined, and told with its code.
    let body = br#"{"not": "a bota event"}"#;
    let headers = signed_headers(Provider::Bota, body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        apigw_v2("POST", "/webhooks/bota", &headers, body, false),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    let malformed = scribehook::providers::body_event_id(body);
    assert!(process(&processor, Provider::Bota, &malformed).await);
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(detail_types(&events), ["Delivery Quarantined"]);
    assert_eq!(events[0]["detail"]["event_id"], malformed.as_str());
    assert_eq!(
        events[0]["detail"]["reasons"],
        serde_json::json!(["malformed_event"])
    );

    // Replay into fresh stores tells each record like a first delivery; into the same
    // stores, nothing changed and nothing is told.
    let nabla = archive_sample(&stack, Provider::Nabla, "generate_note_async.succeeded").await;
    assert!(process(&processor, Provider::Nabla, &nabla).await);
    drain_events(&stack.clients, &bus.queue_url).await;
    processor.replay(&[Provider::Nabla], None).await.unwrap();
    assert!(drain_events(&stack.clients, &bus.queue_url)
        .await
        .is_empty());
    let table = unique("scribehook-replayed");
    create_table(&stack.clients, &table).await;
    let fresh: Vec<Arc<dyn RecordStore>> =
        vec![Arc::new(scribehook::storage::dynamodb::DynamoDbStore::new(
            stack.clients.dynamodb().await,
            table,
            None,
        ))];
    let replaying = Processor::new(
        stack.processor.archive().clone(),
        fresh,
        Fetcher::new(
            Arc::new(S3Outputs::new(stack.clients.clone())),
            vec![],
            1024,
        ),
    )
    .with_notifier(Some(notifier))
    .with_clock(clock());
    replaying.replay(&[Provider::Nabla], None).await.unwrap();
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(
        detail_types(&events),
        ["Record Updated", "Record Completed"]
    );
    assert_eq!(events[0]["detail"]["revision"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_a_notification_not_confirmed_is_503_and_the_retry_tells_it() {
    let stack = Stack::new(vec![]).await;
    let bus = Bus::new(&stack.clients).await;
    let up: Arc<dyn Notifier> =
        Arc::new(EventBridgeNotifier::new(stack.clients.clone(), &bus.name));
    let processor = processor(
        &stack,
        Arc::new(Flaky {
            inner: up,
            failures: AtomicUsize::new(1),
        }),
    );
    let ingest = ingest_on(
        &stack,
        scribehook::pipeline::ingest::Dispatch::Inline(Arc::new(processor)),
        256 * 1024,
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events/apigw-v2/nabla/generate_note_async.succeeded.json");
    let event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    // The record is written, but the notification was not confirmed: the provider must retry.
    let (status, reply, _) = invoke(&ingest, lambda_event(event.clone())).await;
    assert_eq!(status, 503, "{reply}");
    assert!(drain_events(&stack.clients, &bus.queue_url)
        .await
        .is_empty());
    // Its retry is a duplicate that is processed again (no processed mark yet) and told.
    let (status, reply, _) = invoke(&ingest, lambda_event(event)).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    let events = drain_events(&stack.clients, &bus.queue_url).await;
    assert_eq!(
        detail_types(&events),
        ["Record Updated", "Record Completed"]
    );
    assert_eq!(events[0]["detail"]["revision"], 1);
}
