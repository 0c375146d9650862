//! What Daily's output fetcher needs of the world, as capabilities: reading an S3 object
//! ([`OutputSource`], implemented on the AWS SDK in `aws`) and Daily's access-link API
//! ([`AccessLinkSource`], implemented in [`access_link`](super::access_link)), with the
//! values they answer. The fetcher (`outputs`) depends on these, never on the clients.

use async_trait::async_trait;

use crate::record::ArtifactKind;

/// An output that could not be read for a reason a retry may fix: the message is retried.
#[derive(Debug, thiserror::Error)]
#[error("fetching {location}: {message}")]
pub struct FetchError {
    pub location: String,
    pub message: String,
    /// One of our own (allow-listed) output buckets is missing or forbidden: the
    /// operator's to fix, counted and explained (docs/behaviour.md#failure-classes).
    pub operator: bool,
}

impl FetchError {
    /// A failure a retry may fix by itself (a timeout, throttling, a 5xx).
    pub fn transient(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
            operator: false,
        }
    }

    /// A failure only the operator can fix (AccessDenied, NoSuchBucket on an allow-listed
    /// bucket); retried meanwhile.
    pub fn operator(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            operator: true,
            ..Self::transient(location, message)
        }
    }
}

/// What reading one output object gave.
#[derive(Debug)]
pub enum Download {
    Fetched(Vec<u8>),
    /// Not fetched, for a reason no retry changes (no such key, access denied, too
    /// large): the artifact records it.
    Skipped(String),
}

/// The capability the fetcher needs of S3: read one object, never buffering more than
/// `max_bytes`. Errors a retry may fix are `Err`; the others are [`Download::Skipped`].
#[async_trait]
pub trait OutputSource: Send + Sync {
    async fn read(
        &self,
        bucket: &str,
        key: &str,
        region: Option<&str>,
        max_bytes: u64,
    ) -> Result<Download, FetchError>;
}

/// One output link of an access-link answer. The URL is a bearer secret: it is never
/// printed (its `Debug` leaves it out).
#[derive(Clone)]
pub struct Link {
    pub kind: ArtifactKind,
    /// Normalized: lower case, `text` as `txt`, `webvtt` as `vtt`.
    pub format: Option<String>,
    url: String,
}

impl Link {
    pub fn new(kind: ArtifactKind, format: Option<&str>, url: impl Into<String>) -> Self {
        Self {
            kind,
            format: format.map(normalize_format).filter(|f| !f.is_empty()),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Link({:?}, {:?}, <redacted>)", self.kind, self.format)
    }
}

/// A format as Daily or the webhook names it, in one spelling.
pub fn normalize_format(format: &str) -> String {
    let f = format.trim().trim_start_matches('.').to_ascii_lowercase();
    match f.as_str() {
        "text" | "plain" | "text/plain" => "txt".into(),
        "webvtt" | "text/vtt" => "vtt".into(),
        "application/json" => "json".into(),
        _ => f,
    }
}

/// The links one access-link answer gave.
#[derive(Clone, Debug, Default)]
pub struct AccessLinks {
    pub links: Vec<Link>,
}

impl AccessLinks {
    /// Reads an answer's body: every `{format, link}` (alone or in a list) under the
    /// names Daily uses for each kind; anything else is ignored.
    pub fn from_answer(body: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("Daily's access-link answer is not JSON (line {})", e.line()))?;
        let names: [(ArtifactKind, &[&str]); 4] = [
            (ArtifactKind::Soap, &["soap"]),
            (ArtifactKind::Concepts, &["concept", "concepts"]),
            (ArtifactKind::Summary, &["summary"]),
            (
                ArtifactKind::Transcript,
                &["transcription", "transcript", "transcripts"],
            ),
        ];
        let mut links = Vec::new();
        for (kind, fields) in names {
            for field in fields {
                let entries = match value.get(field) {
                    Some(serde_json::Value::Array(items)) => items.iter().collect(),
                    Some(entry) => vec![entry],
                    None => vec![],
                };
                for entry in entries {
                    if let Some(url) = entry.get("link").and_then(serde_json::Value::as_str) {
                        let format = entry.get("format").and_then(serde_json::Value::as_str);
                        links.push(Link::new(kind, format, url));
                    }
                }
            }
        }
        Ok(Self { links })
    }

    /// The link for an output of `kind` in `format`: the one of that format, or the only
    /// one of that kind when its format is not named (or, except for transcripts, whatever
    /// it is named: there is one SOAP note, one summary).
    pub fn find(&self, kind: ArtifactKind, format: &str) -> Option<&Link> {
        let format = normalize_format(format);
        let of_kind: Vec<&Link> = self.links.iter().filter(|l| l.kind == kind).collect();
        if let Some(exact) = of_kind
            .iter()
            .find(|l| l.format.as_deref() == Some(format.as_str()))
        {
            return Some(exact);
        }
        match of_kind.as_slice() {
            [only] if only.format.is_none() || kind != ArtifactKind::Transcript => Some(only),
            _ => None,
        }
    }
}

/// What the access-link API said about a job.
#[derive(Clone, Debug)]
pub enum AccessLinkAnswer {
    Links(AccessLinks),
    /// An answer no retry changes (404 unknown job, 400 not finished, …): the reason each
    /// artifact records, without "not fetched: ".
    Refused(String),
}

/// What following one link gave.
#[derive(Debug)]
pub enum LinkDownload {
    Fetched(Vec<u8>),
    /// 403: the link has expired; a fresh one may work.
    Expired,
    /// Not fetched for a reason no retry changes (the artifact records it).
    Skipped(String),
}

/// The capability the fetcher needs of Daily's REST API. `Err` is for what a retry may fix
/// (5xx, 429, timeouts, network errors, a key that cannot be read yet).
#[async_trait]
pub trait AccessLinkSource: Send + Sync {
    async fn access_links(&self, job_id: &str) -> Result<AccessLinkAnswer, FetchError>;
    async fn download(&self, link: &Link, max_bytes: u64) -> Result<LinkDownload, FetchError>;
}
