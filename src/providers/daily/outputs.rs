//! Reading the S3 outputs a Daily event points to (SOAP note, concepts, summary,
//! transcription files) into the normalized event. Only buckets in
//! `ALLOWED_OUTPUT_BUCKETS` are read with S3, in the region the event names; a batch
//! job's outputs elsewhere (Daily's own bucket) are read through Daily's access links
//! when a Daily API key is configured (docs/behaviour.md#daily-outputs, [`access_link`](super::access_link)). No object
//! larger than `MAX_OUTPUT_BYTES` is read; anything not fetched says why in its artifact.
//!
//! Errors that a retry can fix (throttling, 5xx, timeouts) are returned so the SQS message
//! is retried; errors that it cannot (no such key, access denied, a file we cannot parse)
//! are recorded in the artifact's `reason` and processing goes on.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::sources::{
    AccessLinkAnswer, AccessLinkSource, Download, FetchError, LinkDownload, OutputSource,
};
use super::transcript::{self, TranscriptFormat};
use crate::record::{Artifact, ArtifactKind, NormalizedEvent, Provider, Summary};
use crate::telemetry::{self, Metric};

pub struct Fetcher {
    source: Arc<dyn OutputSource>,
    allowed_buckets: Vec<String>,
    max_bytes: u64,
    access_links: Option<Arc<dyn AccessLinkSource>>,
}

/// What an artifact's `via` says when it was read through Daily's access link.
pub const VIA_ACCESS_LINK: &str = "access-link";

/// One job's access links, asked for once (and afresh at most once, after a 403).
struct JobLinks {
    job_id: Option<String>,
    answer: Option<AccessLinkAnswer>,
    refreshed: bool,
}

impl JobLinks {
    /// The batch-processor job whose access links may stand in for unreadable outputs.
    fn of(event: &NormalizedEvent) -> Self {
        let job_id = (event.provider == Provider::Daily
            && event.event_type.starts_with("batch-processor."))
        .then(|| event.related.get("job_id").cloned())
        .flatten();
        Self {
            job_id,
            answer: None,
            refreshed: false,
        }
    }

    async fn answer(
        &mut self,
        api: &dyn AccessLinkSource,
        job_id: &str,
    ) -> Result<&AccessLinkAnswer, FetchError> {
        let answer = match self.answer.take() {
            Some(answer) => answer,
            None => api.access_links(job_id).await?,
        };
        Ok(self.answer.insert(answer))
    }
}

/// Transcript renditions in order of preference: Deepgram JSON carries speakers and
/// confidences; the others are progressively poorer views of the same words.
const PREFERENCE: [TranscriptFormat; 4] = [
    TranscriptFormat::DeepgramJson,
    TranscriptFormat::WebVtt,
    TranscriptFormat::Srt,
    TranscriptFormat::Text,
];

impl Fetcher {
    pub fn new(
        source: Arc<dyn OutputSource>,
        allowed_buckets: Vec<String>,
        max_bytes: u64,
    ) -> Self {
        Self {
            source,
            allowed_buckets,
            max_bytes,
            access_links: None,
        }
    }

    /// The same fetcher reading batch-job outputs outside `ALLOWED_OUTPUT_BUCKETS` through
    /// Daily's access links (docs/behaviour.md#daily-outputs).
    pub fn with_access_links(mut self, api: Arc<dyn AccessLinkSource>) -> Self {
        self.access_links = Some(api);
        self
    }

    /// Fetches and parses every artifact of `event`, filling in its transcript, note,
    /// summary and concepts. Transcript renditions are tried in order of preference until
    /// one can be fetched and read (docs/behaviour.md#daily-outputs); every artifact's `reason` says what
    /// happened to it. Artifacts already fetched are left alone.
    pub async fn enrich(&self, event: &mut NormalizedEvent) -> Result<(), FetchError> {
        let Some(mut artifacts) = event.content.artifacts.take() else {
            return Ok(());
        };
        let mut links = JobLinks::of(event);
        let result = self.enrich_all(event, &mut artifacts, &mut links).await;
        event.content.artifacts = Some(artifacts);
        result
    }

    async fn enrich_all(
        &self,
        event: &mut NormalizedEvent,
        artifacts: &mut [Artifact],
        links: &mut JobLinks,
    ) -> Result<(), FetchError> {
        for artifact in artifacts.iter_mut() {
            if artifact.kind != ArtifactKind::Transcript && !artifact.fetched {
                self.fetch_and_apply(event, artifact, links).await?;
            }
        }
        // Transcript renditions, preferred first; formats this release cannot read last.
        let mut renditions: Vec<usize> = (0..artifacts.len())
            .filter(|&i| artifacts[i].kind == ArtifactKind::Transcript)
            .collect();
        renditions.sort_by_key(|&i| {
            TranscriptFormat::from_format(&artifacts[i].format)
                .and_then(|f| PREFERENCE.iter().position(|p| *p == f))
                .unwrap_or(PREFERENCE.len())
        });
        let mut used: Option<String> = None;
        for i in renditions {
            let artifact = &mut artifacts[i];
            if artifact.fetched && artifact.reason.is_none() {
                used.get_or_insert_with(|| artifact.format.clone());
                continue;
            }
            if let Some(format) = &used {
                artifact.reason = Some(format!(
                    "not fetched: the {format} rendition of this transcript was used"
                ));
                continue;
            }
            if TranscriptFormat::from_format(&artifact.format).is_none() {
                artifact.reason = Some(format!("not fetched: {UNREAD_FORMAT}"));
                continue;
            }
            if self.fetch_and_apply(event, artifact, links).await? {
                used = Some(artifact.format.clone());
            }
        }
        Ok(())
    }

    /// Fetches one artifact and reads it into the event; `Ok(false)` when it could not be
    /// fetched or read, with the reason in the artifact.
    async fn fetch_and_apply(
        &self,
        event: &mut NormalizedEvent,
        artifact: &mut Artifact,
        links: &mut JobLinks,
    ) -> Result<bool, FetchError> {
        let bytes = match self.fetch(artifact, links).await? {
            Download::Fetched(bytes) => bytes,
            Download::Skipped(reason) => {
                artifact.reason = Some(reason);
                return Ok(false);
            }
        };
        artifact.fetched = true;
        artifact.bytes = Some(bytes.len() as u64);
        artifact.sha256 = Some(hex::encode(Sha256::digest(&bytes)));
        artifact.reason = None;
        if let Err(reason) = apply(event, artifact, &bytes) {
            artifact.reason = Some(reason);
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads one artifact: from S3 when its bucket is allow-listed, else through the job's
    /// access link (then `via` says so), else not at all.
    async fn fetch(
        &self,
        artifact: &mut Artifact,
        links: &mut JobLinks,
    ) -> Result<Download, FetchError> {
        let Some((bucket, key)) = artifact.bucket_key() else {
            return Ok(Download::Skipped(
                "not fetched: the location is not s3://bucket/key".into(),
            ));
        };
        if self.allowed_buckets.iter().any(|b| b == bucket) {
            return self.read_s3(bucket, key, artifact.region.as_deref()).await;
        }
        // The location names the bucket; the reason does not repeat it (nothing from a body
        // is quoted in a reason: docs/behaviour.md#signed-bytes-quoting-and-bounds).
        let not_ours = "not fetched: the bucket is not in ALLOWED_OUTPUT_BUCKETS".to_owned();
        let (Some(api), Some(job_id)) = (&self.access_links, links.job_id.clone()) else {
            return Ok(Download::Skipped(not_ours));
        };
        let download = self
            .through_access_link(api.as_ref(), &job_id, artifact, links)
            .await
            .map_err(|e| FetchError {
                location: artifact.location.clone(),
                message: format!("{}: {}", e.location, e.message),
                operator: e.operator,
            })?;
        if matches!(download, Download::Fetched(_)) {
            artifact.via = Some(VIA_ACCESS_LINK.to_owned());
        }
        Ok(download)
    }

    /// Reads an output from an allow-listed bucket. What the SDK could not even ask for (an
    /// empty key, a region that is no region) is recorded, not retried; a bucket that is
    /// missing or forbidden is the operator's to fix: retried, counted as
    /// `OutputBucketErrors` and explained once per cold start.
    async fn read_s3(
        &self,
        bucket: &str,
        key: &str,
        region: Option<&str>,
    ) -> Result<Download, FetchError> {
        if key.is_empty() {
            return Ok(Download::Skipped(
                "not fetched: the output's s3Config names no key".into(),
            ));
        }
        if region.is_some_and(|r| !is_region_name(r)) {
            return Ok(Download::Skipped(
                "not fetched: the output's s3Config.region is not an AWS region name".into(),
            ));
        }
        let read = self.source.read(bucket, key, region, self.max_bytes).await;
        if let Err(e) = &read {
            if e.operator {
                static HINTED: std::sync::Once = std::sync::Once::new();
                HINTED.call_once(|| {
                    tracing::error!(error = e.message.as_str(), "operator error: a bucket in ALLOWED_OUTPUT_BUCKETS is missing or forbidden to this function; check that it exists and that the processor's role may s3:GetObject in it (and kms:Decrypt with its key); the message is retried until then");
                });
                telemetry::count(Provider::Daily.as_str(), Metric::OutputBucketErrors);
            }
        }
        read
    }

    /// Reads one artifact through the job's access link, asking for a fresh link once
    /// when one has expired (403).
    async fn through_access_link(
        &self,
        api: &dyn AccessLinkSource,
        job_id: &str,
        artifact: &Artifact,
        links: &mut JobLinks,
    ) -> Result<Download, FetchError> {
        loop {
            let link = match links.answer(api, job_id).await? {
                AccessLinkAnswer::Refused(reason) => {
                    return Ok(Download::Skipped(format!("not fetched: {reason}")))
                }
                AccessLinkAnswer::Links(answer) => {
                    match answer.find(artifact.kind, &artifact.format) {
                        Some(link) => link.clone(),
                        None => {
                            return Ok(Download::Skipped(format!(
                                "not fetched: Daily's access-link answer has no {} link in this output's format",
                                kind_name(artifact.kind)
                            )))
                        }
                    }
                }
            };
            match api.download(&link, self.max_bytes).await? {
                LinkDownload::Fetched(bytes) => return Ok(Download::Fetched(bytes)),
                LinkDownload::Skipped(reason) => return Ok(Download::Skipped(reason)),
                LinkDownload::Expired if !links.refreshed => {
                    links.refreshed = true;
                    links.answer = None;
                }
                LinkDownload::Expired => {
                    return Ok(Download::Skipped(
                        "not fetched: the access link answered 403 (expired), and so did the fresh one asked for"
                            .into(),
                    ))
                }
            }
        }
    }
}

/// An AWS region's name (`us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`): anything else
/// cannot be asked for, and asking would fail the same way on every retry.
fn is_region_name(region: &str) -> bool {
    let mut parts = region.split('-');
    let area = parts.next().unwrap_or_default();
    let parts: Vec<&str> = parts.collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    area.len() == 2
        && lower(area)
        && !words.is_empty()
        && words.iter().all(|w| lower(w))
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Why a transcript of another format is left alone (its format is not quoted: it is the
/// body's text).
const UNREAD_FORMAT: &str =
    "its format is not one this release reads as a transcript (json, vtt, srt, txt)";

/// Where a fetched file stops being JSON, without serde's text (which may quote it).
fn not_json(err: &serde_json::Error) -> String {
    format!("not JSON (line {}, column {})", err.line(), err.column())
}

fn kind_name(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Soap => "SOAP",
        ArtifactKind::Concepts => "concepts",
        ArtifactKind::Summary => "summary",
        ArtifactKind::Transcript => "transcript",
    }
}

/// Parses one fetched object into the event; `Err` is the reason it could not be used.
fn apply(event: &mut NormalizedEvent, artifact: &Artifact, bytes: &[u8]) -> Result<(), String> {
    match artifact.kind {
        ArtifactKind::Soap => {
            let soap: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| format!("fetched, but the SOAP note is {}", not_json(&e)))?;
            event.content.note = Some(transcript::note_from_soap(&soap));
            event.content.soap = Some(soap);
        }
        ArtifactKind::Concepts => {
            let concepts = serde_json::from_slice(bytes)
                .map_err(|e| format!("fetched, but the concepts are {}", not_json(&e)))?;
            event.content.concepts = Some(concepts);
        }
        ArtifactKind::Summary => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| "fetched, but the summary is not UTF-8 text".to_owned())?;
            event.content.summary = Some(Summary {
                text: text.trim().to_owned(),
                template: None,
            });
        }
        ArtifactKind::Transcript => {
            let format = TranscriptFormat::from_format(&artifact.format)
                .ok_or_else(|| format!("fetched, but {UNREAD_FORMAT}"))?;
            let parsed = transcript::parse(format, bytes)
                .map_err(|e| format!("fetched, but could not be parsed: {e}"))?;
            event.content.transcript = Some(parsed.into());
        }
    }
    Ok(())
}
