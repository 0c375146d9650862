//! Where bytes live. Every store is a key → object space with conditional writes
//! ([`Blobs`]: S3 or a local directory), or DynamoDB for records. The archive, the S3 and
//! file record stores and DynamoDB's overflow objects are all built on [`Blobs`].

use std::fmt;

use async_trait::async_trait;
use aws_runtime::retries::classifiers;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::ProvideErrorKind;
use bytes::Bytes;

pub mod archive;
pub mod dynamodb;
pub mod file;
pub mod records;
pub mod s3;

pub use archive::{Archive, ArchivedDelivery};
pub use records::RecordStore;

/// What a retry can do about a failure (docs/behaviour.md#failure-classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A retry may fix it: network errors, timeouts, throttling, 5xx, a lost race.
    Transient,
    /// No retry can: a value the store refuses for this item, a document that cannot be
    /// read. The processor quarantines instead of looping.
    Permanent,
    /// One of our own resources is missing or forbidden (AccessDenied, NoSuchBucket,
    /// ResourceNotFound): the operator must act; providers keep retrying meanwhile.
    Operator,
}

/// A failure of one of our own dependencies (S3, DynamoDB, SQS, the disk), with what a
/// retry can do about it: transient and operator faults become 503 at the ingest and a
/// failed batch item at the processor; permanent ones are quarantined by the processor.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreError {
    pub operation: String,
    pub message: String,
    pub fault: Fault,
}

impl StoreError {
    /// A transient failure.
    pub fn new(operation: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::with_fault(Fault::Transient, operation, message)
    }

    /// A failure no retry can fix.
    pub fn permanent(operation: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::with_fault(Fault::Permanent, operation, message)
    }

    pub fn with_fault(
        fault: Fault,
        operation: impl Into<String>,
        message: impl fmt::Display,
    ) -> Self {
        Self {
            operation: operation.into(),
            message: message.to_string(),
            fault,
        }
    }

    /// An AWS SDK failure, classified by the SDK's own error kinds and the service's error
    /// code, never by the message text.
    pub fn from_sdk<E>(operation: impl Into<String>, err: &SdkError<E>) -> Self
    where
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = match err.as_service_error() {
            Some(service) => format!(
                "{} ({})",
                service.message().unwrap_or("no message"),
                ProvideErrorMetadata::code(service).unwrap_or("no code")
            ),
            None => DisplayErrorContext(err).to_string(),
        };
        Self::with_fault(fault_of(err), operation, message)
    }
}

/// Service error codes that mean our own resource is missing or forbidden.
const OPERATOR_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "NoSuchBucket",
    "InvalidBucketName",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "KMS.DisabledException",
    "KMS.AccessDeniedException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
];

/// Transient, permanent or operator, for any AWS SDK error.
pub fn fault_of<E>(err: &SdkError<E>) -> Fault
where
    E: ProvideErrorKind + ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let code = ProvideErrorMetadata::code(service);
            // The SDK's own judgement: errors modelled retryable, and the codes its retry
            // classifier treats as throttling or transient.
            let sdk_retries = code.is_some_and(|c| {
                classifiers::THROTTLING_ERRORS.contains(&c)
                    || classifiers::TRANSIENT_ERRORS.contains(&c)
            });
            if service.retryable_error_kind().is_some() || sdk_retries {
                return Fault::Transient;
            }
            if code.is_some_and(|c| OPERATOR_CODES.contains(&c)) {
                return Fault::Operator;
            }
            match context.raw().status().as_u16() {
                401 | 403 => Fault::Operator,
                408 | 429 | 500..=599 => Fault::Transient,
                400..=499 => Fault::Permanent,
                _ => Fault::Transient,
            }
        }
        // The request could not even be built from what we gave it.
        SdkError::ConstructionFailure(_) => Fault::Permanent,
        // Timeouts, connection failures and unreadable answers: try again.
        _ => Fault::Transient,
    }
}

/// Opaque object version for compare-and-swap (an S3 ETag, a content hash on disk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Overwrite whatever is there.
    Always,
    /// Create only; never overwrite (S3 `If-None-Match: *`).
    IfAbsent,
    /// Replace only the version that was read (S3 `If-Match`).
    IfMatch(Version),
}

/// Outcome of a conditional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Put {
    Written,
    /// The condition did not hold: the object exists (IfAbsent) or changed (IfMatch).
    ConditionFailed,
}

/// What [`Blobs::erase`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erase<'a> {
    /// Exactly this key, every version.
    Key(&'a str),
    /// Every key under this prefix, every version.
    Prefix(&'a str),
    /// Under this prefix, only the versions later writes superseded (the current objects
    /// stay).
    Superseded(&'a str),
}

impl Erase<'_> {
    fn prefix(&self) -> &str {
        match self {
            Erase::Key(p) | Erase::Prefix(p) | Erase::Superseded(p) => p,
        }
    }
}

#[async_trait]
pub trait Blobs: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError>;
    async fn put(&self, key: &str, bytes: Bytes, condition: Condition) -> Result<Put, StoreError>;
    /// Removes the object; a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys under `prefix`, in lexicographic order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Erases objects for good (docs/behaviour.md#deletion-and-retention): in a versioned bucket every version and
    /// delete marker, not only the current object (see [`Erase`]). Returns the keys of
    /// which something was removed; a missing key is not an error.
    async fn erase(&self, what: Erase<'_>) -> Result<Vec<String>, StoreError> {
        let keys = match what {
            // Without versions nothing is ever superseded.
            Erase::Superseded(_) => return Ok(Vec::new()),
            Erase::Key(key) => self
                .list(key)
                .await?
                .into_iter()
                .filter(|k| k == key)
                .collect(),
            Erase::Prefix(prefix) => self.list(prefix).await?,
        };
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys)
    }
    /// A URI for the object, for records and logs (`s3://bucket/key`, `file:///dir/key`).
    fn location(&self, key: &str) -> String;
}

/// Where objects live: `s3://bucket[/prefix]` or `file:///dir` (also a relative
/// `file://./dir`). The archive is always one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobLocation {
    S3 { bucket: String, prefix: String },
    File { dir: std::path::PathBuf },
}

/// A record store from `STORE`: a blob location or `dynamodb://table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Blobs(BlobLocation),
    DynamoDb { table: String },
}

impl Location {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let uri = uri.trim();
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{uri:?}: no bucket after s3://"));
            }
            return Ok(Location::Blobs(BlobLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            }));
        }
        if let Some(path) = uri.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("{uri:?}: no directory after file://"));
            }
            return Ok(Location::Blobs(BlobLocation::File { dir: path.into() }));
        }
        if let Some(table) = uri.strip_prefix("dynamodb://") {
            if table.is_empty() || table.contains('/') {
                return Err(format!("{uri:?}: expected dynamodb://<table>"));
            }
            return Ok(Location::DynamoDb {
                table: table.to_owned(),
            });
        }
        Err(format!(
            "{uri:?}: expected s3://bucket[/prefix], file:///dir or dynamodb://table"
        ))
    }
}

impl BlobLocation {
    pub fn parse(uri: &str) -> Result<Self, String> {
        match Location::parse(uri)? {
            Location::Blobs(location) => Ok(location),
            Location::DynamoDb { .. } => Err(format!(
                "{uri:?}: expected s3://bucket[/prefix] or file:///dir here, not DynamoDB"
            )),
        }
    }
}

impl fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            BlobLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            BlobLocation::File { dir } => write!(f, "file://{}", dir.display()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Blobs(location) => location.fmt(f),
            Location::DynamoDb { table } => write!(f, "dynamodb://{table}"),
        }
    }
}

/// The longest key segment kept whole; S3 keys (1024 B), DynamoDB sort keys (1024 B) and
/// file names (255 B) all have room for a few of these plus the fixed parts.
const MAX_SEGMENT_BYTES: usize = 200;
/// How much of an over-long encoded id stays readable in front of its digest.
const SEGMENT_PREFIX_BYTES: usize = 64;

/// An id as one path segment (docs/behaviour.md#storage-layout): percent-encoded outside `[A-Za-z0-9._-]`, and
/// never `.` or `..`, so no id can climb out of its directory or prefix. An encoded id over
/// 200 bytes becomes `<its first 64 bytes>.sha256-<hex of the raw id>` (docs/behaviour.md#ids-in-keys), so any
/// verified id is storable; the full id stays inside the stored documents.
pub fn key_segment(id: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'_')
        .remove(b'-');
    let encoded = if !id.is_empty() && id.bytes().all(|b| b == b'.') {
        "%2E".repeat(id.len())
    } else {
        percent_encoding::utf8_percent_encode(id, KEEP).to_string()
    };
    if encoded.len() <= MAX_SEGMENT_BYTES {
        return encoded;
    }
    // The encoding is ASCII; step back so no `%XX` triplet is cut in half.
    let bytes = encoded.as_bytes();
    let mut cut = SEGMENT_PREFIX_BYTES;
    if let Some(back) = (1..=2).find(|back| bytes[cut - back] == b'%') {
        cut -= back;
    }
    format!(
        "{}.sha256-{}",
        &encoded[..cut],
        crate::signature::sha256_hex(id.as_bytes())
    )
}

/// Whether `segment` may be a shortened over-long id, whose full id must be read from the
/// object rather than decoded from the name. (An id that itself ends in `.sha256-<hex>`
/// matches too; reading its object is merely redundant.)
pub fn is_shortened_segment(segment: &str) -> bool {
    segment
        .rsplit_once(".sha256-")
        .is_some_and(|(_, hex)| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Reverses [`key_segment`] for segments that were not shortened.
pub fn decode_key_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// `prefix/key`, or `key` when there is no prefix.
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_single_segments() {
        assert_eq!(key_segment("evt_abc-1.2"), "evt_abc-1.2");
        assert_eq!(key_segment("a/b"), "a%2Fb");
        assert_eq!(key_segment("../x"), "..%2Fx");
        assert_eq!(key_segment(".."), "%2E%2E");
        assert_eq!(key_segment("."), "%2E");
        assert_eq!(key_segment("ü ?"), "%C3%BC%20%3F");
        for id in ["a/b", "..", "ü ?", "rec-rtd-x-1"] {
            assert_eq!(decode_key_segment(&key_segment(id)), id);
            assert!(!is_shortened_segment(&key_segment(id)));
        }
    }

    #[test]
    fn over_long_ids_keep_a_readable_prefix_and_a_digest() {
        let long = "e".repeat(2048);
        let segment = key_segment(&long);
        assert_eq!(
            segment,
            format!(
                "{}.sha256-{}",
                "e".repeat(64),
                crate::signature::sha256_hex(long.as_bytes())
            )
        );
        assert!(is_shortened_segment(&segment));
        // 200 encoded bytes stay whole; 201 do not.
        assert_eq!(key_segment(&"a".repeat(200)), "a".repeat(200));
        assert!(is_shortened_segment(&key_segment(&"a".repeat(201))));
        // No `%XX` is cut in half, whatever the alignment.
        for pad in 0..3 {
            let id = format!("{}{}", "a".repeat(pad), "/".repeat(300));
            let segment = key_segment(&id);
            let prefix = segment.split(".sha256-").next().unwrap();
            assert!(prefix.len() <= 64 && prefix.len() >= 62, "{prefix}");
            assert_eq!(
                decode_key_segment(prefix),
                decode_key_segment(prefix).replace('%', "")
            );
            assert!(!prefix.ends_with('%') && !prefix[..prefix.len() - 1].ends_with('%'));
        }
        // Distinct long ids never share a segment; dots-only ids are bounded too.
        assert_ne!(key_segment(&"x".repeat(300)), key_segment(&"x".repeat(301)));
        assert!(key_segment(&".".repeat(500)).len() <= 200);
        assert!(key_segment(&".".repeat(500)).starts_with("%2E"));
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            BlobLocation::parse("s3://b/p/q/").unwrap(),
            BlobLocation::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert_eq!(
            BlobLocation::parse("s3://b").unwrap(),
            BlobLocation::S3 {
                bucket: "b".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::Blobs(BlobLocation::File {
                dir: "/tmp/x".into()
            })
        );
        assert_eq!(
            Location::parse("dynamodb://t").unwrap(),
            Location::DynamoDb { table: "t".into() }
        );
        assert!(BlobLocation::parse("dynamodb://t").is_err());
        for bad in [
            "",
            "s3://",
            "file://",
            "dynamodb://",
            "http://x",
            "dynamodb://a/b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Location::parse("s3://b/p").unwrap().to_string(), "s3://b/p");
    }
}
