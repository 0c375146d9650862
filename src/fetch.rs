//! Reading the S3 outputs a Daily event points to (SOAP note, concepts, summary,
//! transcription files) into the normalized event. Only buckets in
//! `ALLOWED_OUTPUT_BUCKETS` are read, in the region the event names, and no object larger
//! than `MAX_OUTPUT_BYTES`; anything not fetched says why in its artifact.
//!
//! Errors that a retry can fix (throttling, 5xx, timeouts) are returned so the SQS message
//! is retried; errors that it cannot (no such key, access denied, a file we cannot parse)
//! are recorded in the artifact's `reason` and processing goes on.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use sha2::{Digest, Sha256};

use crate::normalized::{Artifact, ArtifactKind, NormalizedEvent, Summary};
use crate::transcript::{self, TranscriptFormat};

#[derive(Debug, thiserror::Error)]
#[error("fetching {location}: {message}")]
pub struct FetchError {
    pub location: String,
    pub message: String,
}

pub struct Fetcher {
    base: aws_sdk_s3::Client,
    by_region: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    allowed_buckets: Vec<String>,
    max_bytes: u64,
}

/// Transcript renditions in order of preference: Deepgram JSON carries speakers and
/// confidences; the others are progressively poorer views of the same words.
const PREFERENCE: [TranscriptFormat; 4] = [
    TranscriptFormat::DeepgramJson,
    TranscriptFormat::WebVtt,
    TranscriptFormat::Srt,
    TranscriptFormat::Text,
];

enum Outcome {
    Fetched(Vec<u8>),
    Skipped(String),
}

impl Fetcher {
    pub fn new(base: aws_sdk_s3::Client, allowed_buckets: Vec<String>, max_bytes: u64) -> Self {
        Self {
            base,
            by_region: Mutex::new(HashMap::new()),
            allowed_buckets,
            max_bytes,
        }
    }

    /// One client per region, built on first use from the base client's configuration
    /// (credentials, endpoint, retry policy) and reused afterwards.
    fn client_for(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let Some(region) =
            region.filter(|r| Some(*r) != self.base.config().region().map(|r| r.as_ref()))
        else {
            return self.base.clone();
        };
        let mut clients = self
            .by_region
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = self
                    .base
                    .config()
                    .to_builder()
                    .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }

    /// Fetches and parses every artifact of `event`, filling in its transcript, note,
    /// summary and concepts. Idempotent: artifacts already fetched are left alone.
    pub async fn enrich(&self, event: &mut NormalizedEvent) -> Result<(), FetchError> {
        let Some(mut artifacts) = event.content.artifacts.take() else {
            return Ok(());
        };
        let chosen_transcript = PREFERENCE.iter().find_map(|preferred| {
            artifacts.iter().position(|a| {
                a.kind == ArtifactKind::Transcript
                    && TranscriptFormat::from_format(&a.format) == Some(*preferred)
            })
        });
        let result = self
            .enrich_all(event, &mut artifacts, chosen_transcript)
            .await;
        event.content.artifacts = Some(artifacts);
        result
    }

    async fn enrich_all(
        &self,
        event: &mut NormalizedEvent,
        artifacts: &mut [Artifact],
        chosen_transcript: Option<usize>,
    ) -> Result<(), FetchError> {
        let chosen_format = chosen_transcript.map(|i| artifacts[i].format.clone());
        for (index, artifact) in artifacts.iter_mut().enumerate() {
            if artifact.fetched {
                continue;
            }
            if artifact.kind == ArtifactKind::Transcript && Some(index) != chosen_transcript {
                artifact.reason = Some(match &chosen_format {
                    Some(format) => {
                        format!("not fetched: the {format} rendition of this transcript was used")
                    }
                    None => format!(
                        "not fetched: {:?} is not a transcript format this release reads",
                        artifact.format
                    ),
                });
                continue;
            }
            let bytes = match self.fetch(artifact).await? {
                Outcome::Fetched(bytes) => bytes,
                Outcome::Skipped(reason) => {
                    artifact.reason = Some(reason);
                    continue;
                }
            };
            artifact.fetched = true;
            artifact.bytes = Some(bytes.len() as u64);
            artifact.sha256 = Some(hex::encode(Sha256::digest(&bytes)));
            artifact.reason = None;
            if let Err(reason) = apply(event, artifact, &bytes) {
                artifact.reason = Some(reason);
            }
        }
        Ok(())
    }

    async fn fetch(&self, artifact: &Artifact) -> Result<Outcome, FetchError> {
        let Some((bucket, key)) = artifact.bucket_key() else {
            return Ok(Outcome::Skipped(format!(
                "not fetched: {} is not an s3:// location",
                artifact.location
            )));
        };
        if !self.allowed_buckets.iter().any(|b| b == bucket) {
            return Ok(Outcome::Skipped(format!(
                "not fetched: bucket {bucket} is not in ALLOWED_OUTPUT_BUCKETS"
            )));
        }
        let failed = |message: String| FetchError {
            location: artifact.location.clone(),
            message,
        };
        let client = self.client_for(artifact.region.as_deref());
        let output = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) => {
                let code = err
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::code)
                    .map(str::to_owned);
                return match err.into_service_error() {
                    GetObjectError::NoSuchKey(_) => {
                        Ok(Outcome::Skipped("not fetched: no such key".into()))
                    }
                    other if is_permanent(code.as_deref()) => Ok(Outcome::Skipped(format!(
                        "not fetched: {} ({})",
                        other.message().unwrap_or("S3 refused the request"),
                        code.unwrap_or_default()
                    ))),
                    other => Err(failed(
                        aws_sdk_s3::error::DisplayErrorContext(other).to_string(),
                    )),
                };
            }
        };
        let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(size) = declared.filter(|size| *size > self.max_bytes) {
            return Ok(Outcome::Skipped(format!(
                "not fetched: the object is {size} bytes, more than MAX_OUTPUT_BYTES ({})",
                self.max_bytes
            )));
        }
        // Read with the bound enforced as bytes arrive: a missing or wrong Content-Length
        // cannot make us buffer more than MAX_OUTPUT_BYTES.
        let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        let mut body = output.body;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| failed(format!("reading the object: {e}")))?
        {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Ok(Outcome::Skipped(format!(
                    "not fetched: the object is larger than MAX_OUTPUT_BYTES ({})",
                    self.max_bytes
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Outcome::Fetched(bytes))
    }
}

/// S3 error codes no retry will fix.
fn is_permanent(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "AccessDenied"
                | "NoSuchBucket"
                | "NoSuchKey"
                | "InvalidObjectState"
                | "PermanentRedirect"
                | "InvalidBucketName"
                | "AllAccessDisabled"
        )
    )
}

/// Parses one fetched object into the event; `Err` is the reason it could not be used.
fn apply(event: &mut NormalizedEvent, artifact: &Artifact, bytes: &[u8]) -> Result<(), String> {
    match artifact.kind {
        ArtifactKind::Soap => {
            let soap: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| format!("fetched, but the SOAP note is not JSON: {e}"))?;
            event.content.note = Some(transcript::note_from_soap(&soap));
            event.content.soap = Some(soap);
        }
        ArtifactKind::Concepts => {
            let concepts = serde_json::from_slice(bytes)
                .map_err(|e| format!("fetched, but the concepts are not JSON: {e}"))?;
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
            let format = TranscriptFormat::from_format(&artifact.format).ok_or_else(|| {
                format!(
                    "fetched, but {:?} is not a transcript format this release reads",
                    artifact.format
                )
            })?;
            let parsed = transcript::parse(format, bytes)
                .map_err(|e| format!("fetched, but could not be parsed: {e}"))?;
            event.content.transcript = Some(parsed);
        }
    }
    Ok(())
}
