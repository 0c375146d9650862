//! The processor on real AWS SDK clients against moto_server: deliveries go through the real
//! ingest (API Gateway events → S3 archive + SQS), the SQS processor folds them into the
//! DynamoDB and S3 records, and the Daily fetcher reads outputs from (moto) S3.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use scribehook::aws::S3Outputs;
use scribehook::entrypoints::lambda::processor_handler;
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::records::{BlobRecordStore, RecordStore};
use scribehook::storage::s3::S3Blobs;
use scribehook::storage::{StoreError, Version};
use scribehook::Provider;
use serde_json::{json, Value};

/// Ingests one delivery through the real handler (v2), expecting a 200 with `expected`.
async fn deliver(stack: &Stack, provider: Provider, body: &[u8], expected: &str) -> String {
    let headers = signed_headers(provider, body, None, None);
    let (status, reply, _) = invoke(
        &stack.ingest,
        apigw_v2(
            "POST",
            &format!("/webhooks/{provider}"),
            &headers,
            body,
            false,
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], expected, "{reply}");
    reply["event_id"].as_str().unwrap().to_owned()
}

async fn s3_record_json(stack: &Stack, provider: Provider, subject: &str) -> Option<Value> {
    let key = BlobRecordStore::record_key(provider, subject);
    get_object(&stack.clients, &stack.bucket, &key)
        .await
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

// ---------------------------------------------------------------------------------------
// Order independence of the Bota timeline

/// The seed's successful timeline of one recording (the failed variants left out).
const TIMELINE: [(&str, &str); 6] = [
    ("recording.created", "evt_abc123"),
    ("recording.uploaded", "evt_def456"),
    ("transcription.started", "evt_uvw678"),
    ("transcription.completed", "evt_ghi789"),
    ("summary.started", "evt_xyz012"),
    ("summary.completed", "evt_mno345"),
];

/// Processes what is queued in random batch splits; returns how many messages were seen.
async fn drain_in_random_batches(stack: &Stack, rng: &mut Rng) -> usize {
    let mut messages = stack.receive().await;
    rng.shuffle(&mut messages);
    let total = messages.len();
    while !messages.is_empty() {
        let size = 1 + rng.below(messages.len().min(4));
        let batch: Vec<_> = messages.drain(..size).collect();
        let response = processor_handler(&stack.processor, sqs_event(&batch))
            .await
            .unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bota_timeline_merges_to_one_record_in_any_order_with_duplicates() {
    let mut reference: Option<Value> = None;
    for permutation in 0..8u64 {
        let mut rng = Rng::new(0x5C21_BE00 + permutation);
        let stack = Stack::new(vec![]).await;
        // Every event once, three of them redelivered, all shuffled.
        let mut deliveries: Vec<usize> = (0..TIMELINE.len()).collect();
        for _ in 0..3 {
            deliveries.push(rng.below(TIMELINE.len()));
        }
        rng.shuffle(&mut deliveries);

        let mut seen = std::collections::BTreeSet::new();
        // A redelivery is queued again unless its event is in the record by then.
        let mut in_records = std::collections::BTreeSet::new();
        let (mut queued, mut processed) = (0, 0);
        for &index in &deliveries {
            let (name, event_id) = TIMELINE[index];
            let body = payload(Provider::Bota, name);
            let expected = if seen.insert(index) {
                "accepted"
            } else {
                "duplicate"
            };
            assert_eq!(
                deliver(&stack, Provider::Bota, &body, expected).await,
                event_id
            );
            queued += usize::from(!in_records.contains(&index));
            // Sometimes the processor catches up before the next delivery arrives.
            if rng.below(3) == 0 {
                processed += drain_in_random_batches(&stack, &mut rng).await;
                in_records.extend(seen.iter().copied());
            }
        }
        processed += drain_in_random_batches(&stack, &mut rng).await;
        assert_eq!(
            processed, queued,
            "every delivery not yet in its record was queued, and only those"
        );

        let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
            .await
            .expect("a DynamoDB record");
        let from_s3 = s3_record_json(&stack, Provider::Bota, "rec_xyz789")
            .await
            .expect("an S3 record");
        assert_eq!(from_s3, record, "permutation {permutation}: S3 = DynamoDB");
        match &reference {
            None => reference = Some(record.clone()),
            Some(first) => assert_eq!(
                &record, first,
                "permutation {permutation} ({deliveries:?}) gave another record"
            ),
        }

        // One event item per event, plus the record.
        let items = dynamodb_partition(&stack.clients, &stack.table, "bota#rec_xyz789").await;
        let mut sort_keys: Vec<&str> = items.iter().filter_map(|i| attr_s(i, "sk")).collect();
        sort_keys.sort_unstable();
        let mut expected: Vec<String> = TIMELINE
            .iter()
            .map(|(_, id)| format!("event#{id}"))
            .collect();
        expected.push("record".into());
        expected.sort();
        assert_eq!(sort_keys, expected);
        for (name, id) in TIMELINE {
            let item = items
                .iter()
                .find(|i| attr_s(i, "sk") == Some(&format!("event#{id}")))
                .unwrap();
            assert_eq!(attr_s(item, "event_type"), Some(name));
            let event: Value = serde_json::from_str(attr_s(item, "event").unwrap()).unwrap();
            assert_eq!(event["event_id"], id);
            assert_eq!(event["subject_id"], "rec_xyz789");
        }
    }

    let record = reference.unwrap();
    let c = &record["components"];
    assert_eq!(c["recording"]["status"], "uploaded");
    assert_eq!(c["recording"]["event_id"], "evt_def456");
    assert_eq!(c["recording"]["recording"]["duration_ms"], 1_847_500);
    assert_eq!(c["transcript"]["status"], "completed");
    assert_eq!(c["transcript"]["event_id"], "evt_ghi789");
    assert_eq!(
        c["transcript"]["transcript"]["segments"][1],
        json!({"start_ms": 2800, "end_ms": 4200, "speaker": "SPEAKER_00", "role": "unknown",
               "text": "How can I help you?", "confidence": 0.97})
    );
    assert_eq!(c["summary"]["status"], "completed");
    assert_eq!(c["summary"]["event_id"], "evt_mno345");
    assert_eq!(c["summary"]["summary"]["template"], "medical_note");
    let mut events: Vec<&str> = TIMELINE.iter().map(|(_, id)| *id).collect();
    events.sort_unstable();
    assert_eq!(record["events"], json!(events));
    assert_eq!(record["updated_at"], "2025-01-15T10:08:00Z");
    assert_eq!(record["subject_id"], "rec_xyz789");
    assert_eq!(record["provider"], "bota");
    assert_eq!(record["schema_version"], "1");
}

// ---------------------------------------------------------------------------------------
// Daily batch-processor outputs from S3

const JOB_ID: &str = "1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10";
const JOB_EVENT: &str = "bp-jf-1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10";
const PREFIX: &str = "staging/1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10";

const DEEPGRAM: &str = r#"{
  "metadata": {"request_id": "5534e5b9-4779-43d0-9428-1bca5976ce79", "duration": 21.5, "channels": 1},
  "results": {
    "channels": [{
      "detected_language": "en",
      "alternatives": [{
        "transcript": "Good afternoon, what brings you in? My nose has been running for two weeks.",
        "confidence": 0.97,
        "words": [
          {"word": "good", "start": 0.48, "end": 0.8, "confidence": 0.99, "speaker": 0, "punctuated_word": "Good"},
          {"word": "afternoon", "start": 0.8, "end": 1.36, "confidence": 0.98, "speaker": 0, "punctuated_word": "afternoon,"}
        ]
      }]
    }],
    "utterances": [
      {"start": 0.48, "end": 2.9125, "confidence": 0.9712, "channel": 0, "speaker": 0,
       "transcript": "Good afternoon, what brings you in?", "id": "u1", "words": []},
      {"start": 3.1, "end": 6.0049, "confidence": 0.88, "channel": 0, "speaker": 1,
       "transcript": "My nose has been running for two weeks.", "id": "u2", "words": []}
    ]
  }
}"#;

const VTT: &str = "WEBVTT\n\nNOTE\nTranscription provided by Deepgram\nDuration: 00:00:21.500\n\n00:00:00.480 --> 00:00:02.912\n- Speaker 0: Good afternoon, what brings you in?\n\n00:00:03.100 --> 00:00:06.005\n- Speaker 1: My nose has been running for two weeks.\n";
const SRT: &str = "1\n00:00:00,480 --> 00:00:02,912\nSpeaker 0: Good afternoon, what brings you in?\n\n2\n00:00:03,100 --> 00:00:06,005\nSpeaker 1: My nose has been running for two weeks.\n";
const TXT: &str = "Speaker 0: Good afternoon, what brings you in?\n\nSpeaker 1: My nose has been running for two weeks.\n";
const SUMMARY: &str = "  Patient reports two weeks of rhinorrhea; likely seasonal allergies. Antihistamines advised.\n";

fn soap() -> Value {
    json!({
        "subjective": "Runny nose for two weeks, worse outdoors.",
        "objective": "Afebrile. Nasal mucosa pale and boggy.",
        "assessment": "Seasonal allergic rhinitis.",
        "plan": "Oral antihistamine daily; follow up in two weeks if no better."
    })
}

fn concepts() -> Value {
    json!({
        "concepts": [
            {"text": "allergic rhinitis", "type": "condition", "code": "J30.2", "system": "ICD-10"},
            {"text": "antihistamine", "type": "medication"}
        ]
    })
}

/// Daily's job-finished fixture with every `s3Config` pointed at `bucket` in us-east-1.
fn job_finished(bucket: &str) -> Vec<u8> {
    fn point(value: &mut Value, bucket: &str) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(s3)) = map.get_mut("s3Config") {
                    s3.insert("bucket".into(), json!(bucket));
                    s3.insert("region".into(), json!("us-east-1"));
                }
                map.values_mut().for_each(|v| point(v, bucket));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| point(v, bucket)),
            _ => {}
        }
    }
    let mut body: Value =
        serde_json::from_slice(&payload(Provider::Daily, "batch-processor.job-finished")).unwrap();
    point(&mut body, bucket);
    serde_json::to_vec_pretty(&body).unwrap()
}

/// The objects a finished job leaves behind, by key.
fn outputs() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            format!("{PREFIX}/soap/soap.json"),
            serde_json::to_vec(&soap()).unwrap(),
        ),
        (
            format!("{PREFIX}/concepts/concepts.json"),
            serde_json::to_vec_pretty(&concepts()).unwrap(),
        ),
        (
            format!("{PREFIX}/transcript/soap"),
            SUMMARY.as_bytes().to_vec(),
        ),
        (
            format!("{PREFIX}/transcript/soap.json"),
            DEEPGRAM.as_bytes().to_vec(),
        ),
        (
            format!("{PREFIX}/transcript/soap.srt"),
            SRT.as_bytes().to_vec(),
        ),
        (
            format!("{PREFIX}/transcript/soap.txt"),
            TXT.as_bytes().to_vec(),
        ),
        (
            format!("{PREFIX}/transcript/soap.vtt"),
            VTT.as_bytes().to_vec(),
        ),
    ]
}

fn artifact<'a>(record: &'a Value, key: &str) -> &'a Value {
    record["components"]["job"]["artifacts"]
        .as_array()
        .expect("job artifacts")
        .iter()
        .find(|a| {
            a["location"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{key}"))
        })
        .unwrap_or_else(|| panic!("an artifact for {key}"))
}

async fn job_record(stack: &Stack) -> Value {
    let record = dynamodb_record_json(&stack.clients, &stack.table, &format!("daily#{JOB_ID}"))
        .await
        .expect("the job's record");
    let from_s3 = s3_record_json(stack, Provider::Daily, JOB_ID)
        .await
        .unwrap();
    assert_eq!(from_s3, record);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_job_fetches_its_outputs_into_the_record() {
    let clients = clients().await;
    let outputs_bucket = unique("daily-outputs");
    create_bucket(&clients, &outputs_bucket).await;
    let objects = outputs();
    for (key, bytes) in &objects {
        put_object(&clients, &outputs_bucket, key, bytes.clone()).await;
    }
    let stack = Stack::new(vec![outputs_bucket.clone()]).await;
    let body = job_finished(&outputs_bucket);
    assert_eq!(
        deliver(&stack, Provider::Daily, &body, "accepted").await,
        JOB_EVENT
    );
    assert_eq!(process_queue(&stack).await, 1);
    let record = job_record(&stack).await;
    let c = &record["components"];

    // The job: completed, its artifacts fetched with their real size and digest.
    assert_eq!(c["job"]["status"], "completed");
    assert_eq!(c["job"]["event_id"], JOB_EVENT);
    assert_eq!(c["job"]["artifacts"].as_array().unwrap().len(), 7);
    for (key, bytes) in &objects {
        let a = artifact(&record, key);
        assert_eq!(a["location"], format!("s3://{outputs_bucket}/{key}"));
        let chosen = !key.ends_with(".srt") && !key.ends_with(".txt") && !key.ends_with(".vtt");
        if chosen {
            assert_eq!(a["fetched"], true, "{a}");
            assert_eq!(a["bytes"], bytes.len(), "{a}");
            assert_eq!(a["sha256"], scribehook::signature::sha256_hex(bytes), "{a}");
            assert!(a.get("reason").is_none(), "{a}");
        } else {
            // The other renditions of the same transcript are not fetched, and say why.
            assert_eq!(a["fetched"], false, "{a}");
            assert!(a.get("sha256").is_none(), "{a}");
            let reason = a["reason"].as_str().expect("a reason");
            assert!(reason.contains("rendition"), "{reason}");
        }
    }
    assert_eq!(artifact(&record, "soap/soap.json")["kind"], "soap");
    assert_eq!(
        artifact(&record, "concepts/concepts.json")["kind"],
        "concepts"
    );
    assert_eq!(artifact(&record, "transcript/soap")["kind"], "summary");
    assert_eq!(
        artifact(&record, "transcript/soap.json")["kind"],
        "transcript"
    );
    assert_eq!(artifact(&record, "transcript/soap.json")["format"], "json");

    // The note: SOAP sections in order, with the raw SOAP and concepts JSON.
    let note = &c["note"];
    assert_eq!(note["status"], "completed");
    assert_eq!(note["event_id"], JOB_EVENT);
    let sections = note["note"]["sections"].as_array().unwrap();
    let keys: Vec<&str> = sections
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["SUBJECTIVE", "OBJECTIVE", "ASSESSMENT", "PLAN"]);
    assert_eq!(sections[2]["text"], "Seasonal allergic rhinitis.");
    assert_eq!(
        sections[3]["text"],
        "Oral antihistamine daily; follow up in two weeks if no better."
    );
    assert_eq!(note["soap"], soap());
    assert_eq!(note["concepts"], concepts());

    // The transcript: Deepgram's utterances, in integer milliseconds.
    let transcript = &c["transcript"]["transcript"];
    assert_eq!(c["transcript"]["event_id"], JOB_EVENT);
    assert_eq!(transcript["language"], "en");
    assert_eq!(transcript["duration_ms"], 21_500);
    assert_eq!(
        transcript["segments"],
        json!([
            {"start_ms": 480, "end_ms": 2913, "speaker": "0", "role": "unknown",
             "text": "Good afternoon, what brings you in?", "confidence": 0.9712},
            {"start_ms": 3100, "end_ms": 6005, "speaker": "1", "role": "unknown",
             "text": "My nose has been running for two weeks.", "confidence": 0.88}
        ])
    );
    for segment in transcript["segments"].as_array().unwrap() {
        assert!(segment["start_ms"].is_i64() && segment["end_ms"].is_i64());
    }

    // The summary text.
    assert_eq!(c["summary"]["summary"]["text"], SUMMARY.trim());
    assert_eq!(record["events"], json!([JOB_EVENT]));

    // The normalized event carries the same fetched content.
    let item = dynamodb_item(
        &stack.clients,
        &stack.table,
        &format!("daily#{JOB_ID}"),
        &format!("event#{JOB_EVENT}"),
    )
    .await
    .unwrap();
    let event: Value = serde_json::from_str(attr_s(&item, "event").unwrap()).unwrap();
    assert_eq!(event["category"], "job");
    assert_eq!(event["soap"], soap());
    assert_eq!(
        event["raw_location"],
        format!("s3://{}/archive/raw/daily/{JOB_EVENT}.json", stack.bucket)
    );

    // A redelivery of the processed job is a duplicate that costs no second run (no
    // second download of its outputs): nothing is queued and the record stands.
    assert_eq!(
        deliver(&stack, Provider::Daily, &body, "duplicate").await,
        JOB_EVENT
    );
    assert_eq!(process_queue(&stack).await, 0);
    assert_eq!(job_record(&stack).await, record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_outside_the_allow_list_is_not_read() {
    // The referenced bucket does not even exist: any GetObject would fail with NoSuchBucket
    // and say so; the record instead names the allow-list.
    let elsewhere = unique("not-allowed");
    let allowed = unique("daily-outputs");
    let stack = Stack::new(vec![allowed]).await;
    let body = job_finished(&elsewhere);
    deliver(&stack, Provider::Daily, &body, "accepted").await;
    assert_eq!(process_queue(&stack).await, 1);
    let record = job_record(&stack).await;
    let artifacts = record["components"]["job"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 7);
    for a in artifacts {
        assert_eq!(a["fetched"], false, "{a}");
        assert!(a.get("bytes").is_none() && a.get("sha256").is_none(), "{a}");
    }
    for key in [
        "soap/soap.json",
        "concepts/concepts.json",
        "transcript/soap",
        "transcript/soap.json",
    ] {
        let reason = artifact(&record, key)["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(reason.contains("ALLOWED_OUTPUT_BUCKETS"), "{key}: {reason}");
        // The location names the bucket; the reason does not repeat the body's text.
        assert!(!reason.contains(&elsewhere), "{key}: {reason}");
    }
    assert_eq!(record["components"]["job"]["status"], "completed");
    assert!(record["components"].get("note").is_none());
    assert!(record["components"].get("transcript").is_none());
}

/// A finished Daily job whose outputs are `objects` (key, bytes) in an allow-listed bucket,
/// ingested and processed; its record.
async fn job_record_with(objects: Vec<(String, Vec<u8>)>) -> Value {
    let clients = clients().await;
    let outputs_bucket = unique("daily-outputs");
    create_bucket(&clients, &outputs_bucket).await;
    for (key, bytes) in objects {
        put_object(&clients, &outputs_bucket, &key, bytes).await;
    }
    let stack = Stack::new(vec![outputs_bucket.clone()]).await;
    deliver(
        &stack,
        Provider::Daily,
        &job_finished(&outputs_bucket),
        "accepted",
    )
    .await;
    assert_eq!(process_queue(&stack).await, 1);
    job_record(&stack).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_max_output_bytes_is_not_fetched() {
    let limit = 1024 * 1024;
    let objects = outputs().into_iter().map(|(key, bytes)| {
        let bytes = if key.ends_with("soap.json") && key.contains("/soap/") {
            // A SOAP note one byte over the Stack's MAX_OUTPUT_BYTES (1 MiB).
            let mut big = serde_json::to_vec(&soap()).unwrap();
            big.resize(limit + 1, b' ');
            big
        } else if key.ends_with("transcript/soap") {
            // Exactly at the bound is still read.
            let mut exact = SUMMARY.as_bytes().to_vec();
            exact.resize(limit, b' ');
            exact
        } else {
            bytes
        };
        (key, bytes)
    });
    let record = job_record_with(objects.collect()).await;

    let soap_artifact = artifact(&record, "soap/soap.json");
    assert_eq!(soap_artifact["fetched"], false, "{soap_artifact}");
    let reason = soap_artifact["reason"].as_str().unwrap();
    assert!(reason.contains("MAX_OUTPUT_BYTES"), "{reason}");
    assert!(reason.contains(&(limit + 1).to_string()), "{reason}");
    assert!(soap_artifact.get("sha256").is_none());
    // No SOAP content made it in; the concepts still did.
    let note = &record["components"]["note"];
    assert!(note.get("soap").is_none(), "{note}");
    assert!(note["note"].is_null(), "{note}");
    assert_eq!(note["concepts"], concepts());

    let summary = artifact(&record, "transcript/soap");
    assert_eq!(summary["fetched"], true, "{summary}");
    assert_eq!(summary["bytes"], limit);
    assert_eq!(
        record["components"]["summary"]["summary"]["text"],
        SUMMARY.trim()
    );
    assert_eq!(artifact(&record, "transcript/soap.json")["fetched"], true);
}

/// docs/behaviour.md#daily-outputs: when the preferred (Deepgram JSON) rendition is over MAX_OUTPUT_BYTES,
/// missing or unparseable, the next one (WebVTT) is read, and each artifact says what
/// happened to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_json_transcript_falls_back_to_the_next_rendition() {
    let limit = 1024 * 1024;
    let cases: [(&str, Option<Vec<u8>>, &str); 3] = [
        ("oversize", Some(vec![b' '; limit + 1]), "MAX_OUTPUT_BYTES"),
        ("missing", None, "no such key"),
        (
            "unparseable",
            Some(b"{\"results\": 42".to_vec()),
            "could not be parsed",
        ),
    ];
    for (case, json_bytes, expected_reason) in cases {
        // The JSON transcript replaced, or left out when missing.
        let objects = outputs()
            .into_iter()
            .filter_map(|(key, bytes)| match &json_bytes {
                _ if !key.ends_with("transcript/soap.json") => Some((key, bytes)),
                Some(replacement) => Some((key, replacement.clone())),
                None => None,
            })
            .collect();
        let record = job_record_with(objects).await;
        let json = artifact(&record, "transcript/soap.json");
        let reason = json["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected_reason), "{case}: {json}");
        let vtt = artifact(&record, "transcript/soap.vtt");
        assert_eq!(vtt["fetched"], true, "{case}: {vtt}");
        assert!(vtt.get("reason").is_none(), "{case}: {vtt}");
        for later in ["transcript/soap.srt", "transcript/soap.txt"] {
            let a = artifact(&record, later);
            assert_eq!(a["fetched"], false, "{case}: {a}");
            assert_eq!(
                a["reason"], "not fetched: the vtt rendition of this transcript was used",
                "{case}"
            );
        }
        let segments = &record["components"]["transcript"]["transcript"]["segments"];
        assert_eq!(
            segments.as_array().map(Vec::len),
            Some(2),
            "{case}: {record}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Concurrency

/// A record store that counts the conditional record writes that lost: each one means two
/// merges of the subject raced and the loser re-read and re-folded.
struct Counting {
    inner: Arc<dyn RecordStore>,
    lost: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl RecordStore for Counting {
    async fn put_event(&self, event: &scribehook::NormalizedEvent) -> Result<(), StoreError> {
        self.inner.put_event(event).await
    }

    async fn read_record(
        &self,
        provider: Provider,
        subject_id: &str,
    ) -> Result<Option<(scribehook::Record, Version)>, StoreError> {
        self.inner.read_record(provider, subject_id).await
    }

    async fn write_record(
        &self,
        provider: Provider,
        subject_id: &str,
        record: &scribehook::Record,
        expected: Option<&Version>,
    ) -> Result<bool, StoreError> {
        let written = self
            .inner
            .write_record(provider, subject_id, record, expected)
            .await?;
        if !written {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        Ok(written)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// One processor instance (one Lambda execution environment) on the stack's table, buckets
/// and archive, with its own store objects; its lost record writes are counted in `lost`.
async fn processor_instance(stack: &Stack, lost: &Arc<AtomicUsize>) -> Processor {
    let s3 = stack.clients.s3().await;
    let dynamodb: Arc<dyn RecordStore> = Arc::new(DynamoDbStore::new(
        stack.clients.dynamodb().await,
        stack.table.clone(),
        Some(Arc::new(S3Blobs::new(
            s3.clone(),
            stack.bucket.clone(),
            "archive".into(),
        ))),
    ));
    let s3_records: Arc<dyn RecordStore> = Arc::new(BlobRecordStore::new(Arc::new(S3Blobs::new(
        s3.clone(),
        stack.bucket.clone(),
        String::new(),
    ))));
    let counted = |inner| -> Arc<dyn RecordStore> {
        Arc::new(Counting {
            inner,
            lost: lost.clone(),
        })
    };
    Processor::new(
        stack.processor.archive().clone(),
        vec![counted(dynamodb), counted(s3_records)],
        Fetcher::new(
            Arc::new(S3Outputs::new(stack.clients.clone())),
            vec![],
            1024 * 1024,
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processors_merging_one_subject_at_once_lose_nothing() {
    const ROUNDS: usize = 20;
    let stack = Stack::new(vec![]).await;
    let lost = Arc::new(AtomicUsize::new(0));
    let one = processor_instance(&stack, &lost).await;
    let other = processor_instance(&stack, &lost).await;
    let transcription: Value =
        serde_json::from_slice(&payload(Provider::Bota, "transcription.completed")).unwrap();
    let summary: Value =
        serde_json::from_slice(&payload(Provider::Bota, "summary.completed")).unwrap();
    let mut raced = 0;
    for round in 0..ROUNDS {
        let subject = format!("rec_race_{round}");
        let mut a = transcription.clone();
        a["id"] = json!(format!("evt_t_{round}"));
        a["data"]["recording_id"] = json!(subject);
        let mut b = summary.clone();
        b["id"] = json!(format!("evt_s_{round}"));
        b["data"]["recording_id"] = json!(subject);
        // Alternate which instance gets which event.
        let (a, b) = if round % 2 == 0 { (a, b) } else { (b, a) };
        let id_a = deliver(
            &stack,
            Provider::Bota,
            &serde_json::to_vec(&a).unwrap(),
            "accepted",
        )
        .await;
        let id_b = deliver(
            &stack,
            Provider::Bota,
            &serde_json::to_vec(&b).unwrap(),
            "accepted",
        )
        .await;
        let messages = stack.receive().await;
        assert_eq!(messages.len(), 2);
        let before = lost.load(Ordering::SeqCst);
        let (first, second) = tokio::join!(
            processor_handler(&one, sqs_event(&messages[..1])),
            processor_handler(&other, sqs_event(&messages[1..])),
        );
        assert!(first.unwrap().batch_item_failures.is_empty());
        assert!(second.unwrap().batch_item_failures.is_empty());
        if lost.load(Ordering::SeqCst) > before {
            raced += 1;
        }

        let mut expected = vec![id_a, id_b];
        expected.sort();
        let record = dynamodb_record_json(&stack.clients, &stack.table, &format!("bota#{subject}"))
            .await
            .expect("a DynamoDB record");
        assert_eq!(record["events"], json!(expected), "round {round}: DynamoDB");
        assert_eq!(record["components"]["transcript"]["status"], "completed");
        assert_eq!(record["components"]["summary"]["status"], "completed");
        let from_s3 = s3_record_json(&stack, Provider::Bota, &subject)
            .await
            .expect("an S3 record");
        assert_eq!(from_s3["events"], json!(expected), "round {round}: S3");
        assert_eq!(from_s3, record);
    }
    // The race this test is about did happen (typically in most rounds).
    assert!(
        raced > 0,
        "no round had two merges racing; the test proved nothing"
    );
}

// ---------------------------------------------------------------------------------------
// Records too large for a DynamoDB item

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_for_an_item_is_kept_in_s3_with_its_location() {
    let stack = Stack::new(vec![]).await;
    // This delivery is larger than the Stack's MAX_BODY_BYTES; use the default bound.
    let ingest = ingest_on(
        &stack,
        sqs_dispatch(&stack.clients, &stack.queue_url).await,
        scribehook::config::DEFAULT_MAX_BODY_BYTES,
    );
    let mut body: Value =
        serde_json::from_slice(&payload(Provider::Nabla, "transcribe_async.succeeded")).unwrap();
    let line = "The patient describes the pattern of symptoms over the last weeks in detail. ";
    let segments: Vec<Value> = (0..4000)
        .map(|i| {
            json!({
                "text": format!("{i}: {line}"),
                "speaker_type": if i % 2 == 0 { "DOCTOR" } else { "PATIENT" },
                "start_offset_ms": i * 2000,
                "end_offset_ms": i * 2000 + 1500
            })
        })
        .collect();
    body["data"]["payload"]["transcript"] = json!(segments);
    let body = serde_json::to_vec(&body).unwrap();
    assert!(body.len() > 500 * 1024, "{}", body.len());
    let headers = signed_headers(Provider::Nabla, &body, None, None);
    let (status, reply, _) = invoke(
        &ingest,
        apigw_v2("POST", "/webhooks/nabla", &headers, &body, false),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(process_queue(&stack).await, 1);

    let subject = "7a8b9c0d-0000-4000-8000-00000000c003";
    let pk = format!("nabla#{subject}");
    let item = dynamodb_item(&stack.clients, &stack.table, &pk, "record")
        .await
        .expect("the record item");
    assert!(!item.contains_key("record"), "no inline record");
    let location = attr_s(&item, "record_location").expect("record_location");
    let prefix = format!("s3://{}/archive/", stack.bucket);
    let key = location
        .strip_prefix(&format!("s3://{}/", stack.bucket))
        .unwrap_or_else(|| panic!("{location} is not under {prefix}"));
    assert!(location.starts_with(&prefix), "{location}");
    let stored: Value = serde_json::from_slice(
        &get_object(&stack.clients, &stack.bucket, key)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored["components"]["transcript"]["transcript"]["segments"]
            .as_array()
            .unwrap()
            .len(),
        4000
    );
    assert_eq!(
        item.get("event_count")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("1")
    );

    // The event item overflows the same way.
    let event_item = dynamodb_item(
        &stack.clients,
        &stack.table,
        &pk,
        "event#9f1d2c3b-0000-4000-8000-00000000a003",
    )
    .await
    .unwrap();
    assert!(!event_item.contains_key("event"));
    assert!(attr_s(&event_item, "event_location")
        .unwrap()
        .starts_with(&prefix));

    // Reading through the store gives the full record back, equal to the S3 store's.
    let record = stack
        .dynamodb
        .get_record(Provider::Nabla, subject)
        .await
        .unwrap()
        .expect("a record");
    let transcript = record.components.transcript.as_ref().unwrap();
    let segments = &transcript.content.transcript.as_ref().unwrap().segments;
    assert_eq!(segments.len(), 4000);
    assert_eq!(segments[3999].start_ms, 3999 * 2000);
    assert_eq!(serde_json::to_value(&record).unwrap(), stored);
    let from_s3 = stack
        .s3_records
        .get_record(Provider::Nabla, subject)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from_s3, record);

    // A second event of the subject still merges into the overflowed record.
    let mut note: Value =
        serde_json::from_slice(&payload(Provider::Nabla, "generate_note_async.succeeded")).unwrap();
    note["data"]["id"] = json!(subject);
    deliver(
        &stack,
        Provider::Nabla,
        &serde_json::to_vec(&note).unwrap(),
        "accepted",
    )
    .await;
    assert_eq!(process_queue(&stack).await, 1);
    let record = stack
        .dynamodb
        .get_record(Provider::Nabla, subject)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.events.len(), 2);
    let item = dynamodb_item(&stack.clients, &stack.table, &pk, "record")
        .await
        .unwrap();
    assert!(attr_s(&item, "record_location").is_some());
}

// ---------------------------------------------------------------------------------------
// The region the event names, and messages that are not (or no longer) processable

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_read_in_the_region_the_event_names() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let clients = clients().await;
    let outputs_bucket = unique("daily-outputs-west");
    clients
        .s3()
        .await
        .create_bucket()
        .bucket(&outputs_bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .expect("create bucket in us-west-2");
    for (key, bytes) in outputs() {
        put_object(&clients, &outputs_bucket, &key, bytes).await;
    }
    let stack = Stack::new(vec![outputs_bucket.clone()]).await;
    // The fixture as Daily sends it, region us-west-2, only the bucket renamed.
    let body = String::from_utf8(payload(Provider::Daily, "batch-processor.job-finished"))
        .unwrap()
        .replace("daily-co-batch-processor-qa-us-west-2", &outputs_bucket);
    assert!(body.contains("\"us-west-2\""));
    deliver(&stack, Provider::Daily, body.as_bytes(), "accepted").await;
    assert_eq!(process_queue(&stack).await, 1);
    let record = job_record(&stack).await;
    let soap_artifact = artifact(&record, "soap/soap.json");
    assert_eq!(soap_artifact["fetched"], true, "{soap_artifact}");
    assert_eq!(soap_artifact["region"], "us-west-2");
    assert_eq!(record["components"]["note"]["soap"], soap());
    assert_eq!(
        record["components"]["transcript"]["transcript"]["segments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_cannot_be_processed_now_are_reported_for_retry_or_the_dlq() {
    let stack = Stack::new(vec![]).await;
    let body = payload(Provider::Bota, "recording.created");
    deliver(&stack, Provider::Bota, &body, "accepted").await;
    let mut messages = stack.receive().await;
    let good = messages[0].message_id().unwrap().to_owned();
    let message = |id: &str, body: &str| {
        aws_sdk_sqs::types::Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body(body)
            .build()
    };
    // Not a scribehook job, and a job whose delivery is not in the archive.
    messages.push(message("m-garbage", "{\"hello\":\"world\"}"));
    messages.push(message(
        "m-missing",
        "{\"provider\":\"bota\",\"event_id\":\"evt_never_archived\"}",
    ));
    let response = processor_handler(&stack.processor, sqs_event(&messages))
        .await
        .unwrap();
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(failed, ["m-garbage", "m-missing"]);
    assert!(!failed.contains(&good));
    let record = dynamodb_record_json(&stack.clients, &stack.table, "bota#rec_xyz789")
        .await
        .unwrap();
    assert_eq!(record["events"], json!(["evt_abc123"]));
}
