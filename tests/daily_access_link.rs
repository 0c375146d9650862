//! docs/behaviour.md#daily-outputs on the real ingest and processor handlers: a Daily batch job whose outputs
//! sit in Daily's own bucket (not in ALLOWED_OUTPUT_BUCKETS) is fetched through Daily's
//! access-link API, played by a local stand-in on 127.0.0.1 that serves the documented
//! answer (`{id, preset, status, transcription: [{format, link}], summary, soap}`) and the
//! files behind the links. The records land in a file store.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use scribehook::aws::S3Outputs;
use scribehook::config::Config;
use scribehook::entrypoints::app;
use scribehook::entrypoints::lambda::processor_handler;
use scribehook::pipeline::ingest::{Dispatch, Queue};
use scribehook::pipeline::process::Processor;
use scribehook::providers::daily::access_link::{DailyApiClient, HttpTimeouts};
use scribehook::providers::daily::outputs::Fetcher;
use scribehook::storage::records::BlobRecordStore;
use scribehook::storage::StoreError;
use scribehook::Provider;
use serde_json::{json, Value};

const KEY: &str = "test-daily-api-key-7f3a";
/// Part of every link's query string: a link is a bearer URL, so this must never show.
const SIGNATURE: &str = "X-Amz-Signature=deadbeefsecret";
const SAMPLE_JOB: &str = "1dae15c5-8a5b-4a5e-9b38-2b6e3f4c7d10";
const DAILY_BUCKET: &str = "daily-co-batch-processor-qa-us-west-2";
const MAX_OUTPUT_BYTES: u64 = 64 * 1024;

// ---------------------------------------------------------------------------------------
// The stand-in for Daily's API and for the storage behind its links

/// Every request the stand-in saw: path (with query) and Authorization header.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
    answers: HashMap<String, usize>,
}

struct StandIn {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl StandIn {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(addr, &state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn { addr, seen }
    }

    fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn api_requests(&self) -> Vec<(String, Option<String>)> {
        self.requests(|path| path.starts_with("/v1/"))
    }

    fn file_requests(&self) -> Vec<(String, Option<String>)> {
        self.requests(|path| path.starts_with("/files/"))
    }

    fn requests(&self, filter: impl Fn(&str) -> bool) -> Vec<(String, Option<String>)> {
        let seen = self.seen.lock().unwrap();
        seen.requests
            .iter()
            .filter(|(path, _)| filter(path))
            .cloned()
            .collect()
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn reply(status: u16, body: impl Into<Bytes>) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    response
}

async fn answer(
    addr: SocketAddr,
    state: &Mutex<Seen>,
    request: http::Request<Incoming>,
) -> http::Response<Body> {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    state
        .lock()
        .unwrap()
        .requests
        .push((path.clone(), authorization.clone()));
    let segments: Vec<&str> = path.split('?').next().unwrap().split('/').collect();
    match segments.as_slice() {
        ["", "v1", "batch-processor", job, "access-link"] => {
            if authorization.as_deref() != Some(&format!("Bearer {KEY}")) {
                return reply(401, r#"{"error":"authentication-error"}"#);
            }
            let generation = {
                let mut seen = state.lock().unwrap();
                let n = seen.answers.entry(job.to_string()).or_default();
                *n += 1;
                *n
            };
            access_link(addr, job, generation)
        }
        ["", "files", job, generation, name] => {
            if authorization.is_some() {
                // The key must never travel with a link.
                return reply(400, "unexpected Authorization header");
            }
            file(job, generation, name).await
        }
        _ => reply(404, "no such route"),
    }
}

/// The documented access-link answer, or the API's refusals, by the job id's prefix.
fn access_link(addr: SocketAddr, job: &str, generation: usize) -> http::Response<Body> {
    let prefix = job.split('-').next().unwrap_or_default();
    match prefix {
        "unknown" => return reply(404, r#"{"error":"not-found","info":"job not found"}"#),
        "running" => return reply(400, r#"{"error":"invalid-request-error"}"#),
        "busy" => return reply(503, "try later"),
        "timeout" => return reply(408, "request timeout"),
        _ => {}
    }
    let base = match prefix {
        "plain" => "http://example.com".to_owned(),
        // Addresses no link may reach: private, link-local (the instance metadata service).
        "private" => "https://10.0.0.1".to_owned(),
        "metadata" => "https://169.254.169.254".to_owned(),
        _ => format!("http://{addr}"),
    };
    let link =
        |name: &str| format!("{base}/files/{job}/{generation}/{name}?{SIGNATURE}{generation}");
    let transcription: Vec<Value> = ["json", "vtt", "srt", "txt"]
        .iter()
        .map(|f| json!({"format": f, "link": link(&format!("transcript.{f}"))}))
        .collect();
    let answer = json!({
        "id": job,
        "preset": "soap-notes",
        "status": "finished",
        "transcription": transcription,
        "summary": {"format": "txt", "link": link("summary.txt")},
        "soap": {"format": "json", "link": link("soap.json")},
    });
    reply(200, answer.to_string())
}

async fn file(job: &str, generation: &str, name: &str) -> http::Response<Body> {
    let prefix = job.split('-').next().unwrap_or_default();
    match (prefix, generation, name) {
        ("expired", "1", _) | ("stale", _, _) => return reply(403, "Request has expired"),
        ("slow", _, "transcript.json") => {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        ("big", _, "transcript.json") => {
            // Streamed without a Content-Length: the bound must hold as bytes arrive.
            let chunks = (0..50).map(|_| Ok(Frame::data(Bytes::from(vec![b' '; 4096]))));
            let body = StreamBody::new(futures_util::stream::iter(chunks));
            return http::Response::new(BodyExt::boxed(body));
        }
        _ => {}
    }
    match std::fs::read(outputs_dir().join(name)) {
        Ok(bytes) => reply(200, bytes),
        Err(_) => reply(404, "NoSuchKey"),
    }
}

fn outputs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events/outputs")
}

// ---------------------------------------------------------------------------------------
// The product: the real ingest queueing to a list, the real processor handler

#[derive(Default)]
struct Collected(Mutex<Vec<String>>);

#[async_trait]
impl Queue for Collected {
    async fn send(&self, message: String) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(message);
        Ok(())
    }
}

struct Deployment {
    dir: PathBuf,
    config: Config,
    clients: app::Clients,
}

impl Deployment {
    fn new(api_url: Option<&str>, key: &str) -> Self {
        let dir = std::env::temp_dir().join(unique("scribehook-access-link"));
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("ARCHIVE", format!("file://{}", dir.display()));
        vars.insert("STORE", format!("file://{}", dir.display()));
        vars.insert("ALLOWED_OUTPUT_BUCKETS", "our-own-outputs".into());
        vars.insert("MAX_OUTPUT_BYTES", MAX_OUTPUT_BYTES.to_string());
        if let Some(url) = api_url {
            vars.insert("DAILY_API_KEY", key.into());
            vars.insert("DAILY_API_URL", url.into());
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let clients = app::Clients::from_sdk_config(&sdk);
        Deployment {
            dir,
            config,
            clients,
        }
    }

    /// The processor as deployed (`app::processor`: default timeouts).
    async fn processor(&self) -> Processor {
        app::processor(&self.config, &self.clients).await
    }

    /// The same processor with short HTTP timeouts (a slow link fails fast).
    async fn impatient_processor(&self) -> Processor {
        let api = self.config.daily_api.as_ref().unwrap();
        let timeouts = HttpTimeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_millis(300),
            overall: Duration::from_secs(3),
        };
        let fetcher = Fetcher::new(
            Arc::new(S3Outputs::new(self.clients.clone())),
            self.config.allowed_output_buckets.clone(),
            self.config.max_output_bytes,
        )
        .with_access_links(Arc::new(DailyApiClient::with_timeouts(api, None, timeouts)));
        let archive = app::archive(&self.config, &self.clients).await;
        let stores = app::record_stores(&self.config, &self.clients).await;
        Processor::new(archive, stores, fetcher)
    }

    /// Delivers the sample job-finished event renamed to `job` through the real ingest,
    /// then hands what it queued to the real processor handler; the message ids it
    /// reported failed (to be retried).
    async fn run(&self, processor: &Processor, job: &str) -> Vec<String> {
        let body = String::from_utf8(payload(Provider::Daily, "batch-processor.job-finished"))
            .unwrap()
            .replace(SAMPLE_JOB, job)
            .into_bytes();
        self.run_body(processor, &body).await
    }

    /// [`Self::run`] with a body of its own.
    async fn run_body(&self, processor: &Processor, body: &[u8]) -> Vec<String> {
        let queue = Arc::new(Collected::default());
        let ingest = ingest_with(
            all_secrets(),
            app::archive(&self.config, &self.clients).await,
            Dispatch::Queue(queue.clone()),
            256 * 1024,
        );
        let body = body.to_vec();
        let headers = signed_headers(Provider::Daily, &body, None, None);
        let request = apigw_v2("POST", "/webhooks/daily", &headers, &body, false);
        let (status, reply, _) = invoke(&ingest, request).await;
        assert_eq!(status, 200, "{reply}");
        let messages = queue.0.lock().unwrap().clone();
        assert_eq!(messages.len(), 1);
        let records: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, body)| {
                json!({"messageId": format!("m{i}"), "receiptHandle": "r", "body": body,
                       "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"})
            })
            .collect();
        let event = lambda_event(json!({ "Records": records }));
        let response = processor_handler(processor, event).await.unwrap();
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    fn record(&self, job: &str) -> Option<Value> {
        let path = self
            .dir
            .join(BlobRecordStore::record_key(Provider::Daily, job));
        let bytes = std::fs::read(path).ok()?;
        Some(serde_json::from_slice(&bytes).unwrap())
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn artifact<'a>(record: &'a Value, suffix: &str) -> &'a Value {
    record["components"]["job"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["location"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("an artifact ending {suffix}"))
}

fn sha256_of(name: &str) -> String {
    scribehook::signature::sha256_hex(&std::fs::read(outputs_dir().join(name)).unwrap())
}

/// Everything logged on this thread (at every level, dependencies' traces included) while
/// the guard lives.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Neither the key nor any link shows in `text`.
fn assert_no_secrets(text: &str) {
    assert!(!text.contains(KEY), "the key leaked: {text}");
    assert!(!text.contains("X-Amz-Signature"), "a link leaked: {text}");
    assert!(!text.contains("/files/"), "a link leaked: {text}");
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn outputs_in_dailys_bucket_are_fetched_through_the_access_link() {
    let (logs, _guard) = Logs::capture();
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let job = "ok-1dae15c5";
    let failed = deployment.run(&deployment.processor().await, job).await;
    assert!(failed.is_empty(), "{failed:?}");
    let record = deployment.record(job).expect("the job's record");

    // One access-link request for the whole job, with the key; the links without it.
    let api = stand_in.api_requests();
    assert_eq!(
        api,
        [(
            format!("/v1/batch-processor/{job}/access-link"),
            Some(format!("Bearer {KEY}"))
        )]
    );
    let files = stand_in.file_requests();
    assert!(files.iter().all(|(_, auth)| auth.is_none()), "{files:?}");
    let fetched: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap().split('?').next().unwrap())
        .collect();
    assert_eq!(fetched, ["soap.json", "summary.txt", "transcript.json"]);

    // Fetched ones keep their location in Daily's bucket and say how they were read.
    for (suffix, name) in [
        ("/soap/soap.json", "soap.json"),
        ("/transcript/soap", "summary.txt"),
        ("/transcript/soap.json", "transcript.json"),
    ] {
        let a = artifact(&record, suffix);
        assert_eq!(a["fetched"], true, "{a}");
        assert_eq!(a["via"], "access-link", "{a}");
        assert!(a["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("s3://{DAILY_BUCKET}/")));
        assert_eq!(a["sha256"], sha256_of(name), "{a}");
        assert!(a.get("reason").is_none(), "{a}");
    }
    // The documented answer has no concepts link: the artifact says so.
    let concepts = artifact(&record, "/concepts/concepts.json");
    assert_eq!(concepts["fetched"], false);
    assert!(concepts.get("via").is_none());
    let reason = concepts["reason"].as_str().unwrap();
    assert!(reason.contains("no concepts link"), "{reason}");
    // Renditions not needed are not fetched.
    let vtt = artifact(&record, "/transcript/soap.vtt");
    assert_eq!(vtt["fetched"], false);
    assert!(vtt["reason"].as_str().unwrap().contains("json rendition"));

    // The content is in the record.
    let c = &record["components"];
    assert!(c["note"]["note"]["sections"].as_array().unwrap().len() >= 2);
    assert!(!c["transcript"]["transcript"]["segments"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(c["summary"]["summary"]["text"].as_str().unwrap().len() > 20);

    assert_no_secrets(&record.to_string());
    assert_no_secrets(&logs.text());
}

#[tokio::test]
async fn an_expired_link_is_asked_for_afresh_once() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let processor = deployment.impatient_processor().await;

    // The first links have expired (403); the fresh ones work.
    let job = "expired-1";
    assert!(deployment.run(&processor, job).await.is_empty());
    let record = deployment.record(job).unwrap();
    for suffix in [
        "/soap/soap.json",
        "/transcript/soap",
        "/transcript/soap.json",
    ] {
        let a = artifact(&record, suffix);
        assert_eq!(a["fetched"], true, "{a}");
        assert_eq!(a["via"], "access-link", "{a}");
    }
    assert_eq!(
        stand_in.api_requests().len(),
        2,
        "one fresh answer, no more"
    );

    // Links that stay expired: asked afresh once, then the artifacts say why.
    let (logs, _guard) = Logs::capture();
    let job = "stale-1";
    assert!(deployment.run(&processor, job).await.is_empty());
    let record = deployment.record(job).unwrap();
    let stale_api: Vec<_> = stand_in
        .api_requests()
        .into_iter()
        .filter(|(p, _)| p.contains(job))
        .collect();
    assert_eq!(stale_api.len(), 2);
    for suffix in [
        "/soap/soap.json",
        "/transcript/soap",
        "/transcript/soap.json",
    ] {
        let a = artifact(&record, suffix);
        assert_eq!(a["fetched"], false, "{a}");
        let reason = a["reason"].as_str().unwrap();
        assert!(reason.contains("403"), "{reason}");
    }
    // Every rendition was tried, in order, and each says what happened.
    for suffix in [
        "/transcript/soap.vtt",
        "/transcript/soap.srt",
        "/transcript/soap.txt",
    ] {
        let reason = artifact(&record, suffix)["reason"].as_str().unwrap();
        assert!(reason.contains("403"), "{suffix}: {reason}");
    }
    assert_no_secrets(&record.to_string());
    assert_no_secrets(&logs.text());
}

#[tokio::test]
async fn a_slow_link_is_retried() {
    let (logs, _guard) = Logs::capture();
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let started = std::time::Instant::now();
    let failed = deployment
        .run(&deployment.impatient_processor().await, "slow-1")
        .await;
    assert_eq!(
        failed,
        ["m0"],
        "a timeout is retried (the message is reported failed)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        deployment.record("slow-1").is_none(),
        "nothing half-written"
    );
    let text = logs.text();
    assert!(
        text.contains("Daily's access link: no answer within"),
        "{text}"
    );
    assert_no_secrets(&text);
}

#[tokio::test]
async fn the_apis_refusals_are_recorded_or_retried_as_contract_8_says() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let processor = deployment.impatient_processor().await;
    for (job, expected) in [("unknown-1", "404"), ("running-1", "400")] {
        assert!(deployment.run(&processor, job).await.is_empty(), "{job}");
        let record = deployment.record(job).unwrap();
        for a in record["components"]["job"]["artifacts"].as_array().unwrap() {
            assert_eq!(a["fetched"], false, "{a}");
            let reason = a["reason"].as_str().unwrap();
            assert!(reason.contains(expected), "{job}: {reason}");
        }
        let asked = stand_in
            .api_requests()
            .iter()
            .filter(|(p, _)| p.contains(job))
            .count();
        assert_eq!(asked, 1, "{job}: one request per job, not per artifact");
    }
    // 5xx: retried, nothing recorded yet.
    assert_eq!(deployment.run(&processor, "busy-1").await, ["m0"]);
    assert!(deployment.record("busy-1").is_none());
    // A key Daily refuses is the operator's to fix: retried meanwhile.
    let wrong = Deployment::new(Some(&stand_in.api_url()), "not-the-key");
    assert_eq!(
        wrong.run(&wrong.impatient_processor().await, "ok-2").await,
        ["m0"]
    );
    // Plain http to anything but loopback is not followed.
    assert!(deployment.run(&processor, "plain-1").await.is_empty());
    let record = deployment.record("plain-1").unwrap();
    let reason = artifact(&record, "/soap/soap.json")["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("not an https URL"), "{reason}");
    assert!(!stand_in
        .file_requests()
        .iter()
        .any(|(p, _)| p.contains("plain")));
}

#[tokio::test]
async fn an_oversize_rendition_gives_way_to_the_next() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let job = "big-1";
    assert!(deployment
        .run(&deployment.impatient_processor().await, job)
        .await
        .is_empty());
    let record = deployment.record(job).unwrap();
    let json = artifact(&record, "/transcript/soap.json");
    assert_eq!(json["fetched"], false, "{json}");
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("MAX_OUTPUT_BYTES"), "{reason}");
    let vtt = artifact(&record, "/transcript/soap.vtt");
    assert_eq!(vtt["fetched"], true, "{vtt}");
    assert_eq!(vtt["via"], "access-link");
    assert_eq!(vtt["sha256"], sha256_of("transcript.vtt"));
    assert!(record["components"]["transcript"]["transcript"]["segments"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(stand_in.api_requests().len(), 1);
}

#[tokio::test]
async fn without_a_key_outputs_elsewhere_say_why() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(None, KEY);
    assert!(deployment
        .run(&deployment.processor().await, "ok-3")
        .await
        .is_empty());
    let record = deployment.record("ok-3").unwrap();
    for a in record["components"]["job"]["artifacts"].as_array().unwrap() {
        assert_eq!(a["fetched"], false, "{a}");
        let reason = a["reason"].as_str().unwrap();
        assert!(reason.contains("ALLOWED_OUTPUT_BUCKETS"), "{reason}");
    }
    assert!(stand_in.api_requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// Issue 17: what is a link, what is a job id, what is a failure

/// 17.10: a job id of dots is one path segment, not a step up the API's path.
#[tokio::test]
async fn a_job_id_of_dots_stays_one_path_segment() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let processor = deployment.impatient_processor().await;
    for job in ["..", "."] {
        deployment.run(&processor, job).await;
    }
    let paths: Vec<String> = stand_in
        .api_requests()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/batch-processor/%2E%2E/access-link",
            "/v1/batch-processor/%2E/access-link"
        ]
    );
}

/// 17.10: links to private or link-local addresses are not followed (with a loopback
/// stand-in as DAILY_API_URL, only loopback links are); the artifact says why, and the
/// message is not retried.
#[tokio::test]
async fn links_to_private_addresses_are_not_followed() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let processor = deployment.impatient_processor().await;
    for job in ["private-1", "metadata-1"] {
        assert!(deployment.run(&processor, job).await.is_empty(), "{job}");
        let record = deployment.record(job).unwrap();
        for a in record["components"]["job"]["artifacts"].as_array().unwrap() {
            assert_eq!(a["fetched"], false, "{a}");
        }
        // Every output with a link (the answer has none for concepts) says why.
        for suffix in [
            "/soap/soap.json",
            "/transcript/soap",
            "/transcript/soap.json",
        ] {
            let reason = artifact(&record, suffix)["reason"].as_str().unwrap();
            assert!(reason.contains("not followed"), "{job}: {reason}");
        }
    }
    assert!(stand_in.file_requests().is_empty());
}

/// 17.10: with Daily's real API (not a loopback stand-in), a link is followed only over
/// https to a public address: plain http to loopback, https to a loopback address or to a
/// name that resolves to one are refused before any request.
#[tokio::test]
async fn in_production_only_https_links_to_public_addresses_are_followed() {
    use scribehook::config::{DailyApi, DailyApiKey};
    use scribehook::providers::daily::sources::{AccessLinkSource, Link, LinkDownload};
    use scribehook::record::ArtifactKind;
    let stand_in = StandIn::start().await;
    let api = DailyApi {
        url: "https://api.daily.co/v1".into(),
        key: DailyApiKey::Env(KEY.into()),
    };
    let timeouts = HttpTimeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_millis(300),
        overall: Duration::from_secs(3),
    };
    let client = DailyApiClient::with_timeouts(&api, None, timeouts);
    let port = stand_in.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/files/ok-9/1/soap.json"),
        format!("http://localhost:{port}/files/ok-9/1/soap.json"),
        format!("https://127.0.0.1:{port}/files/ok-9/1/soap.json"),
        format!("https://[::1]:{port}/files/ok-9/1/soap.json"),
        format!("https://localhost:{port}/files/ok-9/1/soap.json"),
        "https://10.1.2.3/files/ok-9/1/soap.json".to_owned(),
        "https://192.168.0.1/files/ok-9/1/soap.json".to_owned(),
        "https://[fd00::1]/files/ok-9/1/soap.json".to_owned(),
        "https://[::ffff:127.0.0.1]/files/ok-9/1/soap.json".to_owned(),
    ] {
        let link = Link::new(ArtifactKind::Soap, Some("json"), url.clone());
        match client.download(&link, MAX_OUTPUT_BYTES).await {
            Ok(LinkDownload::Skipped(reason)) => {
                assert!(reason.contains("not followed"), "{url}: {reason}");
                assert!(!reason.contains("files/"), "{url}: {reason}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(stand_in.file_requests().is_empty());
}

/// 17.6: an answer of Daily's API that is not known to be final (408 here) is retried.
#[tokio::test]
async fn an_unexpected_status_from_dailys_api_is_retried() {
    let stand_in = StandIn::start().await;
    let deployment = Deployment::new(Some(&stand_in.api_url()), KEY);
    let processor = deployment.impatient_processor().await;
    assert_eq!(deployment.run(&processor, "timeout-1").await, ["m0"]);
    assert!(deployment.record("timeout-1").is_none());
}

/// 17.5: an output the SDK cannot even ask for (an empty key, a region that is no
/// region) is recorded on the job, not retried forever.
#[tokio::test]
async fn outputs_that_cannot_be_asked_for_are_recorded_not_retried() {
    let deployment = Deployment::new(None, KEY);
    let processor = deployment.processor().await;
    let sample = String::from_utf8(payload(Provider::Daily, "batch-processor.job-finished"))
        .unwrap()
        .replace(DAILY_BUCKET, "our-own-outputs");
    let no_key = with_every_key(&sample, "");
    let bad_region = sample.replace("\"us-west-2\"", "\"not a region!\"");
    for (job, body) in [("nokey-1", no_key), ("badregion-1", bad_region)] {
        let body = body.replace(SAMPLE_JOB, job);
        let failed = deployment.run_body(&processor, body.as_bytes()).await;
        assert!(failed.is_empty(), "{job}: retried");
        let record = deployment.record(job).unwrap();
        for a in record["components"]["job"]["artifacts"].as_array().unwrap() {
            assert_eq!(a["fetched"], false, "{a}");
            assert!(
                a["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("not fetched")),
                "{a}"
            );
        }
    }
}

/// The sample with every `"key": "…"` emptied.
fn with_every_key(sample: &str, with: &str) -> String {
    sample
        .lines()
        .map(|line| match line.split_once("\"key\": ") {
            Some((indent, _)) => format!("{indent}\"key\": \"{with}\","),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
