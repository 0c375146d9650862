//! PHI lifecycle (docs/behaviour.md#deletion-and-retention) on moto and on local files: after a deletion event under
//! `PURGE_ON_DELETE` (or `scribehook purge`), no object, object version, item or file under
//! the subject holds any of the original transcript or summary text, whatever order the
//! events came in; a delivery arriving after the purge leaves a content-free tombstone;
//! `PURGE_ON_DELETE=false` only marks the record. The search is over raw bytes (archived
//! bodies decoded from base64 too) of everything listed in the bucket (every version), the
//! table (a scan) and the directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use common::*;
use scribehook::pipeline::ingest::Dispatch;
use scribehook::pipeline::process::{DeliveryId, Processed, Processor};
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::record::OnDelete;
use scribehook::storage::archive::Archive;
use scribehook::storage::dynamodb::DynamoDbStore;
use scribehook::storage::file::FileBlobs;
use scribehook::storage::records::{BlobRecordStore, RecordStore};
use scribehook::storage::s3::S3Blobs;
use scribehook::{Provider, Record};

/// Phrases of the Bota samples' transcript and summary, and of the oversized transcript.
const SECRETS: &[&str] = &[
    "thank you for coming in today",
    "How can I help you",
    "seasonal allergies",
    "antihistamines",
    "OVERFLOWING-PHI-MARKER",
];

const SUBJECT: &str = "rec_xyz789";

/// A deployment on moto with every kind of store at once: DynamoDB (overflow into the
/// archive bucket), S3 records in the same bucket, and a file store.
struct World {
    clients: scribehook::entrypoints::app::Clients,
    bucket: String,
    table: String,
    dir: PathBuf,
    processor: Arc<Processor>,
    ingest: scribehook::pipeline::ingest::Ingest,
}

impl World {
    async fn new(policy: OnDelete, versioned: bool) -> Self {
        let clients = clients().await;
        let bucket = unique("purge-data");
        let table = unique("purge-records");
        create_bucket(&clients, &bucket).await;
        if versioned {
            use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
            clients
                .s3()
                .await
                .put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("enable versioning");
        }
        create_table(&clients, &table).await;
        let dir = std::env::temp_dir().join(unique("scribehook-purge"));
        let archive_blobs = Arc::new(S3Blobs::new(
            clients.s3().await,
            bucket.clone(),
            "archive".into(),
        ));
        let stores: Vec<Arc<dyn RecordStore>> = vec![
            Arc::new(DynamoDbStore::new(
                clients.dynamodb().await,
                table.clone(),
                Some(archive_blobs.clone()),
            )),
            Arc::new(BlobRecordStore::new(Arc::new(S3Blobs::new(
                clients.s3().await,
                bucket.clone(),
                String::new(),
            )))),
            Arc::new(BlobRecordStore::new(Arc::new(FileBlobs::new(dir.clone())))),
        ];
        let archive = Archive::new(archive_blobs);
        let fetcher = Fetcher::new(
            Arc::new(scribehook::aws::S3Outputs::new(clients.clone())),
            vec![],
            1024 * 1024,
        );
        let processor = Arc::new(
            Processor::new(archive.clone(), stores, fetcher)
                .with_clock(clock())
                .with_on_delete(policy),
        );
        let ingest = ingest_with(
            all_secrets(),
            archive,
            Dispatch::Inline(processor.clone()),
            4 * 1024 * 1024,
        );
        World {
            clients,
            bucket,
            table,
            dir,
            processor,
            ingest,
        }
    }

    /// Delivers a Bota body through the real ingest (inline processing); the answer.
    async fn send(&self, body: &[u8]) -> String {
        let headers = signed_headers(Provider::Bota, body, None, None);
        let event = apigw_v2("POST", "/webhooks/bota", &headers, body, false);
        let (status, answer, _) = invoke(&self.ingest, event).await;
        assert_eq!(status, 200, "{answer}");
        answer["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn send_sample(&self, name: &str) -> String {
        self.send(&payload(Provider::Bota, name)).await
    }

    /// Every stored byte string: every version of every object in the bucket, every item
    /// of the table, every file of the directory.
    async fn everything(&self) -> Vec<(String, Vec<u8>)> {
        let mut all = bucket_versions(&self.clients, &self.bucket).await;
        let scan = self
            .clients
            .dynamodb()
            .await
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan");
        for item in scan.items() {
            all.push((
                format!("{:?}", item.get("sk")),
                format!("{item:?}").into_bytes(),
            ));
        }
        all.extend(files(&self.dir));
        all
    }

    async fn records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        for store in self.processor.stores() {
            let record = store.get_record(Provider::Bota, SUBJECT).await.unwrap();
            records.push(record.expect("a record in every store"));
        }
        records
    }
}

async fn bucket_versions(
    clients: &scribehook::entrypoints::app::Clients,
    bucket: &str,
) -> Vec<(String, Vec<u8>)> {
    let listed = clients
        .s3()
        .await
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .expect("list versions");
    assert_ne!(
        listed.is_truncated(),
        Some(true),
        "a test bucket fits one page"
    );
    let mut all = Vec::new();
    for version in listed.versions() {
        let (key, id) = (version.key().unwrap_or_default(), version.version_id());
        let object = clients
            .s3()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(id.map(str::to_owned))
            .send()
            .await
            .expect("get version");
        let bytes = object.body.collect().await.unwrap().into_bytes().to_vec();
        all.push((format!("s3://{bucket}/{key}?versionId={id:?}"), bytes));
    }
    all
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return all;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    all
}

/// The stored things holding any of [`SECRETS`], in their bytes or in an archived body.
fn holders(everything: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, bytes) in everything {
        let mut texts = vec![bytes.clone()];
        if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(body) = doc["body_base64"].as_str() {
                texts.extend(base64::engine::general_purpose::STANDARD.decode(body).ok());
            }
        }
        let holds = texts.iter().any(|text| {
            let text = String::from_utf8_lossy(text);
            SECRETS.iter().any(|s| text.contains(s))
        });
        if holds {
            found.push(name.clone());
        }
    }
    found
}

/// A Bota transcription.completed of another event id, too large for a DynamoDB item.
fn oversized_transcript() -> Vec<u8> {
    let mut body: serde_json::Value =
        serde_json::from_slice(&payload(Provider::Bota, "transcription.completed")).unwrap();
    body["id"] = "evt_big001".into();
    body["data"]["text"] = "OVERFLOWING-PHI-MARKER ".repeat(20_000).into();
    serde_json::to_vec(&body).unwrap()
}

/// The same event id as the summary sample, with other content: a conflict variant.
fn conflicting_summary() -> Vec<u8> {
    let mut body: serde_json::Value =
        serde_json::from_slice(&payload(Provider::Bota, "summary.completed")).unwrap();
    body["data"]["text"] = "A variant: seasonal allergies, antihistamines again.".into();
    serde_json::to_vec(&body).unwrap()
}

const CONTENT: &[&str] = &[
    "recording.created",
    "transcription.started",
    "transcription.completed",
    "summary.completed",
];

fn assert_tombstone(records: &[Record]) {
    for record in records {
        assert!(record.deleted_at.is_some(), "{record:?}");
        let transcript = record.components.transcript.as_ref().expect("transcript");
        assert_eq!(transcript.status, scribehook::record::Status::Completed);
        assert!(transcript.content.transcript.is_none());
        let summary = record.components.summary.as_ref().expect("summary");
        assert!(summary.content.summary.is_none());
        assert!(record.contains("evt_ghi789") && record.contains("evt_rst345"));
    }
}

#[tokio::test]
async fn a_deletion_last_leaves_no_content_in_any_store_or_version() {
    let world = World::new(OnDelete::Purge, true).await;
    for name in CONTENT {
        assert_eq!(world.send_sample(name).await, "accepted");
    }
    assert_eq!(world.send(&oversized_transcript()).await, "accepted");
    assert_eq!(world.send(&conflicting_summary()).await, "conflict");
    let before = world.everything().await;
    assert!(
        before.iter().any(|(k, _)| k.contains("archive/large/")),
        "the oversized transcript overflowed into S3"
    );
    assert!(
        before.iter().any(|(k, _)| k.contains('~')),
        "a conflict variant"
    );
    assert!(holders(&before).len() > 5, "{:?}", holders(&before));

    assert_eq!(world.send_sample("recording.deleted").await, "accepted");
    let after = world.everything().await;
    assert_eq!(holders(&after), Vec::<String>::new());
    assert!(
        !after.iter().any(|(k, _)| k.contains("archive/raw/")),
        "every archived delivery of the subject and its variants, every version"
    );
    assert!(
        !after.iter().any(|(k, _)| k.contains("archive/large/")),
        "overflow objects"
    );
    assert_tombstone(&world.records().await);

    // A redelivered content event after the purge: accepted anew (its archived copy is
    // gone), processed into a content-free tombstone, its archived copy erased again.
    assert_eq!(
        world.send_sample("transcription.completed").await,
        "accepted"
    );
    assert_eq!(world.send_sample("summary.completed").await, "accepted");
    let again = world.everything().await;
    assert_eq!(holders(&again), Vec::<String>::new());
    assert!(!again.iter().any(|(k, _)| k.contains("archive/raw/")));
    assert_tombstone(&world.records().await);
    let items = dynamodb_partition(&world.clients, &world.table, &format!("bota#{SUBJECT}")).await;
    assert!(items
        .iter()
        .any(|i| attr_s(i, "sk") == Some("event#evt_ghi789")));

    // A queued message naming an erased delivery is acknowledged with its tombstone
    // (not retried into the dead-letter queue).
    let id = DeliveryId {
        provider: Provider::Bota,
        event_id: "evt_mno345".into(),
    };
    match world.processor.handle(&id).await.expect("acknowledged") {
        Processed::Written(event) => {
            assert_eq!(event.event_type, "summary.completed");
            assert!(event.content.summary.is_none());
        }
        other => panic!("{other:?}"),
    }

    // Purging again (the CLI's path) is idempotent: nothing left to remove.
    let report = world
        .processor
        .purge(Provider::Bota, SUBJECT)
        .await
        .unwrap();
    assert_eq!(report.records_found, 3);
    assert_eq!(report.events_rewritten, 0);
    assert!(report.archived_deleted.is_empty(), "{report:?}");
    let report = world
        .processor
        .purge(Provider::Bota, SUBJECT)
        .await
        .unwrap();
    assert!(!report.removed_anything(), "{report:?}");
}

#[tokio::test]
async fn deletion_first_last_or_before_a_redelivery_ends_in_the_same_tombstone() {
    let first = World::new(OnDelete::Purge, false).await;
    first.send_sample("recording.deleted").await;
    for name in CONTENT {
        first.send_sample(name).await;
    }
    let last = World::new(OnDelete::Purge, false).await;
    for name in CONTENT {
        last.send_sample(name).await;
    }
    last.send_sample("recording.deleted").await;
    last.send_sample("transcription.completed").await;
    for world in [&first, &last] {
        let everything = world.everything().await;
        assert_eq!(holders(&everything), Vec::<String>::new());
        assert!(!everything.iter().any(|(k, _)| k.contains("archive/raw/")));
        assert_tombstone(&world.records().await);
    }
    assert_eq!(first.records().await, last.records().await);
    // Event documents agree too, whatever the order (S3 and file stores).
    let events = |world: &World| {
        files(&world.dir)
            .into_iter()
            .map(|(name, bytes)| {
                let text = String::from_utf8_lossy(&bytes).replace(&world.bucket, "<bucket>");
                (name.replace(&world.dir.display().to_string(), ""), text)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(events(&first), events(&last));
}

#[tokio::test]
async fn purge_on_delete_false_only_marks_the_record() {
    let world = World::new(OnDelete::Mark, true).await;
    for name in CONTENT {
        world.send_sample(name).await;
    }
    world.send_sample("recording.deleted").await;
    let everything = world.everything().await;
    let holding = holders(&everything);
    assert!(
        holding.iter().any(|k| k.contains("archive/raw/")),
        "{holding:?}"
    );
    assert!(holding.iter().any(|k| k.contains("record")), "{holding:?}");
    for record in world.records().await {
        assert!(record.deleted_at.is_some());
        assert!(record.purged_at.is_none());
        let transcript = record.components.transcript.expect("transcript");
        assert!(transcript.content.transcript.is_some(), "content kept");
    }

    // An erasure on demand still ends the content, and sticks under this policy too.
    let report = world
        .processor
        .purge(Provider::Bota, SUBJECT)
        .await
        .unwrap();
    assert_eq!(report.records_erased, 3);
    assert!(report.events_rewritten >= 3, "{report:?}");
    assert!(!report.archived_deleted.is_empty());
    world.send_sample("summary.completed").await;
    assert_eq!(holders(&world.everything().await), Vec::<String>::new());
    for record in world.records().await {
        assert!(record.purged_at.is_some());
    }
}

/// A subject stored on files only (ARCHIVE and STORE `file://`), erased by the CLI.
#[tokio::test]
async fn scribehook_purge_erases_a_subject_on_files_and_reports_it() {
    let dir = std::env::temp_dir().join(unique("scribehook-purge-cli"));
    let uri = format!("file://{}", dir.display());
    let archive = Archive::new(Arc::new(FileBlobs::new(dir.clone())));
    let store: Arc<dyn RecordStore> =
        Arc::new(BlobRecordStore::new(Arc::new(FileBlobs::new(dir.clone()))));
    let fetcher = Fetcher::new(
        Arc::new(scribehook::aws::S3Outputs::new(clients().await)),
        vec![],
        1024,
    );
    let processor = Arc::new(
        Processor::new(archive.clone(), vec![store], fetcher)
            .with_clock(clock())
            .with_on_delete(OnDelete::Mark),
    );
    let ingest = ingest_with(all_secrets(), archive, Dispatch::Inline(processor), 1 << 20);
    for name in ["transcription.completed", "summary.completed"] {
        let body = payload(Provider::Bota, name);
        let headers = signed_headers(Provider::Bota, &body, None, None);
        let (status, _, _) = invoke(
            &ingest,
            apigw_v2("POST", "/webhooks/bota", &headers, &body, false),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert!(!holders(&files(&dir)).is_empty());

    let purge = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scribehook"))
            .args(["purge", "--provider", "bota", "--subject", SUBJECT])
            .env("ARCHIVE", &uri)
            .env("STORE", &uri)
            .env("PURGE_ON_DELETE", "false")
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run scribehook")
    };
    let output = purge();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["records_erased"], 1, "{report}");
    assert_eq!(report["events_rewritten"], 2, "{report}");
    assert_eq!(
        report["archived_deleted"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        SECRETS.iter().all(|s| !stdout.contains(s)),
        "the report names, never shows"
    );
    assert_eq!(holders(&files(&dir)), Vec::<String>::new());
    assert!(!files(&dir).iter().any(|(k, _)| k.contains("/raw/")));

    let again = purge();
    assert!(again.status.success());
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["records_found"], 1);
    assert_eq!(report["records_erased"], 0, "idempotent: {report}");
    assert_eq!(report["events_rewritten"], 0);
    assert_eq!(report["archived_deleted"], serde_json::json!([]));
}

/// On a terminal, `scribehook purge` refuses without `--yes` (and touches nothing); `script`
/// gives it one. Skipped where `script` (util-linux) is missing.
#[test]
fn scribehook_purge_on_a_terminal_needs_yes() {
    let dir = std::env::temp_dir().join(unique("scribehook-purge-tty"));
    let uri = format!("file://{}", dir.display());
    let bin = env!("CARGO_BIN_EXE_scribehook");
    let run = |extra: &str| {
        std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{bin} purge --provider bota --subject rec_1{extra}"),
                "/dev/null",
            ])
            .env("ARCHIVE", &uri)
            .env("STORE", &uri)
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .stdin(std::process::Stdio::null())
            .output()
    };
    let Ok(refused) = run("") else {
        eprintln!("no `script` here: terminal check not exercised");
        return;
    };
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("--yes"),
        "{refused:?}"
    );
    assert!(!dir.exists(), "nothing was touched");
    let confirmed = run(" --yes").unwrap();
    assert!(confirmed.status.success(), "{confirmed:?}");
    assert!(String::from_utf8_lossy(&confirmed.stdout).contains("\"records_found\":0"));
}
