//! Daily's REST API, for batch-processor outputs kept in storage that is not ours to read
//! (docs/behaviour.md#daily-outputs): `GET {DAILY_API_URL}/batch-processor/{job id}/access-link` with
//! `Authorization: Bearer <key>` answers `{id, preset, status, transcription: [{format,
//! link}], summary: {format, link}, soap: {format, link}}`; each link is a short-lived
//! bearer URL, fetched without the key.
//!
//! The key and the links are secrets: neither is logged, put in an error or kept in a
//! record. Links are followed only over https to public addresses (to loopback only, and
//! only, when `DAILY_API_URL` is a loopback stand-in: [`reach`](super::reach)). Every
//! request has a connect, a read (each wait for bytes) and an overall timeout; bodies are
//! bounded as their bytes arrive. An answer not known to be final is retried.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::OnceCell;

use super::reach::{is_unreachable, Guarded, Reach};
use super::sources::{
    AccessLinkAnswer, AccessLinkSource, AccessLinks, FetchError, Link, LinkDownload,
};
use crate::config::{DailyApi, DailyApiKey, SecretValues};

/// What the access-link API answers are read up to (the answer is a few links).
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// A job id as one path segment. `.` is encoded too: a job id `..` must not climb to
/// another of the API's paths with the key attached.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// The waits every request to Daily (API or link) is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// Each wait for the answer's head or for the next bytes of its body.
    pub read: Duration,
    /// The whole request, body included.
    pub overall: Duration,
}

impl Default for HttpTimeouts {
    /// Below the processor function's 120 s timeout, with room for a few outputs.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            read: Duration::from_secs(10),
            overall: Duration::from_secs(30),
        }
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector<Guarded>>, Empty<Bytes>>;

/// Why a request was not answered: a retry may fix it, or it never can (the request cannot
/// be built, the link leads where links may not).
enum GetError {
    Retry(String),
    Refuse(String),
}

/// Daily's API over HTTPS (hyper + rustls); the client is built on first use (reading the
/// platform's root certificates then, not at start-up) and pools connections; the key is
/// read once (from Secrets Manager on first use).
pub struct DailyApiClient {
    url: String,
    key: DailyApiKey,
    secrets: Option<Arc<dyn SecretValues>>,
    cached_key: OnceCell<String>,
    /// Where links may lead, from `DAILY_API_URL` (a loopback stand-in or not).
    links: Reach,
    /// The client for Daily's API and the one for links, which resolves only to addresses
    /// links may reach.
    api_http: std::sync::OnceLock<Result<HttpClient, String>>,
    link_http: std::sync::OnceLock<Result<HttpClient, String>>,
    timeouts: HttpTimeouts,
}

impl DailyApiClient {
    pub fn new(api: &DailyApi, secrets: Option<Arc<dyn SecretValues>>) -> Self {
        Self::with_timeouts(api, secrets, HttpTimeouts::default())
    }

    pub fn with_timeouts(
        api: &DailyApi,
        secrets: Option<Arc<dyn SecretValues>>,
        timeouts: HttpTimeouts,
    ) -> Self {
        Self {
            url: api.url.trim_end_matches('/').to_owned(),
            key: api.key.clone(),
            secrets,
            cached_key: OnceCell::new(),
            links: Reach::of_links(&api.url),
            api_http: std::sync::OnceLock::new(),
            link_http: std::sync::OnceLock::new(),
            timeouts,
        }
    }

    async fn key(&self) -> Result<&str, String> {
        match &self.key {
            DailyApiKey::Env(key) => Ok(key),
            DailyApiKey::SecretsManager(arn) => self
                .cached_key
                .get_or_try_init(|| async {
                    let client = self
                        .secrets
                        .as_ref()
                        .ok_or_else(|| format!("no Secrets Manager client to read {arn}"))?;
                    let text = client
                        .secret_string(arn)
                        .await
                        .map_err(|e| format!("reading DAILY_API_KEY_ARN ({arn}): {e}"))?;
                    key_from_secret(&text)
                        .ok_or_else(|| format!("the secret DAILY_API_KEY_ARN ({arn}) holds no key"))
                })
                .await
                .map(String::as_str),
        }
    }

    /// GET `uri` from Daily's API with the key, or from a link without it (`bearer`
    /// `None`); the status and, for a 2xx, the body up to `max_bytes` (`Err(declared or read
    /// size)` past it).
    async fn get(
        &self,
        uri: http::Uri,
        bearer: Option<&str>,
        max_bytes: u64,
    ) -> Result<Reply, GetError> {
        let (cell, reach) = match bearer {
            Some(_) => (&self.api_http, Reach::Any),
            None => (&self.link_http, self.links),
        };
        let client = cell
            .get_or_init(|| http_client(self.timeouts.connect, reach))
            .as_ref()
            .map_err(|e| GetError::Retry(e.clone()))?;
        let mut request = http::Request::get(uri);
        if let Some(key) = bearer {
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    GetError::Retry("the Daily API key is not a valid header value".to_owned())
                })?;
            value.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request
            .body(Empty::new())
            .map_err(|_| GetError::Refuse("the request cannot be built".to_owned()))?;
        let t = self.timeouts;
        let exchange = async {
            let response = tokio::time::timeout(t.connect + t.read, client.request(request))
                .await
                .map_err(|_| format!("no answer within {} ms", (t.connect + t.read).as_millis()))
                .map_err(GetError::Retry)?
                .map_err(|e| {
                    if is_unreachable(&e) {
                        GetError::Refuse(format!("{}; not followed", super::reach::Unreachable))
                    } else {
                        GetError::Retry(format!(
                            "the request failed: {}",
                            crate::telemetry::error_chain(&e)
                        ))
                    }
                })?;
            let status = response.status().as_u16();
            if !response.status().is_success() {
                return Ok(Reply {
                    status,
                    body: Err(0),
                });
            }
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(size) = declared.filter(|size| *size > max_bytes) {
                return Ok(Reply {
                    status,
                    body: Err(size),
                });
            }
            let body = read_bounded(response.into_body(), max_bytes, t.read)
                .await
                .map_err(GetError::Retry)?;
            Ok(Reply { status, body })
        };
        tokio::time::timeout(t.overall, exchange)
            .await
            .map_err(|_| {
                GetError::Retry(format!("not complete within {} ms", t.overall.as_millis()))
            })?
    }
}

struct Reply {
    status: u16,
    body: Result<Vec<u8>, u64>,
}

/// The body, each wait for bytes bounded by `read`; `Ok(Err(n))` once more than
/// `max_bytes` arrived (nothing more is buffered).
async fn read_bounded(
    mut body: hyper::body::Incoming,
    max_bytes: u64,
    read: Duration,
) -> Result<Result<Vec<u8>, u64>, String> {
    let mut bytes = Vec::new();
    loop {
        let frame = tokio::time::timeout(read, body.frame())
            .await
            .map_err(|_| {
                format!(
                    "no bytes for {} ms while reading the body",
                    read.as_millis()
                )
            })?;
        let Some(frame) = frame else {
            return Ok(Ok(bytes));
        };
        let frame = frame
            .map_err(|e| format!("reading the body: {}", crate::telemetry::error_chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            let total = bytes.len() as u64 + data.len() as u64;
            if total > max_bytes {
                return Ok(Err(total));
            }
            bytes.extend_from_slice(&data);
        }
    }
}

fn http_client(connect: Duration, reach: Reach) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new_with_resolver(Guarded(reach));
    http.set_connect_timeout(Some(connect));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// The key in a secret: its text, or a JSON string, or a JSON object's `api_key`, `key` or
/// `DAILY_API_KEY`.
fn key_from_secret(text: &str) -> Option<String> {
    let text = text.trim();
    let key = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(key)) => key,
        Ok(serde_json::Value::Object(map)) => ["api_key", "key", "DAILY_API_KEY"]
            .iter()
            .find_map(|name| map.get(*name).and_then(serde_json::Value::as_str))?
            .to_owned(),
        _ => text.to_owned(),
    };
    let key = key.trim().to_owned();
    (!key.is_empty()).then_some(key)
}

/// Whether `DAILY_API_URL` may be called: https, or http to a loopback host (a local
/// stand-in).
pub fn is_followable(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => uri.host().is_some(),
        Some("http") => uri.host().is_some_and(super::reach::is_loopback_host),
        _ => false,
    }
}

#[async_trait]
impl AccessLinkSource for DailyApiClient {
    async fn access_links(&self, job_id: &str) -> Result<AccessLinkAnswer, FetchError> {
        let path = format!(
            "/batch-processor/{}/access-link",
            percent_encoding::utf8_percent_encode(job_id, SEGMENT)
        );
        let failed = |message: String| {
            FetchError::transient(format!("Daily's access-link API ({path})"), message)
        };
        let uri: http::Uri = match format!("{}{path}", self.url).parse() {
            Ok(uri) if is_followable(&uri) => uri,
            _ => {
                return Ok(AccessLinkAnswer::Refused(
                    "DAILY_API_URL is not an https URL (plain http only to a loopback host)".into(),
                ))
            }
        };
        let key = self.key().await.map_err(failed)?;
        let reply = match self.get(uri, Some(key), MAX_ANSWER_BYTES).await {
            Ok(reply) => reply,
            Err(GetError::Retry(message)) => return Err(failed(message)),
            Err(GetError::Refuse(reason)) => {
                return Ok(AccessLinkAnswer::Refused(format!(
                    "Daily's access-link API was not asked: {reason}"
                )))
            }
        };
        api_answer(reply, failed)
    }

    async fn download(&self, link: &Link, max_bytes: u64) -> Result<LinkDownload, FetchError> {
        let failed = |message: String| FetchError::transient("Daily's access link", message);
        let uri: http::Uri = match link.url().parse() {
            Ok(uri) if self.links.admits(&uri) => uri,
            _ => {
                return Ok(LinkDownload::Skipped(
                    "not fetched: the access link is not an https URL to a public address \
                     (nor, with a loopback DAILY_API_URL, a loopback URL); not followed"
                        .into(),
                ))
            }
        };
        let reply = match self.get(uri, None, max_bytes).await {
            Ok(reply) => reply,
            Err(GetError::Retry(message)) => return Err(failed(message)),
            Err(GetError::Refuse(reason)) => {
                return Ok(LinkDownload::Skipped(format!(
                    "not fetched: the access link: {reason}"
                )))
            }
        };
        match (reply.status, reply.body) {
            (200..=299, Ok(bytes)) => Ok(LinkDownload::Fetched(bytes)),
            (200..=299, Err(size)) => Ok(LinkDownload::Skipped(format!(
                "not fetched: the object is {}, more than MAX_OUTPUT_BYTES ({max_bytes})",
                if size > 0 {
                    format!("at least {size} bytes")
                } else {
                    "larger".into()
                }
            ))),
            (403, _) => Ok(LinkDownload::Expired),
            // Answers that say the object is not there, or not for this request: final.
            (status @ (300..=399 | 400 | 404 | 410 | 416), _) => Ok(LinkDownload::Skipped(
                format!("not fetched: the access link answered {status}"),
            )),
            // Anything else may pass (408, 429, 5xx, …): retried.
            (status, _) => Err(failed(format!("the access link answered {status}"))),
        }
    }
}

/// What an answer of the access-link API means (docs/behaviour.md#access-links): links,
/// a refusal no retry changes (the job is unknown or not finished), or a failure a retry
/// may fix (the key refused while the operator fixes it, and any answer not known to be
/// final: 408, 429, 5xx, …).
fn api_answer(
    reply: Reply,
    failed: impl Fn(String) -> FetchError,
) -> Result<AccessLinkAnswer, FetchError> {
    match (reply.status, reply.body) {
        (200..=299, Ok(body)) => match AccessLinks::from_answer(&body) {
            Ok(links) => Ok(AccessLinkAnswer::Links(links)),
            Err(reason) => Ok(AccessLinkAnswer::Refused(reason)),
        },
        (200..=299, Err(_)) => Ok(AccessLinkAnswer::Refused(format!(
            "Daily's access-link answer is larger than {MAX_ANSWER_BYTES} bytes"
        ))),
        (404, _) => Ok(AccessLinkAnswer::Refused(
            "Daily's access-link API does not know this job (404)".into(),
        )),
        (400, _) => Ok(AccessLinkAnswer::Refused(
            "Daily's access-link API says the job has not finished (400)".into(),
        )),
        (status @ 300..=399, _) => Ok(AccessLinkAnswer::Refused(format!(
            "Daily's access-link API answered {status}, a redirect, which is not followed"
        ))),
        (status @ (401 | 403), _) => {
            // Our own configuration: retried while the operator fixes it (docs/behaviour.md#failure-classes).
            tracing::error!(
                status,
                "Daily's API refused the key: check DAILY_API_KEY or DAILY_API_KEY_ARN"
            );
            Err(failed(format!("Daily's API refused the key ({status})")))
        }
        (status, _) => Err(failed(format!("Daily's API answered {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ArtifactKind;

    #[test]
    fn the_documented_answer_gives_every_link() {
        let body = br#"{"id":"j","preset":"soap-notes","status":"finished",
            "transcription":[{"format":"json","link":"https://x/t.json?sig=1"},
                             {"format":"WebVTT","link":"https://x/t.vtt?sig=2"}],
            "summary":{"format":"text","link":"https://x/s?sig=3"},
            "soap":{"format":"json","link":"https://x/soap?sig=4"}}"#;
        let links = AccessLinks::from_answer(body).unwrap();
        assert_eq!(links.links.len(), 4);
        let vtt = links.find(ArtifactKind::Transcript, "vtt").unwrap();
        assert_eq!(vtt.url(), "https://x/t.vtt?sig=2");
        assert!(links.find(ArtifactKind::Transcript, "srt").is_none());
        assert_eq!(
            links.find(ArtifactKind::Summary, "txt").unwrap().url(),
            "https://x/s?sig=3"
        );
        assert!(links.find(ArtifactKind::Concepts, "json").is_none());
        assert!(!format!("{vtt:?}").contains("sig"));
    }

    #[test]
    fn the_api_url_is_https_or_a_loopback_stand_in() {
        for (url, ok) in [
            ("https://api.daily.co/v1", true),
            ("http://127.0.0.1:9000/v1", true),
            ("http://[::1]:9000/v1", true),
            ("http://localhost/v1", true),
            ("http://example.com/v1", false),
            ("http://127.0.0.1.example.com/v1", false),
            ("ftp://127.0.0.1/v1", false),
        ] {
            assert_eq!(is_followable(&url.parse().unwrap()), ok, "{url}");
        }
    }

    struct CountingSecrets(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl SecretValues for CountingSecrets {
        async fn secret_string(&self, arn: &str) -> Result<String, String> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(arn, "arn:aws:secretsmanager:us-east-1:1:secret:daily");
            Ok(r#"{"api_key":"from-secrets-manager"}"#.into())
        }
    }

    #[tokio::test]
    async fn a_key_in_secrets_manager_is_read_once() {
        let secrets = Arc::new(CountingSecrets(Default::default()));
        let api = DailyApi {
            url: "https://api.daily.co/v1".into(),
            key: DailyApiKey::SecretsManager(
                "arn:aws:secretsmanager:us-east-1:1:secret:daily".into(),
            ),
        };
        let client = DailyApiClient::new(&api, Some(secrets.clone()));
        assert_eq!(client.key().await.unwrap(), "from-secrets-manager");
        assert_eq!(client.key().await.unwrap(), "from-secrets-manager");
        assert_eq!(secrets.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let without = DailyApiClient::new(&api, None);
        assert!(without.key().await.is_err());
    }

    #[test]
    fn secrets_hold_the_key_as_text_or_json() {
        assert_eq!(key_from_secret(" abc \n").as_deref(), Some("abc"));
        assert_eq!(key_from_secret(r#""abc""#).as_deref(), Some("abc"));
        assert_eq!(
            key_from_secret(r#"{"api_key":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(key_from_secret(""), None);
        assert_eq!(key_from_secret(r#"{"other":"abc"}"#), None);
    }
}
